"""Interventions on a running order: what is allowed now (`check`) and what it does (`apply`).

`check` is pure: it runs in update validators, before anything is written to history, and
again when the order applies the command (the order may have moved on in between).
`apply` runs only at the order's safe points, one command at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.inventory import InventoryActivities, PartialReleaseRequest
    from activities.payments import CaptureRequest, PaymentActivities
    from domain.interventions import (
        AddressCorrection,
        BacktrackPlan,
        BacktrackRequest,
        CancelRequest,
        HoldRequest,
        InterventionRequest,
        PickupRequest,
        ReleaseRequest,
        ReviewDecision,
        ReviewRequest,
        SkipRequest,
    )
    from domain.orders import AllocatedLine, CancelReason, Hold, HoldReason, ShipmentStatus
    from workflows import activity_options, compensation

if TYPE_CHECKING:
    from workflows.order import OrderWorkflow as OrderRun


class FlowRedirect(Exception):
    """The flow's position changed under the running step: unwind to the interpreter."""


# -- checks ----------------------------------------------------------------------------------


def check(run: OrderRun, kind: str, request: InterventionRequest) -> str | None:
    """Why this intervention is refused now, or None when it is allowed."""
    status = run.order.view().status
    if run.order.outcome is not None:
        return f"order {run.order.order_id} is {status.value}; it can no longer change"
    if run.order.return_window_closes_at is not None and kind not in AFTER_DELIVERY:
        return (
            f"order {run.order.order_id} is {status.value}: its flow has finished, and only "
            "returns and appeasements remain possible"
        )
    return CHECKS[kind](run, request)


def _check_cancel(run: OrderRun, request: CancelRequest) -> str | None:
    order = run.order
    if request.lines is None:
        sent = [
            line.line_id
            for line in order.lines
            if line.quantity - order.cancellable(line.line_id) - line.buckets.cancelled > 0
        ]
        if sent:
            return (
                f"lines {', '.join(sent)} have shipped, so the whole order cannot be cancelled; "
                "cancel the remaining units by line, and use returns for what shipped"
            )
        return None
    seen: set[str] = set()
    known = [line.line_id for line in order.lines]
    for item in request.lines:
        if item.line_id in seen:
            return f"line {item.line_id} is named twice"
        seen.add(item.line_id)
        if item.line_id not in known:
            return f"unknown line {item.line_id}; the order has {', '.join(known)}"
        open_units = order.cancellable(item.line_id)
        if item.quantity > open_units:
            line = order.line(item.line_id)
            gone = line.buckets.shipped + line.buckets.delivered + line.buckets.returned
            return (
                f"line {item.line_id}: only {open_units} of the {item.quantity} units asked can "
                f"be cancelled ({gone} shipped, {line.buckets.cancelled} already cancelled); "
                "shipped units go through returns"
            )
    return None


def _check_hold(run: OrderRun, request: HoldRequest) -> str | None:
    if any(hold.reason == request.reason for hold in run.order.holds):
        return f"the order is already held for {request.reason.value}"
    return None


def _check_release(run: OrderRun, request: ReleaseRequest) -> str | None:
    holds = run.order.holds
    if not holds:
        return "the order is not on hold"
    if request.reason is not None and all(hold.reason != request.reason for hold in holds):
        standing = ", ".join(hold.reason.value for hold in holds)
        return f"no hold for {request.reason.value}; standing holds: {standing}"
    return None


def _step_error(run: OrderRun, step_id: str) -> str | None:
    ids = [step.step_id for step in run.flow.steps]
    if step_id not in ids:
        return f"unknown step {step_id!r}; the {run.flow.type} flow has {', '.join(ids)}"
    return None


def backtrack_plan(run: OrderRun, to_step: str) -> BacktrackPlan:
    """What backtracking to `to_step` would undo and run again; raises CannotUndo."""
    target = run.flow.index_of(to_step)
    undo = [s for s in reversed(run.completed) if run.flow.index_of(s) >= target]
    current = run.current_step_id
    if current is not None and current not in undo and run.flow.index_of(current) >= target:
        undo.insert(0, current)  # the step under way (or in review) has effects too
    last = run.cursor if run.cursor < len(run.flow.steps) else len(run.flow.steps) - 1
    return BacktrackPlan(
        to_step=to_step,
        undo_steps=undo,
        actions=compensation.plan(run, undo),
        rerun_steps=[step.step_id for step in run.flow.steps[target : last + 1]],
    )


