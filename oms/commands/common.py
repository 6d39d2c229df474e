"""What the operator commands share: their common options and how a command runs against
the API (`OMS_API_URL`, key in `OMS_API_KEY`). Exit codes: 0 done, 1 the API refused (its
`detail` on stderr), 2 the API could not be reached, 3 `watch`/`--wait` ran out of time.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import SimpleNamespace
from typing import Annotated, Any

import typer

from oms.client import ApiError, OmsClient, Unreachable, describe
from oms.config.settings import Settings

ORDERS_PANEL = "Orders (through the API)"

# The options the operator commands share.
Json = Annotated[bool, typer.Option("--json", help="print the API's raw JSON")]
OrderId = Annotated[str, typer.Argument(metavar="ID", help="the order, e.g. ord_0123456789abcdef")]
Timeout = Annotated[
    float | None,
    typer.Option(metavar="SECONDS", help="give up after this long (exit 3)"),
]
Interval = Annotated[
    float, typer.Option(metavar="SECONDS", help="poll every (default 1)", show_default=False)
]

Handler = Callable[[OmsClient, Any], int]


def run(args: Any) -> int:
    """`args.handler(client, args)` with a client for the API; its exit code, or the one
    for what went wrong."""
    settings = Settings()  # read afresh: the URL and key may differ between calls
    key = settings.api_key.get_secret_value() if settings.api_key else None
    client = OmsClient(settings.resolved_api_url, key)
    try:
        return args.handler(client, args)
    except ApiError as error:
        print(f"oms: {error.status} {describe(error.detail)}", file=sys.stderr)
        return 1
    except Unreachable as error:
        print(f"oms: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130
    finally:
        client.close()


def call(handler: Handler, **options: Any) -> None:
    """Run `handler` with the command's options; a non-zero code ends the command with it."""
    code = run(SimpleNamespace(handler=handler, **options))
    if code:
        raise typer.Exit(code)
