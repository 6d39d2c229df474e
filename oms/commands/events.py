"""`oms events tail`: follow the journal on the broker (`OMS_NATS_URL`) with an ordered
consumer of its own, one line per event (seq, order, type, time) or the event's JSON.
Exit codes: 0 done (`--count`, `--idle-exit`), 2 no broker, 130 interrupted."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from oms.config.settings import Settings

CONNECT_S = 5.0  # how long to wait for the broker before giving up (exit 2)
TICK_S = 0.5  # how often the wait for the next event looks at --idle-exit
# One token of a subject: no dots, wildcards or spaces.
TOKEN = re.compile(r"^[^.*>\s]+$")


@dataclass(frozen=True)
class Tail:
    subject: str
    from_start: bool
    as_json: bool
    count: int | None
    idle_exit: float | None


def line(event: dict[str, Any]) -> str:
    return f"{event['seq']:>5}  {event['order_id']}  {event['type']:<28}  {event['at']}"


TAIL_HELP = (
    "Follow the journal's events as the relay publishes them (new ones only unless "
    "--from-start), one line each: seq, order, type, time; or with --json the event's JSON "
    "as GET /orders/{id}/events shows it."
)


def register(events_app: typer.Typer) -> None:
    events_app.command("tail", short_help="follow the journal's events", help=TAIL_HELP)(tail)


def tail(
    order: Annotated[
        str | None, typer.Option(metavar="ID", help="only this order's events")
    ] = None,
    type_: Annotated[
        str | None,
        typer.Option("--type", metavar="TYPE", help="only events of this type, e.g. OrderPlaced"),
    ] = None,
    from_start: Annotated[
        bool, typer.Option("--from-start", help="from the oldest event the broker keeps")
    ] = False,
    json_: Annotated[bool, typer.Option("--json", help="print each event's JSON")] = False,
    count: Annotated[
        int | None, typer.Option(metavar="N", min=1, help="stop after N events")
    ] = None,
    idle_exit: Annotated[
        float | None,
        typer.Option(metavar="SECONDS", min=0.1, help="stop once no event came for this long"),
    ] = None,
) -> None:
    for name, value in (("--order", order), ("--type", type_)):
        if value is not None and not TOKEN.match(value):
            raise typer.BadParameter("no dots, wildcards or spaces", param_hint=name)
    settings = Settings()
    if not settings.nats_url:
        print("oms events tail: OMS_NATS_URL names no broker", file=sys.stderr)
        raise typer.Exit(2)
    from oms.broker import order_event_subject

    wanted = Tail(
        subject=order_event_subject(order or "*", type_ or "*"),
        from_start=from_start,
        as_json=json_,
        count=count,
        idle_exit=idle_exit,
    )
    try:
        code = asyncio.run(follow(settings, wanted))
    except KeyboardInterrupt:
        print(file=sys.stderr)
        code = 130
    if code:
        raise typer.Exit(code)


async def follow(settings: Settings, wanted: Tail) -> int:
    import nats.errors
    from nats.js.api import DeliverPolicy

    from oms import broker

    assert settings.nats_url is not None
    try:
        connection = await asyncio.wait_for(
            broker.connect(
                settings.nats_url, name="oms-events-tail", error_cb=_quiet, **settings.nats_options
            ),
            CONNECT_S,
        )
    except TimeoutError:
        print(f"oms events tail: no broker answered at {settings.nats_url}", file=sys.stderr)
        return 2
    try:
        js = connection.jetstream()
        await broker.ensure_streams(js)
        subscription = await js.subscribe(
            wanted.subject,
            stream=broker.ORDERS_STREAM,
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.ALL if wanted.from_start else DeliverPolicy.NEW,
        )
        seen, idle = 0, 0.0
        while wanted.count is None or seen < wanted.count:
            try:
                message = await subscription.next_msg(timeout=TICK_S)
            except nats.errors.TimeoutError:
                idle += TICK_S
                if wanted.idle_exit is not None and idle >= wanted.idle_exit:
                    break
                continue
            idle = 0.0
            seen += 1
            text = message.data.decode()
            print(text if wanted.as_json else line(json.loads(text)), flush=True)
        return 0
    finally:
        await connection.close()


async def _quiet(_error: Exception) -> None:
    """The connection's errors: what matters is said once, as an exit code and a line."""