def _check_backtrack(run: OrderRun, request: BacktrackRequest) -> str | None:
    if error := _step_error(run, request.to_step):
        return error
    target = run.flow.index_of(request.to_step)
    reached = run.cursor if run.current_step_id is not None else run.cursor - 1
    if target > reached:
        at = run.current_step_id or "between steps"
        return f"step {request.to_step} has not been reached yet (the order is at {at})"
    try:
        plan = backtrack_plan(run, request.to_step)
    except compensation.CannotUndo as error:
        return str(error)
    fixed = [s for s in plan.undo_steps if not run.flow.steps[run.flow.index_of(s)].backtrackable]
    if fixed:
        return f"step {fixed[0]} is marked not backtrackable in the {run.flow.type} flow"
    return None


def _skip_error(run: OrderRun, step_id: str) -> str | None:
    if error := _step_error(run, step_id):
        return error
    step = run.flow.steps[run.flow.index_of(step_id)]
    if not step.is_skippable:
        return f"step {step_id} guards money or goods and is not skippable in this flow"
    if step_id in run.completed:
        return f"step {step_id} has already completed"
    if step_id in run.skips:
        return f"step {step_id} is already marked to be skipped"
    return None


def _check_skip(run: OrderRun, request: SkipRequest) -> str | None:
    if error := _skip_error(run, request.step):
        return error
    if run.flow.index_of(request.step) < run.cursor:
        return f"step {request.step} is behind the order; backtrack to it instead"
    if run.running_step == request.step:
        return f"step {request.step} is running; wait for it, or backtrack"
    return None


def _check_review(run: OrderRun, request: ReviewRequest) -> str | None:
    review = run.order.review
    if review is None:
        return "the order is not waiting for a review"
    step = run.flow.steps[run.flow.index_of(review.step)]
    if request.decision == ReviewDecision.APPROVE and step.spec.compensation is not None:
        return (
            f"approve would continue past {review.step} without its effect "
            "(nothing reserved, authorized or shipped); decide retry, skip or cancel"
        )
    if request.decision == ReviewDecision.SKIP:
        return _skip_error(run, review.step)
    if request.decision == ReviewDecision.CANCEL:
        return _check_cancel(run, CancelRequest(reason=CancelReason.OTHER))
    return None


def _check_address(run: OrderRun, request: AddressCorrection) -> str | None:
    if all(hold.reason != HoldReason.INCORRECT_ADDRESS for hold in run.order.holds):
        return "the address can be corrected while the order is held for INCORRECT_ADDRESS"
    booked = [s.shipment_id for s in run.order.shipments if s.status != ShipmentStatus.CANCELLED]
    if booked:
        return (
            f"shipments {', '.join(booked)} are booked with the current address; "
            "backtrack to fulfill_shipments first"
        )
    return None


def _check_pickup(run: OrderRun, request: PickupRequest) -> str | None:
    step = run.running_step
    if step is None or run.flow.steps[run.flow.index_of(step)].step != "await_pickup":
        return "the order is not waiting for a pickup"
    if run.order.picked_up_by is not None:
        return f"the order was already picked up by {run.order.picked_up_by}"
    return None


CHECKS: dict[str, Callable[[Any, Any], str | None]] = {
    "cancel": _check_cancel,
    "hold": _check_hold,
    "release": _check_release,
    "backtrack": _check_backtrack,
    "skip": _check_skip,
    "review": _check_review,
    "correct_address": _check_address,
    "pickup": _check_pickup,
    "request_return": lambda run, request: run.check_return(request),
    "appease": lambda run, request: run.check_appeasement(request),
}
AFTER_DELIVERY = frozenset({"request_return", "appease"})


# -- effects ---------------------------------------------------------------------------------


