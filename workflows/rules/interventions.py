"""Whether an intervention is allowed now, and why not: `check` runs in update validators,
before anything is written to history, and again when the order applies the command (it
may have moved on in between). `backtrack_plan` is also a backtrack's dry run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from domain.flows import entries
from domain.holds import HoldReason
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
from domain.shipments import ShipmentStatus
from domain.statuses import CancelReason
from workflows.rules.compensation import CannotUndo, plan
from workflows.rules.returns import check_appeasement, check_return
from workflows.rules.state import FlowState


def check(run: FlowState, kind: str, request: InterventionRequest) -> str | None:
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


def _check_cancel(run: FlowState, request: CancelRequest) -> str | None:
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


def _check_hold(run: FlowState, request: HoldRequest) -> str | None:
    if any(hold.reason == request.reason for hold in run.order.holds):
        return f"the order is already held for {request.reason.value}"
    return None


def _check_release(run: FlowState, request: ReleaseRequest) -> str | None:
    holds = run.order.holds
    if not holds:
        return "the order is not on hold"
    if request.reason is not None and all(hold.reason != request.reason for hold in holds):
        standing = ", ".join(hold.reason.value for hold in holds)
        return f"no hold for {request.reason.value}; standing holds: {standing}"
    return None


def _step_error(run: FlowState, step_id: str) -> str | None:
    ids = [step.step_id for step in entries(run.flow.steps)]
    if step_id not in ids:
        return f"unknown step {step_id!r}; the {run.flow.type} flow has {', '.join(ids)}"
    return None


def backtrack_plan(run: FlowState, to_step: str) -> BacktrackPlan:
    """What backtracking to `to_step` would undo and run again; raises CannotUndo."""
    target = run.flow.index_of(to_step)
    undo = [s for s in reversed(run.completed) if run.flow.index_of(s) >= target]
    # The steps under way (or in review, or in parallel branches) have effects too.
    for current in [run.current_step_id, *run.state.branch_steps]:
        if current is not None and current not in undo and run.flow.index_of(current) >= target:
            undo.insert(0, current)
    last = run.cursor if run.cursor < len(run.flow.steps) else len(run.flow.steps) - 1
    return BacktrackPlan(
        to_step=to_step,
        undo_steps=undo,
        actions=plan(run, undo),
        rerun_steps=[step.step_id for step in entries(run.flow.steps[target : last + 1])],
    )


def _check_backtrack(run: FlowState, request: BacktrackRequest) -> str | None:
    if error := _step_error(run, request.to_step):
        return error
    target = run.flow.index_of(request.to_step)
    if (block := run.flow.steps[target]).step_id != request.to_step:
        return (
            f"step {request.to_step} runs in the parallel block {block.step_id}; "
            f"backtrack to {block.step_id}"
        )
    reached = run.cursor if run.current_step_id is not None else run.cursor - 1
    if target > reached:
        at = run.current_step_id or "between steps"
        return f"step {request.to_step} has not been reached yet (the order is at {at})"
    try:
        plan = backtrack_plan(run, request.to_step)
    except CannotUndo as error:
        return str(error)
    fixed = [s for s in plan.undo_steps if not run.flow.find(s).backtrackable]
    if fixed:
        return f"step {fixed[0]} is marked not backtrackable in the {run.flow.type} flow"
    return None


def _skip_error(run: FlowState, step_id: str) -> str | None:
    if error := _step_error(run, step_id):
        return error
    step = run.flow.find(step_id)
    if step.kind == "parallel":
        return f"{step_id} is a parallel block; skip the steps in its branches instead"
    if not step.is_skippable:
        return f"step {step_id} guards money or goods and is not skippable in this flow"
    if step_id in run.completed:
        return f"step {step_id} has already completed"
    if step_id in run.skips:
        return f"step {step_id} is already marked to be skipped"
    return None


def _check_skip(run: FlowState, request: SkipRequest) -> str | None:
    if error := _skip_error(run, request.step):
        return error
    if run.flow.index_of(request.step) < run.cursor:
        return f"step {request.step} is behind the order; backtrack to it instead"
    if request.step in (run.running_step, *run.state.branch_steps):
        return f"step {request.step} is running; wait for it, or backtrack"
    return None


def _check_review(run: FlowState, request: ReviewRequest) -> str | None:
    review = run.order.review
    if review is None:
        return "the order is not waiting for a review"
    step = run.flow.find(review.step)
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


def _check_address(run: FlowState, request: AddressCorrection) -> str | None:
    if all(hold.reason != HoldReason.INCORRECT_ADDRESS for hold in run.order.holds):
        return "the address can be corrected while the order is held for INCORRECT_ADDRESS"
    booked = [s.shipment_id for s in run.order.shipments if s.status != ShipmentStatus.CANCELLED]
    if booked:
        return (
            f"shipments {', '.join(booked)} are booked with the current address; "
            "backtrack to fulfill_shipments first"
        )
    return None


def _check_pickup(run: FlowState, request: PickupRequest) -> str | None:
    running = [run.running_step, *run.state.branch_steps]
    if not any(s is not None and run.flow.find(s).step == "await_pickup" for s in running):
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
    "request_return": check_return,
    "appease": check_appeasement,
}
AFTER_DELIVERY = frozenset({"request_return", "appease"})
