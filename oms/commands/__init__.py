"""Operator commands that mirror the API (`oms orders show`, `oms hold`, `oms flows list`, ...).

They reach the API at `OMS_API_URL` with the key in `OMS_API_KEY`, over HTTP only. Exit
codes: 0 done, 1 the API refused (its `detail` on stderr), 2 the API could not be reached,
3 `watch`/`--wait` ran out of `--timeout`.
"""

from __future__ import annotations

import argparse
import sys

from oms.client import ApiError, OmsClient, Unreachable, describe
from oms.config.settings import Settings


def register(commands: argparse._SubParsersAction) -> None:
    from oms.commands import flows, interventions, orders

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print the API's raw JSON")
    orders.register(commands, common)
    interventions.register(commands, common)
    flows.register(commands, common)


def run(args: argparse.Namespace) -> int:
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
