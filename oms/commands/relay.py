"""`oms relay`: the journal's relay as a process (oms/relay.py). SIGTERM or Ctrl-C finish
the batch under way and exit 0; exit 2 when `OMS_NATS_URL` names no broker."""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import Annotated

import typer

from oms.config.settings import Settings

RELAY_HELP = (
    "Publishes the journal to the broker (OMS_NATS_URL) from the store's outbox "
    "(OMS_DATABASE_URL): each event once, each order's in order. Several may run: one "
    "publishes, the others stand by and take over when its lease (OMS_RELAY_LEASE_S) lapses."
)


def relay(
    metrics_port: Annotated[
        int | None,
        typer.Option(
            metavar="PORT",
            min=1,
            max=65535,
            help="serve Prometheus metrics here (default: OMS_RELAY_METRICS_PORT, else none)",
        ),
    ] = None,
    batch: Annotated[
        int, typer.Option(metavar="N", min=1, max=5000, help="records taken at a time")
    ] = 500,
) -> None:
    from oms.config.logs import configure_logging

    settings = Settings()
    if not settings.nats_url:
        print("oms relay: OMS_NATS_URL names no broker", file=sys.stderr)
        raise typer.Exit(2)
    configure_logging(settings.log_format)
    asyncio.run(serve(settings, batch, metrics_port))


async def serve(settings: Settings, batch: int, metrics_port: int | None) -> None:
    from oms.relay import run_relay

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await run_relay(settings, stop, batch=batch, metrics_port=metrics_port)


def register(app: typer.Typer, panel: str) -> None:
    app.command(
        "relay",
        short_help="publish the journal to the broker",
        help=RELAY_HELP,
        rich_help_panel=panel,
    )(relay)
