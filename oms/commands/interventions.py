"""`oms cancel|hold|release|backtrack|skip|review ID`: the intervention routes."""

from __future__ import annotations

import argparse
from typing import Any

from oms.client import OmsClient
from oms.commands import render
from oms.commands.orders import add_watch_options
from oms.commands.watch import watch


def line_quantity(text: str) -> dict[str, Any]:
    """`ln_1=2` → `{"line_id": "ln_1", "quantity": 2}`."""
    line_id, sep, quantity = text.partition("=")
    if not sep or not line_id or not quantity.isdigit() or int(quantity) < 1:
        raise argparse.ArgumentTypeError(f"expected LINE_ID=QUANTITY, e.g. ln_1=2, not {text!r}")
    return {"line_id": line_id, "quantity": int(quantity)}


def body_of(kind: str, args: argparse.Namespace) -> dict[str, Any]:
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


def intervene(client: OmsClient, args: argparse.Namespace) -> int:
    answer = client.intervene(args.order_id, args.kind, body_of(args.kind, args))
    if "undo_steps" in answer:  # a backtrack's dry run answers with its plan
        render.answer(answer, render.plan, as_json=args.json)
        return 0
    render.answer(answer, lambda view: f"{args.kind}: {render.summary(view)}", as_json=args.json)
    if getattr(args, "wait", False):
        return watch(
            client, args.order_id, timeout=args.timeout, interval=args.interval, as_json=args.json
        )
    return 0


def register(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    waiting = argparse.ArgumentParser(add_help=False)
    waiting.add_argument(
        "--wait", action="store_true", help="then follow the order until it is at rest (as `watch`)"
    )
    add_watch_options(waiting)

    def add(kind: str, help: str, *, wait: bool = True) -> argparse.ArgumentParser:
        parents = [common, waiting] if wait else [common]
        parser = commands.add_parser(kind, parents=parents, help=help, description=help)
        parser.add_argument("order_id", metavar="ID")
        parser.add_argument("--note", help="free text journaled with the intervention")
        parser.set_defaults(handler=intervene, kind=kind)
        return parser

    parser = add("cancel", "cancel the order, or some units of some lines")
    parser.add_argument("--reason", required=True, help="CUSTOMER, FRAUD, INVENTORY, STAFF, ...")
    parser.add_argument(
        "--line",
        dest="lines",
        action="append",
        type=line_quantity,
        metavar="LINE_ID=QTY",
        help="cancel only these units (repeatable); default: the whole order",
    )
    # A held order is at rest until it is released, so a --wait on hold would return at once.
    parser = add("hold", "stop the order at its next step boundary", wait=False)
    parser.add_argument("--reason", required=True, help="HIGH_RISK_OF_FRAUD, OTHER, ...")
    parser = add("release", "release one hold (by reason), or all of them")
    parser.add_argument("--reason", help="which hold; default: all")
    parser = add("backtrack", "move back to an earlier step, undoing what follows")
    parser.add_argument("--to", required=True, metavar="STEP", help="the step to run again")
    parser.add_argument("--reason", required=True, metavar="TEXT")
    parser.add_argument("--dry-run", action="store_true", help="only show the compensation plan")
    parser = add("skip", "move past a skippable step")
    parser.add_argument("--step", required=True)
    parser.add_argument("--reason", required=True, metavar="TEXT")
    parser = add("review", "decide an order in NEEDS_REVIEW")
    parser.add_argument("--decision", required=True, choices=["approve", "retry", "skip", "cancel"])
    parser.add_argument("--reason", help="the cancel reason, with --decision cancel")
