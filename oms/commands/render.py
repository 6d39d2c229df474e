"""Plain-text rendering of the API's answers: aligned columns and short summaries."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from oms.client import OrderRead

BUCKETS = ("pending", "reserved", "shipped", "delivered", "cancelled", "returned", "refunded")


def emit(text: str = "") -> None:
    print(text, flush=True)


def emit_json(value: Any) -> None:
    emit(json.dumps(value, indent=2, sort_keys=False))


def answer(value: Any, text: Callable[[Any], str], *, as_json: bool) -> None:
    """The raw JSON with `--json`, else `text(value)`."""
    if as_json:
        emit_json(value)
    else:
        emit(text(value))


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers]]
    cells += [["" if cell is None else str(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in cells
    )


def fields(pairs: Sequence[tuple[str, Any]]) -> str:
    """`name  value` lines, skipping empty values."""
    shown = [(name, value) for name, value in pairs if value not in (None, "", [])]
    width = max((len(name) for name, _ in shown), default=0)
    return "\n".join(f"{name.ljust(width)}  {value}" for name, value in shown)


def money(minor: int | None, currency: str = "") -> str:
    if minor is None:
        return ""
    text = f"{minor / 100:,.2f}"
    return f"{text} {currency}".rstrip()


def line_state(buckets: dict[str, int]) -> str:
    return ", ".join(f"{buckets[b]} {b}" for b in BUCKETS if buckets.get(b)) or "-"


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


def order(view: dict[str, Any], shown_from: str | None = None) -> str:
    totals = view.get("totals") or {}
    currency = totals.get("currency", "")
    flow = view.get("flow") or {}
    review = view.get("review")
    cancelled = view.get("cancel_reason")
    if cancelled and view.get("cancel_note"):
        cancelled = f"{cancelled}: {view['cancel_note']}"
    head = fields(
        [
            ("order", view.get("order_id")),
            ("view", shown_from),
            ("customer", view.get("customer_id")),
            ("type", f"{flow.get('type', view.get('order_type'))} v{flow.get('version', '?')}"),
            ("status", view.get("status")),
            ("financial", view.get("financial_status")),
            ("fulfillment", view.get("fulfillment_status")),
            ("step", view.get("current_step")),
            ("total", money(totals.get("total_minor"), currency)),
            ("payment", payment(totals)),
            (
                "holds",
                "; ".join(
                    f"{h['reason']} by {h.get('actor')}"
                    + (f" ({h['note']})" if h.get("note") else "")
                    for h in view.get("holds") or []
                ),
            ),
            (
                "review",
                review
                and f"{review.get('kind')} at {review.get('step')}: {review.get('reason')}"
                + (" (escalated)" if review.get("escalated") else ""),
            ),
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
    parts = [head, "", lines]
    if view.get("shipments"):
        parts += ["", shipments(view["shipments"])]
    return "\n".join(parts)


def shipments(found: list[dict[str, Any]]) -> str:
    return table(
        ["SHIPMENT", "WAREHOUSE", "STATUS", "TRACKING", "LINES"],
        [
            (
                s["shipment_id"],
                s.get("warehouse"),
                s.get("status"),
                s.get("tracking_number") or "-",
                ", ".join(f"{line['line_id']}×{line['quantity']}" for line in s.get("lines", [])),
            )
            for s in found
        ],
    )


def events(found: list[dict[str, Any]]) -> str:
    return table(
        ["SEQ", "AT", "TYPE", "ACTOR", "REASON"],
        [(e["seq"], e.get("at"), e["type"], e.get("actor"), e.get("reason") or "") for e in found],
    )


def orders(found: list[dict[str, Any]]) -> str:
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
                row.get("status"),
                row.get("order_type"),
                row.get("customer_id"),
                total(row),
                row.get("placed_at"),
            )
            for row in found
        ],
    )


def returns(found: list[dict[str, Any]]) -> str:
    return table(
        ["RETURN", "STATUS", "LINES", "REFUNDED", "TRACKING", "REQUESTED"],
        [
            (
                r["return_id"],
                r.get("status"),
                ", ".join(f"{line['line_id']}×{line['quantity']}" for line in r.get("lines", [])),
                money(r.get("refunded_minor")),
                r.get("tracking_number") or "-",
                r.get("requested_at"),
            )
            for r in found
        ],
    )


def plan(answer: dict[str, Any]) -> str:
    head = fields(
        [
            ("backtrack to", answer.get("to_step")),
            ("undo", ", ".join(answer.get("undo_steps", [])) or "-"),
            ("rerun", ", ".join(answer.get("rerun_steps", [])) or "-"),
        ]
    )
    if not answer.get("actions"):
        return head + "\n\nno compensation needed"
    actions = table(
        ["STEP", "ACTION", "TARGET", "AMOUNT", "DESCRIPTION"],
        [
            (a["step"], a["action"], a["target"], money(a.get("amount_minor")), a["description"])
            for a in answer["actions"]
        ],
    )
    return f"{head}\n\n{actions}"
