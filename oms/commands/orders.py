"""`oms orders show|events|list|watch` and `oms returns`: reading orders."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from rich.text import Text

from oms.client import OmsClient
from oms.commands import views
from oms.commands.common import ORDERS_PANEL, Interval, Json, OrderId, Timeout, call
from oms.commands.output import answer, emit, emit_json
from oms.commands.watch import watch


def show(client: OmsClient, args: Any) -> int:
    """The live view, from the order's workflow; the stored one, labelled, when the
    workflow does not answer. With `--diagram`, the order's flow as Mermaid text."""
    if args.diagram:
        drawn = client.order_diagram(args.order_id)
        if args.json:
            emit_json(drawn)
        else:
            print(drawn["mermaid"], end="", flush=True)
        return 0
    read = client.live_order(args.order_id)
    if args.json:
        emit_json(read.view)
        if read.source == "stored":
            print(f"oms: showing the {views.source(read)}", file=sys.stderr)
    else:
        emit(views.order(read.view, views.source(read)))
    return 0


def events(client: OmsClient, args: Any) -> int:
    answer(client.events(args.order_id), lambda a: views.events(a["data"]), as_json=args.json)
    return 0


def listing(client: OmsClient, args: Any) -> int:
    found: Any = client.orders(
        status=args.status,
        customer_id=args.customer,
        order_type=args.type,
        needs_review=args.needs_review,
        created_at_min=args.since,
        created_at_max=args.until,
        limit=args.limit,
        cursor=args.cursor,
    )
    if args.json:
        emit_json(found)
        return 0
    emit(views.orders(found["data"]))
    if found.get("next_cursor"):
        emit(Text(f"\nmore: --cursor {found['next_cursor']}"))
    return 0


def returns(client: OmsClient, args: Any) -> int:
    answer(client.returns(args.order_id), lambda a: views.returns(a["data"]), as_json=args.json)
    return 0


def follow(client: OmsClient, args: Any) -> int:
    return watch(
        client, args.order_id, timeout=args.timeout, interval=args.interval, as_json=args.json
    )


Diagram = Annotated[
    bool,
    typer.Option(
        "--diagram",
        help="the flow the order started with, as Mermaid text, each step marked where it stands",
    ),
]
WATCH_HELP = (
    "follow an order until it is at rest: ended, or waiting on a person or the calendar "
    "(DELIVERED in its return window, ON_HOLD, NEEDS_REVIEW, a pickup, a release date)"
)
orders_app = typer.Typer(help="look at orders through the API", no_args_is_help=True)


@orders_app.command(
    "show", help="one order's live view (the stored one, labelled, if its workflow does not answer)"
)
def show_command(order_id: OrderId, json: Json = False, diagram: Diagram = False) -> None:
    call(show, order_id=order_id, json=json, diagram=diagram)


@orders_app.command("events", help="an order's journal")
def events_command(order_id: OrderId, json: Json = False) -> None:
    call(events, order_id=order_id, json=json)


@orders_app.command("list", help="orders, filtered (GET /orders)")
def list_command(
    json: Json = False,
    status: Annotated[
        list[str] | None,
        typer.Option(metavar="STATUS", help="e.g. NEEDS_REVIEW (repeatable)"),
    ] = None,
    customer: Annotated[str | None, typer.Option(metavar="CUSTOMER_ID")] = None,
    type: Annotated[str | None, typer.Option(metavar="ORDER_TYPE")] = None,
    needs_review: Annotated[
        bool | None,
        typer.Option(
            "--needs-review/--no-needs-review",
            help="only orders waiting for a decision (--no-needs-review: only the others)",
        ),
    ] = None,
    since: Annotated[
        str | None, typer.Option(metavar="TIME", help="placed at or after, e.g. 2026-11-24T09:00Z")
    ] = None,
    until: Annotated[str | None, typer.Option(metavar="TIME", help="placed before")] = None,
    limit: Annotated[int | None, typer.Option(metavar="N")] = None,
    cursor: Annotated[
        str | None, typer.Option(metavar="CURSOR", help="the next page, as the previous one said")
    ] = None,
) -> None:
    call(
        listing,
        json=json,
        status=status or None,
        customer=customer,
        type=type,
        needs_review=needs_review,
        since=since,
        until=until,
        limit=limit,
        cursor=cursor,
    )


@orders_app.command("watch", help=WATCH_HELP)
def watch_command(
    order_id: OrderId, json: Json = False, timeout: Timeout = None, interval: Interval = 1.0
) -> None:
    call(follow, order_id=order_id, json=json, timeout=timeout, interval=interval)


def returns_command(order_id: OrderId, json: Json = False) -> None:
    call(returns, order_id=order_id, json=json)


def register(app: typer.Typer) -> None:
    app.add_typer(orders_app, name="orders", rich_help_panel=ORDERS_PANEL)
    app.command("returns", help="an order's returns", rich_help_panel=ORDERS_PANEL)(returns_command)