async def _cancel(run: OrderRun, request: CancelRequest, actor: str) -> None:
    order = run.order
    wanted = (
        {item.line_id: item.quantity for item in request.lines}
        if request.lines
        else {line.line_id: order.cancellable(line.line_id) for line in order.lines}
    )
    taken: dict[str, int] = dict.fromkeys(wanted, 0)
    refusals: list[str] = []
    # Units not yet reserved go first; then reserved units, newest shipment first.
    for line_id, quantity in wanted.items():
        take = min(quantity, order.line(line_id).buckets.pending)
        order.line(line_id).move("pending", "cancelled", take)
        taken[line_id] += take
    number = run.next_key("cancel")
    for allocation in reversed(order.allocations):
        remove = []
        for item in allocation.lines:
            take = (
                min(wanted[item.line_id] - taken.get(item.line_id, 0), item.quantity)
                if (item.line_id in wanted)
                else 0
            )
            if take > 0:
                remove.append(AllocatedLine(line_id=item.line_id, sku=item.sku, quantity=take))
        if not remove:
            continue
        shipment = run.shipment_for(allocation)
        if shipment is not None:
            result = await run.change_shipment(shipment, remove)
            if not result.accepted:
                refusals.append(result.reason or f"shipment {shipment.shipment_id} refused")
                continue
            if result.status == ShipmentStatus.CANCELLED:
                shipment.status = ShipmentStatus.CANCELLED
                run.record("ShipmentCancelled", shipment_id=shipment.shipment_id)
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
        "LinesCancelled",
        actor=actor,
        reason=request.note,
        cancel_reason=request.reason.value,
        lines=cancelled,
        amount_minor=amount,
        refused=refusals,
    )
    # Never hold more of the customer's money than the order is now worth.
    excess = order.payment.captured_minor - order.payment.refunded_minor - order.total_minor
    if excess > 0 and order.payment.authorization_id:
        key = run.next_key("refund")
        await run.call(
            PaymentActivities.refund_payment,
            CaptureRequest(
                order_id=order.order_id,
                key=key,
                authorization_id=order.payment.authorization_id,
                amount_minor=excess,
            ),
            summary=f"refund {excess} for cancelled lines",
            **activity_options.PAYMENT,
        )
        order.payment.refunded_minor += excess
        for line_id, n in cancelled.items():
            buckets = order.line(line_id).buckets
            buckets.refunded = min(buckets.refunded + n, buckets.cancelled + buckets.returned)
        run.record("PaymentRefunded", amount_minor=excess, key=key, reason="cancelled lines")
    if all(line.active_quantity == 0 for line in order.lines):
        await run.finish_cancelled(request.reason, actor=actor, note=request.note)


def _reduce(items: list[AllocatedLine], remove: list[AllocatedLine]) -> None:
    for gone in remove:
        for item in items:
            if item.line_id == gone.line_id:
                item.quantity -= gone.quantity
                break


class InterventionRefused(Exception):
    """Allowed when asked, impossible when applied (the order moved on in between)."""


async def apply(run: OrderRun, kind: str, request: Any, actor: str) -> Any:
    """Carry out an accepted intervention; returns the update's answer."""
    order = run.order
    now = workflow.now()
    if kind == "cancel":
        await _cancel(run, request, actor)
    elif kind == "hold":
        order.holds.append(Hold(reason=request.reason, note=request.note, actor=actor, at=now))
        run.record("OrderHeld", actor=actor, reason=request.note, hold=request.reason.value)
    elif kind == "release":
        released = [h for h in order.holds if request.reason in (None, h.reason)]
        order.holds = [h for h in order.holds if h not in released]
        run.record(
            "HoldReleased",
            actor=actor,
            reason=request.note,
            holds=[h.reason.value for h in released],
            remaining=len(order.holds),
        )
    elif kind == "correct_address":
        order.shipping_address = request.shipping_address
        run.record(
            "ShippingAddressCorrected",
            actor=actor,
            reason=request.note,
            shipping_address=request.shipping_address.model_dump(),
        )
    elif kind == "skip":
        if order.review is not None and order.review.step == request.step:
            # Skipping the step an order waits on in review is that review's decision.
            decision = ReviewRequest(decision=ReviewDecision.SKIP, note=request.reason)
            await run.decide_review(decision, actor=actor)
        else:
            run.skips.add(request.step)
            run.record("StepSkipRequested", actor=actor, reason=request.reason, step=request.step)
    elif kind == "backtrack":
        await run.backtrack(request.to_step, actor=actor, reason=request.reason)
    elif kind == "review":
        await run.decide_review(request, actor=actor)
    elif kind == "request_return":
        return await run.request_return(request, actor)
    elif kind == "appease":
        return await run.appease(request, actor)
    elif kind == "pickup":
        order.picked_up_by = request.picked_up_by or actor
        run.record(
            "PickupConfirmed", actor=actor, reason=request.note, picked_up_by=order.picked_up_by
        )
    return order.view().model_dump(mode="json")
