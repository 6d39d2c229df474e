"""What the interventions that only change the order's own state do to it, as pure
functions: each applies an accepted request to the state and returns the journal event to
record. The workflow records it; the rule tests call these directly. Interventions that
move money or goods (cancel, review, backtrack, returns) plan in `cancel`, `compensation`
and `returns`, and their effects run in `workflows.effects`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from domain.events import EventType
from domain.holds import Hold
from domain.interventions import (
    AddressCorrection,
    HoldRequest,
    PickupRequest,
    ReleaseRequest,
    SkipRequest,
)
from domain.order_state import OrderState


@dataclass(frozen=True)
class Recorded:
    """A journal event a change asks to be recorded."""

    type: EventType
    reason: str | None
    data: dict[str, Any] = field(default_factory=dict)


def hold(state: OrderState, request: HoldRequest, actor: str, now: datetime) -> Recorded:
    state.order.holds.append(Hold(reason=request.reason, note=request.note, actor=actor, at=now))
    return Recorded(EventType.ORDER_HELD, request.note, {"hold": request.reason.value})


def release(state: OrderState, request: ReleaseRequest) -> Recorded:
    order = state.order
    released = [h for h in order.holds if request.reason in (None, h.reason)]
    order.holds = [h for h in order.holds if h not in released]
    return Recorded(
        EventType.HOLD_RELEASED,
        request.note,
        {"holds": [h.reason.value for h in released], "remaining": len(order.holds)},
    )


def correct_address(state: OrderState, request: AddressCorrection) -> Recorded:
    state.order.shipping_address = request.shipping_address
    return Recorded(
        EventType.SHIPPING_ADDRESS_CORRECTED,
        request.note,
        {"shipping_address": request.shipping_address.model_dump()},
    )


def pickup(state: OrderState, request: PickupRequest, actor: str) -> Recorded:
    state.order.picked_up_by = request.picked_up_by or actor
    return Recorded(
        EventType.PICKUP_CONFIRMED, request.note, {"picked_up_by": state.order.picked_up_by}
    )


def skip_ahead(state: OrderState, request: SkipRequest) -> Recorded:
    """A step not reached yet will be passed over when the flow comes to it."""
    state.skips.add(request.step)
    return Recorded(EventType.STEP_SKIP_REQUESTED, request.reason, {"step": request.step})


def skips_review(state: OrderState, request: SkipRequest) -> bool:
    """Skipping the step an order waits on in review is that review's decision."""
    review = state.order.review
    return review is not None and review.step == request.step
