"""The order's rules, driven directly on random states: what compensation plans to undo
(`workflows.rules.compensation`), what a backtrack's dry run promises, what the state-only
interventions change (`workflows.rules.changes`), and that a run's whole state survives
the trip continue-as-new gives it (`domain.order_state`)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from temporalio.contrib.pydantic import pydantic_data_converter

from domain.addresses import Address
from domain.events import EventType
from domain.holds import HoldReason, Review
from domain.interventions import (
    AddressCorrection,
    HoldRequest,
    PickupRequest,
    ReleaseRequest,
    SkipRequest,
)
from domain.order_state import OrderState, start
from domain.orders import Order
from domain.payment import Payment
from domain.shipments import AllocatedLine, Allocation, Shipment, ShipmentStatus
from tests.helpers.order_input import Item, order_input, seed_flow
from workflows.rules import changes
from workflows.rules.compensation import CannotUndo, plan
from workflows.rules.interventions import backtrack_plan
from workflows.rules.state import FlowState

FLOW = seed_flow("standard")
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LEFT = (ShipmentStatus.DISPATCHED, ShipmentStatus.IN_TRANSIT, ShipmentStatus.DELIVERED)


def placed() -> OrderState:
    return start(order_input("ord_rules", FLOW, [Item("MUG-1", 1500, 2), Item("LAMP-1", 4000)]))


@st.composite
def running_orders(draw: st.DrawFn) -> OrderState:
    """A standard order part way along: any payment that keeps refunded ≤ captured ≤
    authorized, and any number of allocations, each with or without a shipment in any
    status."""
    state = placed()
    order = state.order
    authorized = draw(st.sampled_from([0, order.total_minor]))
    captured = draw(st.integers(0, authorized))
    order.payment = Payment(
        authorization_id="auth_1" if authorized else None,
        authorized_minor=authorized,
        captured_minor=captured,
        refunded_minor=draw(st.integers(0, captured)),
        voided=draw(st.booleans()) if authorized else False,
    )
    for number in range(1, draw(st.integers(0, 3)) + 1):
        allocation = Allocation(
            reservation_id=f"res_{number}",
            warehouse=f"wh_{number}",
            lines=[AllocatedLine(line_id="ln_1", sku="MUG-1", quantity=draw(st.integers(0, 2)))],
        )
        order.allocations.append(allocation)
        status = draw(st.none() | st.sampled_from(list(ShipmentStatus)))
        if status is not None:
            order.shipments.append(
                Shipment(
                    shipment_id=f"ord_rules-{number}",
                    warehouse=allocation.warehouse,
                    reservation_id=allocation.reservation_id,
                    lines=allocation.lines,
                    status=status,
                )
            )
    steps = [step.step_id for step in FLOW.steps]
    state.cursor = draw(st.integers(0, len(steps)))
    state.completed = steps[: state.cursor]
    return state


@settings(max_examples=400, deadline=None)
@given(state=running_orders())
def test_compensation_never_gives_back_more_than_was_taken(state: OrderState) -> None:
    order = state.order
    situation = FlowState(state, FLOW)
    undo = list(reversed(state.completed))
    left = [s for s in order.shipments if s.status in LEFT]
    if "fulfill_shipments" in undo and left:
        with pytest.raises(CannotUndo, match=left[-1].shipment_id):
            plan(situation, undo)
        return
    actions = plan(situation, undo)
    payment = order.payment
    refunds = [a for a in actions if a.action == "refund_payment"]
    assert sum(a.amount_minor or 0 for a in refunds) <= payment.captured_minor - (
        payment.refunded_minor
    )
    assert all((a.amount_minor or 0) > 0 for a in refunds)
    voids = [a for a in actions if a.action == "void_authorization"]
    if payment.authorization_id is None or payment.voided:
        assert not refunds and not voids
    else:
        assert len(voids) == ("authorize_payment" in undo)
    # Stock goes back only where goods never left, and only what is still reserved there.
    released = {a.target for a in actions if a.action == "release_inventory"}
    if "reserve_inventory" not in undo:
        assert not released
    for allocation in order.allocations:
        keeps = order.shipment_left(allocation) or not sum(i.quantity for i in allocation.lines)
        assert (allocation.reservation_id in released) == (
            "reserve_inventory" in undo and not keeps
        )
    # Shipments still open are cancelled, newest first; nothing else is.
    cancelled = [a.target for a in actions if a.action == "cancel_shipment"]
    open_ = [
        s.shipment_id
        for s in reversed(order.shipments)
        if s.status in (ShipmentStatus.PENDING, ShipmentStatus.BOOKED)
    ]
    assert cancelled == (open_ if "fulfill_shipments" in undo else [])
    # Newest step first: every action follows the order of the steps being undone.
    positions = [undo.index(a.step) for a in actions]
    assert positions == sorted(positions)


@settings(max_examples=200, deadline=None)
@given(state=running_orders(), to=st.sampled_from([s.step_id for s in FLOW.steps]))
def test_a_backtracks_dry_run_undoes_exactly_the_steps_after_its_target(
    state: OrderState, to: str
) -> None:
    if to not in state.completed:
        return
    if any(s.status in LEFT for s in state.order.shipments):
        return  # goods that left make the dry run refuse; the test above covers it
    dry_run = backtrack_plan(FlowState(state, FLOW), to)
    after = state.completed[state.completed.index(to) :]
    assert dry_run.undo_steps == list(reversed(after))
    assert dry_run.rerun_steps[0] == to and set(after) <= set(dry_run.rerun_steps)
    assert {a.step for a in dry_run.actions} <= set(after)


def test_holds_stack_and_a_release_names_which() -> None:
    state = placed()
    fraud = changes.hold(
        state, HoldRequest(reason=HoldReason.HIGH_RISK_OF_FRAUD, note="call"), "ann", NOW
    )
    changes.hold(state, HoldRequest(reason=HoldReason.OTHER), "bob", NOW)
    assert (fraud.type, fraud.reason, fraud.data) == (
        EventType.ORDER_HELD,
        "call",
        {"hold": "HIGH_RISK_OF_FRAUD"},
    )
    released = changes.release(state, ReleaseRequest(reason=HoldReason.HIGH_RISK_OF_FRAUD))
    assert released.data == {"holds": ["HIGH_RISK_OF_FRAUD"], "remaining": 1}
    assert [h.actor for h in state.order.holds] == ["bob"]
    assert changes.release(state, ReleaseRequest()).data == {
        "holds": ["OTHER"],
        "remaining": 0,
    }
    assert state.order.holds == []


def test_address_pickup_and_skip_change_only_what_they_name() -> None:
    state = placed()
    before = state.order.model_copy(deep=True)
    address = Address(name="Bo", line1="2 High St", city="Leeds", postal_code="LS1", country="GB")
    changes.correct_address(state, AddressCorrection(shipping_address=address))
    assert state.order.shipping_address == address
    assert changes.pickup(state, PickupRequest(), "clerk").data == {"picked_up_by": "clerk"}
    recorded = changes.skip_ahead(state, SkipRequest(step="check_fraud", reason="known buyer"))
    assert (recorded.type, recorded.data) == (
        EventType.STEP_SKIP_REQUESTED,
        {"step": "check_fraud"},
    )
    assert state.skips == {"check_fraud"}
    changed = {
        name for name in Order.model_fields if getattr(state.order, name) != getattr(before, name)
    }
    assert changed == {"shipping_address", "picked_up_by"}
    state.order.review = Review(step="check_fraud", reason="r", kind="fraud", since=NOW)
    assert changes.skips_review(state, SkipRequest(step="check_fraud", reason="ok"))
    assert not changes.skips_review(state, SkipRequest(step="capture_payment", reason="ok"))


def test_a_runs_whole_state_is_what_continue_as_new_carries() -> None:
    state = placed()
    state.seq, state.cursor, state.running_step = 41, len(FLOW.steps), None
    state.completed = [step.step_id for step in FLOW.steps]
    state.skips = {"validate_order", "check_fraud"}
    state.epochs, state.counters = {"authorize_payment": 2}, {"refund": 3}
    state.rewards_started = state.rewards_in_order = True
    state.exchanges_due = [("ret_1", "ln_1", 1)]
    carried = order_input("ord_rules", FLOW, [Item("MUG-1", 1500, 2), Item("LAMP-1", 4000)])
    carried.carried = state
    (payload,) = pydantic_data_converter.payload_converter.to_payloads([carried])
    again = pydantic_data_converter.payload_converter.from_payloads([payload], [type(carried)])[0]
    assert start(again) == state
    assert b'"skips":["check_fraud","validate_order"]' in payload.data


def test_a_state_carried_before_the_model_held_it_all_resumes_after_its_flow() -> None:
    """Runs continued by earlier code carried seven fields; the rest default, and the
    cursor stands after the flow's last step, where such runs always continued."""
    order = placed().order
    old = {
        "order": order.model_dump(mode="json"),
        "seq": 12,
        "counters": {"refund": 1},
        "epochs": {},
        "completed": ["validate_order", "check_fraud"],
        "rewards_started": True,
        "rewards_in_order": False,
    }
    resumed = order_input("ord_rules", FLOW, [Item("MUG-1", 1500, 2), Item("LAMP-1", 4000)])
    resumed = resumed.model_validate({**resumed.model_dump(mode="json"), "carried": old})
    state = start(resumed)
    assert (state.seq, state.counters, state.cursor) == (12, {"refund": 1}, len(FLOW.steps))
    assert state.skips == set() and state.return_inbox == [] and not state.rewards_granted
