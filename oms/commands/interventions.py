"""`oms cancel|hold|release|backtrack|skip|review ID`: the intervention routes."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import typer

from oms.client import OmsClient
from oms.commands import views
from oms.commands.common import ORDERS_PANEL, Interval, Json, OrderId, Timeout, call
from oms.commands.output import answer
from oms.commands.watch import watch


def line_quantity(text: str) -> dict[str, Any]:
    """`ln_1=2` → `{"line_id": "ln_1", "quantity": 2}`."""
    line_id, sep, quantity = text.partition("=")
    if not sep or not line_id or not quantity.isdigit() or int(quantity) < 1:
        raise typer.BadParameter(f"expected LINE_ID=QUANTITY, e.g. ln_1=2, not {text!r}")
    return {"line_id": line_id, "quantity": int(quantity)}


def body_of(kind: str, args: Any) -> dict[str, Any]:
    if kind == "cancel":
        body = {"reason": args.reason, "lines": args.lines}
    elif kind in ("hold", "release"):
        body = {"reason": args.reason}
    elif kind == "backtrack":
        body = {"to_step": args.to, "reason": args.reason, "dry_run": args.dry_run or None}
    elif kind == "skip":
        body = {"step": args.step, "reason": args.reason}
    else:
        body = {"decision": args.decision, "reason": args.reason}
    body["note"] = args.note
    return {key: value for key, value in body.items() if value is not None}


def intervene(client: OmsClient, args: Any) -> int:
    found = client.intervene(args.order_id, args.kind, body_of(args.kind, args))
    if "undo_steps" in found:  # a backtrack's dry run answers with its plan
        answer(found, views.plan, as_json=args.json)
        return 0
    answer(found, lambda view: views.summary_text(view, f"{args.kind}: "), as_json=args.json)
    if getattr(args, "wait", False):
        return watch(
            client, args.order_id, timeout=args.timeout, interval=args.interval, as_json=args.json
        )
    return 0


Note = Annotated[str | None, typer.Option(help="free text journaled with the intervention")]
Wait = Annotated[
    bool, typer.Option("--wait", help="then follow the order until it is at rest (as `watch`)")
]
Reason = Annotated[str, typer.Option(metavar="TEXT")]
Lines = Annotated[
    list[Any] | None,
    typer.Option(
        "--line",
        parser=line_quantity,
        metavar="LINE_ID=QTY",
        help="cancel only these units (repeatable); default: the whole order",
    ),
]
Decision = Literal["approve", "retry", "skip", "cancel"]


def cancel(
    order_id: OrderId,
    reason: Annotated[str, typer.Option(help="CUSTOMER, FRAUD, INVENTORY, STAFF, ...")],
    lines: Lines = None,
    note: Note = None,
    json: Json = False,
    wait: Wait = False,
    timeout: Timeout = None,
    interval: Interval = 1.0,
) -> None:
    """cancel the order, or some units of some lines"""
    call(intervene, kind="cancel", **locals())  # the options, by name, as `body_of` reads them


# A held order is at rest until it is released, so a --wait on hold would return at once.
def hold(
    order_id: OrderId,
    reason: Annotated[str, typer.Option(help="HIGH_RISK_OF_FRAUD, OTHER, ...")],
    note: Note = None,
    json: Json = False,
) -> None:
    """hold the order: its flow stops at its next wait (carrier, review, release date, ...)"""
    call(intervene, kind="hold", **locals())


def release(
    order_id: OrderId,
    reason: Annotated[str | None, typer.Option(help="which hold; default: all")] = None,
    note: Note = None,
    json: Json = False,
    wait: Wait = False,
    timeout: Timeout = None,
    interval: Interval = 1.0,
) -> None:
    """release one hold (by reason), or all of them"""
    call(intervene, kind="release", **locals())


def backtrack(
    order_id: OrderId,
    to: Annotated[str, typer.Option(metavar="STEP", help="the step to run again")],
    reason: Reason,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="only show the compensation plan")
    ] = False,
    note: Note = None,
    json: Json = False,
    wait: Wait = False,
    timeout: Timeout = None,
    interval: Interval = 1.0,
) -> None:
    """move back to an earlier step, undoing what follows"""
    call(intervene, kind="backtrack", **locals())


def skip(
    order_id: OrderId,
    step: Annotated[str, typer.Option(metavar="STEP")],
    reason: Reason,
    note: Note = None,
    json: Json = False,
    wait: Wait = False,
    timeout: Timeout = None,
    interval: Interval = 1.0,
) -> None:
    """move past a skippable step"""
    call(intervene, kind="skip", **locals())


def review(
    order_id: OrderId,
    decision: Annotated[
        Decision, typer.Option(metavar="DECISION", help="approve, retry, skip or cancel")
    ],
    reason: Annotated[
        str | None, typer.Option(help="the cancel reason, with --decision cancel")
    ] = None,
    note: Note = None,
    json: Json = False,
    wait: Wait = False,
    timeout: Timeout = None,
    interval: Interval = 1.0,
) -> None:
    """decide an order in NEEDS_REVIEW"""
    call(intervene, kind="review", **locals())


def register(app: typer.Typer) -> None:
    for command in (cancel, hold, release, backtrack, skip, review):
        app.command(rich_help_panel=ORDERS_PANEL)(command)
