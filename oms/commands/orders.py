"""`oms orders show|events|list|watch` and `oms returns`: reading orders."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from oms.client import OmsClient
from oms.commands import render
from oms.commands.watch import watch


def show(client: OmsClient, args: argparse.Namespace) -> int:
    """The live view, from the order's workflow; the stored one, labelled, when the
    workflow does not answer."""
    read = client.live_order(args.order_id)
    if args.json:
        render.emit_json(read.view)
        if read.source == "stored":
            print(f"oms: showing the {render.source(read)}", file=sys.stderr)
    else:
        render.emit(render.order(read.view, render.source(read)))
    return 0


def events(client: OmsClient, args: argparse.Namespace) -> int:
    answer = client.events(args.order_id)
    render.answer(answer, lambda a: render.events(a["data"]), as_json=args.json)
    return 0


def listing(client: OmsClient, args: argparse.Namespace) -> int:
    answer: Any = client.orders(
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
        render.emit_json(answer)
        return 0
    render.emit(render.orders(answer["data"]))
    if answer.get("next_cursor"):
        render.emit(f"\nmore: --cursor {answer['next_cursor']}")
    return 0


def returns(client: OmsClient, args: argparse.Namespace) -> int:
    answer = client.returns(args.order_id)
    render.answer(answer, lambda a: render.returns(a["data"]), as_json=args.json)
    return 0


def follow(client: OmsClient, args: argparse.Namespace) -> int:
    return watch(
        client, args.order_id, timeout=args.timeout, interval=args.interval, as_json=args.json
    )


def add_watch_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout", type=float, metavar="SECONDS", help="give up after this long (exit 3)"
    )
    parser.add_argument(
        "--interval", type=float, default=1.0, metavar="SECONDS", help="poll every (default 1)"
    )


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    orders = commands.add_parser("orders", help="look at orders through the API")
    sub = orders.add_subparsers(dest="orders_command", required=True)
    parser = sub.add_parser(
        "show",
        parents=[common],
        help="one order's live view (the stored one, labelled, if its workflow does not answer)",
    )
    parser.add_argument("order_id", metavar="ID")
    parser.set_defaults(handler=show)
    parser = sub.add_parser("events", parents=[common], help="an order's journal")
    parser.add_argument("order_id", metavar="ID")
    parser.set_defaults(handler=events)
    parser = sub.add_parser("list", parents=[common], help="orders, filtered (GET /orders)")
    parser.add_argument("--status", action="append", help="e.g. NEEDS_REVIEW (repeatable)")
    parser.add_argument("--customer", metavar="CUSTOMER_ID")
    parser.add_argument("--type", metavar="ORDER_TYPE")
    parser.add_argument(
        "--needs-review",
        action=argparse.BooleanOptionalAction,
        help="only orders waiting for a decision (--no-needs-review: only the others)",
    )
    parser.add_argument(
        "--since", metavar="TIME", help="placed at or after, e.g. 2026-11-24T09:00Z"
    )
    parser.add_argument("--until", metavar="TIME", help="placed before")
    parser.add_argument("--limit", type=int, metavar="N")
    parser.add_argument("--cursor", help="the next page, as the previous one said")
    parser.set_defaults(handler=listing)
    parser = sub.add_parser(
        "watch",
        parents=[common],
        help="follow an order until it is at rest: ended, or waiting on a person or the calendar "
        "(DELIVERED in its return window, ON_HOLD, NEEDS_REVIEW, a pickup, a release date)",
    )
    parser.add_argument("order_id", metavar="ID")
    add_watch_options(parser)
    parser.set_defaults(handler=follow)

    parser = commands.add_parser("returns", parents=[common], help="an order's returns")
    parser.add_argument("order_id", metavar="ID")
    parser.set_defaults(handler=returns)
