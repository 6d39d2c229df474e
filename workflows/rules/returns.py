"""Whether a return or an appeasement fits the order now: inside its return window, within
what was delivered and not yet returned, within what the order may still refund."""

from __future__ import annotations

from domain.interventions import AppeasementRequest, ReturnRequest
from workflows.rules.state import FlowState


def check_return(run: FlowState, request: ReturnRequest) -> str | None:
    order = run.order
    if error := _window_error(run, "returns"):
        return error
    seen: set[str] = set()
    known = [line.line_id for line in order.lines]
    for index, item in enumerate(request.lines):
        where = f"lines.{index}"
        if item.line_id not in known:
            has = ", ".join(known)
            return f"{where}.line_id: unknown line {item.line_id}; the order has {has}"
        if item.line_id in seen:
            return f"{where}.line_id: line {item.line_id} is named twice"
        seen.add(item.line_id)
        line = order.line(item.line_id)
        if line.kind != "physical":
            return f"{where}.line_id: {item.line_id} is digital and cannot be returned"
        returnable = order.returnable(item.line_id)
        if item.quantity > returnable:
            held = line.buckets.delivered - returnable
            return (
                f"{where}.quantity: only {returnable} units of {item.line_id} can be returned "
                f"({line.buckets.delivered} delivered, {held} already in open returns, "
                f"{line.buckets.returned} returned)"
            )
    return None


def _window_error(run: FlowState, what: str) -> str | None:
    closes = run.order.return_window_closes_at
    if closes is None:
        status = run.order.view().status.value
        if status == "DELIVERED":
            # Delivered, and the flow is finishing its last steps: the window opens after them.
            return (
                f"{what} open once the order is delivered; it is, and the window opens in a moment"
            )
        return f"{what} open once the order is delivered; it is {status}"
    if not run.window_open():  # its timer has fired (or, for older orders, the clock passed)
        return f"the return window closed at {closes.isoformat()}; no more {what}"
    return None


def check_appeasement(run: FlowState, request: AppeasementRequest) -> str | None:
    if error := _window_error(run, "appeasements"):
        return error
    order = run.order
    limit = order.refundable_minor
    if request.amount_minor > limit:
        held = order.payment.captured_minor - order.payment.refunded_minor - limit
        detail = f"; {held} is set aside for open returns" if held else ""
        return (
            f"amount_minor: {request.amount_minor} is above this order's limit of {limit} "
            f"(captured {order.payment.captured_minor} − refunded "
            f"{order.payment.refunded_minor}{detail})"
        )
    return None
