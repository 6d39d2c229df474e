"""`oms run`: the embedded stack on one machine — Temporal dev server (SQLite file, WAL),
the API, one worker and the simulated carrier — started together and stopped together
with Ctrl-C."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from adapters.carrier_simulator import with_carrier_key
from api.serve import api_command
from oms.settings import Settings
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTES

DEV_KEYS = "dev-operator-key:operator,dev-customer-key:customer:cus_demo,dev-carrier-key:carrier"
WORKER_METRICS_PORT = 9464

SA_TYPES = {
    "KEYWORD": "Keyword",
    "INT": "Int",
    "BOOL": "Bool",
    "TEXT": "Text",
    "FLOAT": "Double",
    "DATETIME": "Datetime",
    "KEYWORD_LIST": "KeywordList",
}


def temporal_binary() -> str:
    here = Path(sys.executable).parent
    found = shutil.which("temporal", path=str(here)) or shutil.which("temporal")
    if not found:
        raise SystemExit("the `temporal` CLI was not found; install the project (pip install -e .)")
    return found


WORKER_COMMAND = [sys.executable, "-m", "workers.main"]
CARRIER_COMMAND = [sys.executable, "-m", "adapters.carrier_simulator"]


def worker_names(count: int, name: str = "worker") -> list[str]:
    """`worker`, `worker-2`, ...: the processes of one kind of worker."""
    return [name if index == 0 else f"{name}-{index + 1}" for index in range(count)]


def worker_env(env: dict[str, str], index: int) -> dict[str, str]:
    """The environment of the `index`th worker process: each exports its SDK metrics on a
    port of its own, the next after the one before (`OMS_WORKER_METRICS_PORT` + index)."""
    port = env.get("OMS_WORKER_METRICS_PORT")
    if not port or index == 0:
        return env
    return env | {"OMS_WORKER_METRICS_PORT": str(int(port) + index)}


def dev_server_command(settings: Settings) -> list[str]:
    data_dir = settings.data_dir.resolve()
    command = [
        temporal_binary(),
        "server",
        "start-dev",
        "--ip",
        "127.0.0.1",
        "--port",
        str(settings.temporal_port),
        "--ui-port",
        str(settings.ui_port),
        "--db-filename",
        str(data_dir / "temporal.db"),
        # WAL makes the file store about twice as fast as SQLite's default journal here.
        "--sqlite-pragma",
        "journal_mode=wal",
        "--sqlite-pragma",
        "synchronous=normal",
        "--log-level",
        "error",
    ]
    for key in SEARCH_ATTRIBUTES:
        command += ["--search-attribute", f"{key.name}={SA_TYPES[key.indexed_value_type.name]}"]
    if settings.payload_key is not None:
        # Payloads are encrypted: the Web UI asks the API's codec endpoint to decrypt them.
        command += ["--ui-codec-endpoint", codec_endpoint(settings)]
    return command


def codec_endpoint(settings: Settings) -> str:
    return f"{settings.resolved_api_url}/codec"


def codec_banner(settings: Settings, require_key: bool) -> str:
    if settings.payload_key is None:
        return ""
    how = (
        "operator key required: the Web UI cannot decrypt (OMS_CODEC_REQUIRE_KEY)"
        if require_key
        else "the Web UI decrypts payloads"
    )
    return f"\n  Codec      {codec_endpoint(settings)}   ({how})"


async def connect_when_healthy(address: str, namespace: str, timeout: float = 30) -> Any:
    """Connect once the server answers: its port opens a moment before its frontend is
    healthy ("Frontend is not healthy yet")."""
    from temporalio.client import Client

    deadline = time.monotonic() + timeout
    while True:
        try:
            return await Client.connect(address, namespace=namespace)
        except RuntimeError as error:
            if "not healthy" not in str(error) or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def ensure_search_attributes(address: str, namespace: str) -> list[str]:
    """Register the search attributes a data directory from an older release lacks:
    `start-dev --search-attribute` only registers them in a fresh database."""
    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.api.operatorservice.v1 import (
        AddSearchAttributesRequest,
        ListSearchAttributesRequest,
    )

    client = await connect_when_healthy(address, namespace)
    have = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    missing = {
        key.name: IndexedValueType.Value(f"INDEXED_VALUE_TYPE_{key.indexed_value_type.name}")
        for key in SEARCH_ATTRIBUTES
        if key.name not in have.custom_attributes
    }
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )
    return sorted(missing)


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def wait_for_port(
    host: str, port: int, process: subprocess.Popen, what: str, timeout: float
) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{what} exited with code {process.returncode} while starting")
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex((host, port)) == 0:
                return
        time.sleep(0.2)
    raise SystemExit(f"{what} did not open {host}:{port} within {timeout:.0f}s")


def wait_for_health(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the API exited with code {process.returncode} while starting")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"the API at {url} did not become healthy within {timeout:.0f}s")


def stop(processes: list[tuple[str, subprocess.Popen]]) -> None:
    """Newest first: the worker and the API finish their work before the server goes."""
    for _, process in reversed(processes):
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run(settings: Settings) -> int:
    env = dict(os.environ)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    env["OMS_DATA_DIR"] = str(settings.data_dir.resolve())
    if not settings.api_keys:
        env["OMS_API_KEYS"] = DEV_KEYS
    simulate_carrier = settings.carrier == "simulated"
    if simulate_carrier:
        env["OMS_API_KEYS"] = with_carrier_key(env["OMS_API_KEYS"])
    if settings.worker_metrics_port is None and port_is_free(WORKER_METRICS_PORT):
        # The worker's SDK metrics (Prometheus) on the conventional port when it is free.
        env["OMS_WORKER_METRICS_PORT"] = str(WORKER_METRICS_PORT)
    codec_require_key = settings.codec_require_key
    if (
        settings.payload_key is not None
        and "OMS_CODEC_REQUIRE_KEY" not in os.environ
        and settings.api_host in ("127.0.0.1", "localhost", "::1")
    ):
        # The Web UI cannot send an API key to the codec endpoint (see api/codec.py), so this
        # local stack lets it decrypt without one; OMS_CODEC_REQUIRE_KEY=true requires it.
        env["OMS_CODEC_REQUIRE_KEY"] = "false"
        codec_require_key = False
    processes: list[tuple[str, subprocess.Popen]] = []
    interrupted = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal interrupted
        interrupted = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        if settings.temporal_address is None:
            server = subprocess.Popen(dev_server_command(settings), env=env, start_new_session=True)
            processes.append(("temporal", server))
            wait_for_port(
                "127.0.0.1", settings.temporal_port, server, "the Temporal dev server", 60
            )
            added = asyncio.run(
                ensure_search_attributes(
                    settings.resolved_temporal_address, settings.temporal_namespace
                )
            )
            if added:
                print(f"registered search attributes: {', '.join(added)}", flush=True)
        api = subprocess.Popen(
            api_command(settings),
            env=env,
            start_new_session=True,
        )
        processes.append(("api", api))
        wait_for_health(settings.resolved_api_url, api)
        # Worker processes poll the same task queue, each running its orders' Python on
        # a core of its own (OMS_WORKER_PROCESSES, default 1).
        for index, name in enumerate(worker_names(settings.worker_processes)):
            worker = subprocess.Popen(
                WORKER_COMMAND, env=worker_env(env, index), start_new_session=True
            )
            processes.append((name, worker))
        if simulate_carrier:
            # Outside the API, as a real carrier is: it posts to the API's webhook.
            carrier = subprocess.Popen(CARRIER_COMMAND, env=env, start_new_session=True)
            processes.append(("carrier", carrier))
        print_banner(
            settings,
            env["OMS_API_KEYS"],
            env.get("OMS_WORKER_METRICS_PORT"),
            codec=codec_banner(settings, codec_require_key),
        )
        while not interrupted:
            for name, process in processes:
                if process.poll() is not None:
                    print(f"\n{name} exited with code {process.returncode}; stopping", flush=True)
                    return 1
            time.sleep(0.3)
        print("\nstopping carrier, worker, API and Temporal…", flush=True)
        return 0
    finally:
        stop(processes)


def print_banner(
    settings: Settings, api_keys: str, worker_metrics_port: str | None = None, codec: str = ""
) -> None:
    ui = (
        f"http://127.0.0.1:{settings.ui_port}"
        if settings.temporal_address is None
        else "(the Web UI of your Temporal server)"
    )
    workers, queue = settings.worker_processes, settings.task_queue
    worker_metrics = (
        f"   worker: http://{settings.worker_metrics_host}:{worker_metrics_port}/metrics"
        + (f" (and the {workers - 1} next ports)" if workers > 1 else "")
        if worker_metrics_port
        else ""
    )
    delay = settings.carrier_delay_s
    carrier = (
        f"\n  Carrier    simulated: each event {delay:g} s after the last (OMS_CARRIER_DELAY_S)"
        if settings.carrier == "simulated"
        else ""
    )
    print(
        f"""
Temporal OMS is up.
  API docs   {settings.resolved_api_url}/docs
  Web UI     {ui}   (filter: OrderStatus="DELIVERED")
  Temporal   {settings.resolved_temporal_address}
  Workers    {workers} process{"es" if workers > 1 else ""} on task queue {queue}{carrier}
  Data       {settings.data_dir.resolve()}
  API keys   {api_keys}{"   (development keys; set OMS_API_KEYS)" if not settings.api_keys else ""}
  Metrics    {settings.resolved_api_url}/metrics{worker_metrics}{codec}
Ctrl-C stops everything.""",
        flush=True,
    )
