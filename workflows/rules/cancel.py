"""Which units a cancel takes, and what money it gives back: units still waiting for stock
first, then reserved ones, newest allocation first; never more money held than the order
is now worth. The order workflow applies these; the property tests drive them directly."""

from __future__ import annotations

from domain.interventions import CancelRequest
from domain.orders import Order
from domain.shipments import AllocatedLine, Allocation


def wanted(order: Order, request: CancelRequest) -> dict[str, int]:
    """Units to cancel per line: those named, or every unit that has not left."""
    if request.lines:
        return {item.line_id: item.quantity for item in request.lines}
    return {line.line_id: order.cancellable(line.line_id) for line in order.lines}


def from_pending(order: Order, units: dict[str, int]) -> dict[str, int]:
    """Per line, the units a cancel takes from those still waiting for stock."""
    return {
        line_id: min(quantity, order.line(line_id).buckets.pending)
        for line_id, quantity in units.items()
    }


def from_allocation(
    allocation: Allocation, units: dict[str, int], taken: dict[str, int]
) -> list[AllocatedLine]:
    """What a cancel takes from one allocation, given what it has taken so far."""
    remove = []
    for item in allocation.lines:
        if item.line_id not in units:
            continue
        take = min(units[item.line_id] - taken.get(item.line_id, 0), item.quantity)
        if take > 0:
            remove.append(AllocatedLine(line_id=item.line_id, sku=item.sku, quantity=take))
    return remove


def excess(order: Order) -> int:
    """Money captured and kept beyond what the order is now worth: to refund (0 if none)."""
    payment = order.payment
    if not payment.authorization_id:
        return 0
    return max(payment.captured_minor - payment.refunded_minor - order.total_minor, 0)
