"""What an accepted intervention does to a running order (`apply`), at the order's safe
points, one command at a time. Whether it is allowed now is `rules.interventions.check`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.inventory import InventoryActivities, PartialReleaseRequest
    from domain.events import EventType
    from domain.interventions import (
        CancelRequest,
        ReviewDecision,
        ReviewRequest,
    )
    from domain.shipments import AllocatedLine, ShipmentStatus
    from workflows import activity_options, concessions, effects, refunds
    from workflows.outcomes import InterventionRefused
    from workflows.rules import cancel, changes

if TYPE_CHECKING:
    from workflows.run import OrderRun


# -- effects ---------------------------------------------------------------------------------


async def _cancel(run: OrderRun, request: CancelRequest, actor: str) -> None:
    order = run.order
    units = cancel.wanted(order, request)
    taken: dict[str, int] = dict.fromkeys(units, 0)
    refusals: list[str] = []
    for line_id, take in cancel.from_pending(order, units).items():
        order.line(line_id).move("pending", "cancelled", take)
        taken[line_id] += take
    number = run.next_key("cancel")
    for allocation in reversed(order.allocations):
        remove = cancel.from_allocation(allocation, units, taken)
        if not remove:
            continue
        shipment = run.order.shipment_for(allocation)
        if shipment is not None:
            result = await run.shipments.change_shipment(shipment, remove)
            if not result.accepted:
                refusals.append(result.reason or f"shipment {shipment.shipment_id} refused")
                continue
            if result.status == ShipmentStatus.CANCELLED:
                shipment.status = ShipmentStatus.CANCELLED
                run.record(EventType.SHIPMENT_CANCELLED, shipment_id=shipment.shipment_id)
            _reduce(shipment.lines, remove)
        await run.call(
            InventoryActivities.release_inventory_units,
            PartialReleaseRequest(
                release_id=f"{number}:{allocation.reservation_id}:{allocation.warehouse}",
                reservation_id=allocation.reservation_id,
                warehouse=allocation.warehouse,
                lines=remove,
            ),
            summary=f"release {sum(i.quantity for i in remove)} units in {allocation.warehouse}",
            **activity_options.INVENTORY,
        )
        _reduce(allocation.lines, remove)
        for item in remove:
            order.line(item.line_id).move("reserved", "cancelled", item.quantity)
            taken[item.line_id] += item.quantity
    cancelled = {line_id: n for line_id, n in taken.items() if n}
    if not cancelled:
        raise InterventionRefused("; ".join(refusals) or "nothing could be cancelled")
    amount = sum(order.line(line_id).unit_price_minor * n for line_id, n in cancelled.items())
    run.record(
        EventType.LINES_CANCELLED,
        actor=actor,
        reason=request.note,
        cancel_reason=request.reason.value,
        lines=cancelled,
        amount_minor=amount,
        refused=refusals,
    )
    # Never hold more of the customer's money than the order is now worth.
    if (excess := cancel.excess(order)) > 0 and order.payment.authorization_id:
        key = run.next_key("refund")
        await effects.refund(
            run.call,
            order_id=order.order_id,
            key=key,
            authorization_id=order.payment.authorization_id,
            amount_minor=excess,
            summary=f"refund {excess} for cancelled lines",
        )
        order.payment.refunded_minor += excess
        for line_id, n in cancelled.items():
            buckets = order.line(line_id).buckets
            buckets.refunded = min(buckets.refunded + n, buckets.cancelled + buckets.returned)
        run.record(
            EventType.PAYMENT_REFUNDED, amount_minor=excess, key=key, reason="cancelled lines"
        )
    if all(line.active_quantity == 0 for line in order.lines):
        await run.finish_cancelled(request.reason, actor=actor, note=request.note)


def _reduce(items: list[AllocatedLine], remove: list[AllocatedLine]) -> None:
    for gone in remove:
        for item in items:
            if item.line_id == gone.line_id:
                item.quantity -= gone.quantity
                break


async def apply(run: OrderRun, kind: str, request: Any, actor: str) -> Any:
    """Carry out an accepted intervention; returns the update's answer."""
    state = run.state
    recorded: changes.Recorded | None = None
    if kind == "cancel":
        await _cancel(run, request, actor)
    elif kind == "hold":
        recorded = changes.hold(state, request, actor, workflow.now())
    elif kind == "release":
        recorded = changes.release(state, request)
    elif kind == "correct_address":
        recorded = changes.correct_address(state, request)
    elif kind == "pickup":
        recorded = changes.pickup(state, request, actor)
    elif kind == "skip":
        if changes.skips_review(state, request):
            decision = ReviewRequest(decision=ReviewDecision.SKIP, note=request.reason)
            await run.decide_review(decision, actor=actor)
        else:
            recorded = changes.skip_ahead(state, request)
    elif kind == "backtrack":
        await run.backtrack(request.to_step, actor=actor, reason=request.reason)
    elif kind == "review":
        await run.decide_review(request, actor=actor)
    elif kind == "request_return":
        return await concessions.request_return(run, request, actor)
    elif kind == "appease":
        return await refunds.appease(run, request, actor)
    if recorded is not None:
        record_change(run, recorded, actor)
    return run.order.view().model_dump(mode="json")


def record_change(run: OrderRun, recorded: changes.Recorded, actor: str) -> None:
    run.record(recorded.type, actor=actor, reason=recorded.reason, **recorded.data)
