"""What the operator commands show of the API's answers: an order, its lines, shipments,
journal and returns, a page of orders, a backtrack's plan, and one-line summaries."""

from __future__ import annotations

from typing import Any

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from oms.client import OrderRead
from oms.commands.output import fields, stack, status, table

BUCKETS = ("pending", "reserved", "shipped", "delivered", "cancelled", "returned", "refunded")


def money(minor: int | None, currency: str = "") -> str:
    if minor is None:
        return ""
    text = f"{minor / 100:,.2f}"
    return f"{text} {currency}".rstrip()


def line_state(buckets: dict[str, int]) -> str:
    return ", ".join(f"{buckets[b]} {b}" for b in BUCKETS if buckets.get(b)) or "-"


def units(lines: list[dict[str, Any]]) -> str:
    return ", ".join(f"{line['line_id']}×{line['quantity']}" for line in lines)


def summary(view: dict[str, Any]) -> str:
    """One line: `ord_… FULFILLING · fulfill_shipments · held: OTHER`."""
    parts = [view.get("status", "?")]
    if view.get("current_step"):
        parts.append(str(view["current_step"]))
    if view.get("holds"):
        parts.append("held: " + ", ".join(hold["reason"] for hold in view["holds"]))
    if view.get("review"):
        parts.append(f"review: {view['review'].get('kind')} at {view['review'].get('step')}")
    if view.get("cancel_reason"):
        parts.append(f"cancelled: {view['cancel_reason']}")
    if view.get("failure"):
        parts.append(f"failure: {view['failure']}")
    return f"{view.get('order_id', '?')}  " + " · ".join(parts)


def summary_text(view: dict[str, Any], prefix: str = "") -> Text:
    """`summary(view)` after `prefix`, its status coloured (on a terminal)."""
    text = Text(prefix + summary(view))
    found = str(view.get("status", "?"))
    start = len(prefix) + len(f"{view.get('order_id', '?')}  ")
    text.stylize(status(found).style, start, start + len(found))
    return text


def source(read: OrderRead) -> str:
    """Where a shown view came from."""
    if read.source == "live":
        return "live (the order's workflow)"
    seq = f", as of journal event {read.seq}" if read.seq else ""
    return f"stored (the read model{seq}); the workflow did not answer: {read.why}"


def payment(totals: dict[str, Any]) -> str:
    parts = [
        f"authorized {money(totals.get('authorized_minor'))}",
        f"captured {money(totals.get('captured_minor'))}",
    ]
    if totals.get("voided_minor"):  # given back: no longer held
        parts.append(f"voided {money(totals['voided_minor'])}")
    parts.append(f"refunded {money(totals.get('refunded_minor'))}")
    return ", ".join(parts)


def holds(view: dict[str, Any]) -> str:
    return "; ".join(
        f"{h['reason']} by {h.get('actor')}" + (f" ({h['note']})" if h.get("note") else "")
        for h in view.get("holds") or []
    )


def review(view: dict[str, Any]) -> str | None:
    found = view.get("review")
    if not found:
        return None
    escalated = " (escalated)" if found.get("escalated") else ""
    return f"{found.get('kind')} at {found.get('step')}: {found.get('reason')}{escalated}"


def order(view: dict[str, Any], shown_from: str | None = None) -> RenderableType:
    totals = view.get("totals") or {}
    currency = totals.get("currency", "")
    flow = view.get("flow") or {}
    cancelled = view.get("cancel_reason")
    if cancelled and view.get("cancel_note"):
        cancelled = f"{cancelled}: {view['cancel_note']}"
    head = fields(
        [
            ("order", view.get("order_id")),
            ("view", shown_from),
            ("customer", view.get("customer_id")),
            ("type", f"{flow.get('type', view.get('order_type'))} v{flow.get('version', '?')}"),
            ("status", status(view.get("status"))),
            ("financial", view.get("financial_status")),
            ("fulfillment", view.get("fulfillment_status")),
            ("step", view.get("current_step")),
            ("total", money(totals.get("total_minor"), currency)),
            ("payment", payment(totals)),
            ("holds", holds(view)),
            ("review", review(view)),
            ("cancelled", cancelled),
            ("failure", view.get("failure")),
            ("placed", view.get("placed_at")),
            ("updated", view.get("updated_at")),
        ]
    )
    lines = table(
        ["LINE", "SKU", "NAME", "QTY", "PRICE", "STATE"],
        [
            (
                line["line_id"],
                line["sku"],
                line.get("name"),
                line["quantity"],
                money(line.get("unit_price_minor")),
                line_state(line.get("buckets") or {}),
            )
            for line in view.get("lines") or []
        ],
    )
    if view.get("shipments"):
        return stack(head, lines, shipments(view["shipments"]))
    return stack(head, lines)


def shipments(found: list[dict[str, Any]]) -> Table:
    return table(
        ["SHIPMENT", "WAREHOUSE", "STATUS", "TRACKING", "LINES"],
        [
            (
                s["shipment_id"],
                s.get("warehouse"),
                status(s.get("status")),
                s.get("tracking_number") or "-",
                units(s.get("lines", [])),
            )
            for s in found
        ],
    )


def events(found: list[dict[str, Any]]) -> Table:
    return table(
        ["SEQ", "AT", "TYPE", "ACTOR", "REASON"],
        [(e["seq"], e.get("at"), e["type"], e.get("actor"), e.get("reason") or "") for e in found],
    )


def orders(found: list[dict[str, Any]]) -> Table:
    def total(row: dict[str, Any]) -> str:
        totals = row.get("totals") or {}
        if "total_minor" in row:
            return money(row["total_minor"], row.get("currency", ""))
        return money(totals.get("total_minor"), totals.get("currency", ""))

    return table(
        ["ORDER", "STATUS", "TYPE", "CUSTOMER", "TOTAL", "PLACED"],
        [
            (
                row.get("order_id"),
                status(row.get("status")),
                row.get("order_type"),
                row.get("customer_id"),
                total(row),
                row.get("placed_at"),
            )
            for row in found
        ],
    )


def returns(found: list[dict[str, Any]]) -> Table:
    return table(
        ["RETURN", "STATUS", "LINES", "REFUNDED", "TRACKING", "REQUESTED"],
        [
            (
                r["return_id"],
                status(r.get("status")),
                units(r.get("lines", [])),
                money(r.get("refunded_minor")),
                r.get("tracking_number") or "-",
                r.get("requested_at"),
            )
            for r in found
        ],
    )


def plan(answer: dict[str, Any]) -> RenderableType:
    """A backtrack's dry run: what it would undo and run again, and the compensation."""
    head = fields(
        [
            ("backtrack to", answer.get("to_step")),
            ("undo", ", ".join(answer.get("undo_steps", [])) or "-"),
            ("rerun", ", ".join(answer.get("rerun_steps", [])) or "-"),
        ]
    )
    if not answer.get("actions"):
        return stack(head, Text("no compensation needed"))
    actions = table(
        ["STEP", "ACTION", "TARGET", "AMOUNT", "DESCRIPTION"],
        [
            (a["step"], a["action"], a["target"], money(a.get("amount_minor")), a["description"])
            for a in answer["actions"]
        ],
    )
    return stack(head, actions)
