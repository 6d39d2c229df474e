"""Serving the API: uvicorn with the host, port, timeouts and connection limit from the settings.

`python -m api.serve` (the compose `api` service) runs it; `oms run` passes the same options
to `uvicorn` on its command line (`uvicorn_cli_args`).
"""

from __future__ import annotations

import sys
from typing import Any

from oms.config.settings import Settings, get_settings


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for `uvicorn.run` / `uvicorn.Config`: idle keep-alive connections
    close after `OMS_API_TIMEOUT_KEEP_ALIVE_S`; past `OMS_API_LIMIT_CONCURRENCY` concurrent
    connections and tasks uvicorn answers 503 instead of queueing more."""
    return {
        "timeout_keep_alive": settings.api_timeout_keep_alive_s,
        "limit_concurrency": settings.api_limit_concurrency,
    }


def uvicorn_cli_args(settings: Settings) -> list[str]:
    """The same options as `uvicorn` command-line flags."""
    args = ["--timeout-keep-alive", str(settings.api_timeout_keep_alive_s)]
    if settings.api_limit_concurrency is not None:
        args += ["--limit-concurrency", str(settings.api_limit_concurrency)]
    return args


def api_command(settings: Settings) -> list[str]:
    """The API as a process of its own, as `oms run`, the benchmark and the fault drill start it."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "api.main:create_app",
        "--host",
        settings.api_host,
        "--port",
        str(settings.api_port),
        "--log-level",
        "warning",
        *uvicorn_cli_args(settings),
    ]


def main() -> None:
    import uvicorn

    settings = get_settings()
    uvicorn.run(
        "api.main:create_app",
        factory=True,
        host=settings.api_host,
        port=settings.api_port,
        **uvicorn_options(settings),
    )


if __name__ == "__main__":
    main()
