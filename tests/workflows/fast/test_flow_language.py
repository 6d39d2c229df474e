"""Parallel blocks, included fragments and call steps, as the interpreter runs them: on the
time-skipping server with stub activities, a shop's service answering by endpoint name
(`StubActivities.services`). Each test reads what a user would: the order's status and
facts, the calls each service received with their keys, money moved, the journal."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from domain.flows import FlowDefinition, expand
from domain.interventions import BacktrackRequest, CancelRequest, ReviewDecision, ReviewRequest
from domain.returns import ConcessionTerms
from domain.statuses import CancelReason
from tests.helpers.fast_orders import FastOrders
from tests.helpers.order_input import Item, order_input
from workflows.order import OrderWorkflow

MUG = Item("MUG-1", 1500, 2)
TERMS = ConcessionTerms(return_window_s=5)

FRAUD_AND_PAYMENT = FlowDefinition.model_validate(
    {
        "type": "fraud_and_payment",
        "version": 1,
        "kind": "fragment",
        "steps": [{"step": "reserve_inventory"}, {"step": "authorize_payment"}],
    }
)


def gifted(*, wrap_failure: str = "review", address_failure: str = "review") -> FlowDefinition:
    """The order type of the issue's example, expanded as an order's snapshot holds it."""
    draft = FlowDefinition.model_validate(
        {
            "type": "gifted",
            "version": 1,
            "steps": [
                {"step": "validate_order"},
                {
                    "id": "checks",
                    "parallel": [
                        [{"step": "check_fraud"}],
                        [
                            {
                                "id": "address_check",
                                "call": "address-check",
                                "outputs": {"address_ok": "bool"},
                                "on_failure": address_failure,
                            }
                        ],
                    ],
                },
                {"id": "pay", "flow": "fraud_and_payment"},
                {
                    "id": "gift_wrap",
                    "call": "gift-wrap",
                    "compensation": "gift-wrap-cancel",
                    "outputs": {"wrap_fee_minor": "int"},
                    "on_failure": wrap_failure,
                },
                {
                    "id": "gift_note",
                    "call": "gift-note",
                    "when": {"field": "facts.wrap_fee_minor", "op": "gt", "value": 0},
                },
                {"step": "fulfill_shipments"},
            ],
        }
    )
    return expand(draft, lambda kind, version: FRAUD_AND_PAYMENT)


def new_order_id() -> str:
    return f"ord_{uuid.uuid4().hex[:12]}"


def calls(fast: FastOrders) -> list[tuple[str, str, int, bool]]:
    return [(c.endpoint, c.step_id, c.epoch, c.undo) for c in fast.stubs.called("call_endpoint")]


def event(fast: FastOrders, type: str) -> list[dict[str, Any]]:
    return [e.data for e in fast.stubs.journal if e.type == type]


async def test_an_order_runs_branches_a_fragment_and_calls_whose_outputs_gate_a_step(
    fast: FastOrders,
) -> None:
    fast.stubs.services = {
        "address-check": {"address_ok": True},
        "gift-wrap": {"wrap_fee_minor": 250},
    }
    order_id = new_order_id()
    view = await (
        await fast.start(order_input(order_id, gifted(), [MUG], concessions=TERMS))
    ).result()

    assert view.status == "COMPLETED"
    assert view.facts == {"address_ok": True, "wrap_fee_minor": 250}
    assert set(view.progress.values()) == {"done"}
    assert list(view.progress)[:4] == ["validate_order", "checks", "check_fraud", "address_check"]
    assert calls(fast) == [
        ("address-check", "address_check", 1, False),
        ("gift-wrap", "gift_wrap", 1, False),
        ("gift-note", "gift_note", 1, False),  # the fee was above 0
    ]
    # The fragment's steps run under the including id, and so do their keys.
    assert [name for name, _, _ in fast.stubs.money()] == ["authorize_payment", "capture_payment"]
    assert fast.stubs.money()[0][1] == f"{order_id}:pay.authorize_payment:1"
    types = fast.stubs.journal_types()
    assert (
        types.index("BranchesStarted") < types.index("FraudChecked") < types.index("BranchesJoined")
    )
    assert event(fast, "ServiceCalled")[1] == {
        "step": "gift_wrap",
        "endpoint": "gift-wrap",
        "status": 200,
        "outputs": {"wrap_fee_minor": 250},
    }


async def test_a_call_whose_output_is_zero_passes_the_gated_step_over(fast: FastOrders) -> None:
    fast.stubs.services = {
        "address-check": {"address_ok": True},
        "gift-wrap": {"wrap_fee_minor": 0},
    }
    view = await (
        await fast.start(order_input(new_order_id(), gifted(), [MUG], concessions=TERMS))
    ).result()

    assert view.status == "COMPLETED"
    assert [endpoint for endpoint, *_ in calls(fast)] == ["address-check", "gift-wrap"]
    skipped = [(e.data, e.reason) for e in fast.stubs.journal if e.type == "StepSkipped"]
    assert skipped == [({"step": "gift_note"}, "condition not met")]


async def test_a_refused_call_waits_in_review_and_a_retry_calls_again_with_a_new_epoch(
    fast: FastOrders,
) -> None:
    stubs = fast.stubs
    stubs.services = {
        "address-check": {"address_ok": True},
        "gift-wrap": ApplicationError(
            "gift-wrap answered 409: no paper", type="EndpointRefused", non_retryable=True
        ),
    }
    handle = await fast.start(order_input(new_order_id(), gifted(), [MUG], concessions=TERMS))
    await stubs.journaled("ReviewRequested")
    view = await handle.query(OrderWorkflow.view)
    assert view.status == "NEEDS_REVIEW"
    assert view.progress["gift_wrap"] == "waiting"
    assert view.review is not None and view.review.step == "gift_wrap"
    assert view.review.reason == "gift-wrap answered 409: no paper"

    stubs.services["gift-wrap"] = {"wrap_fee_minor": 0}
    await handle.execute_update("review", ReviewRequest(decision=ReviewDecision.RETRY))
    view = await handle.result()

    assert view.status == "COMPLETED"
    wraps = [(epoch, undo) for endpoint, _, epoch, undo in calls(fast) if endpoint == "gift-wrap"]
    assert wraps == [(1, False), (2, False)]


async def test_cancelling_after_a_call_asks_its_compensation_endpoint_once(
    fast: FastOrders,
) -> None:
    stubs = fast.stubs
    stubs.carrier_answers = False  # the order waits for the carrier after the call
    stubs.services = {"address-check": {"address_ok": True}, "gift-wrap": {"wrap_fee_minor": 0}}
    handle = await fast.start(order_input(new_order_id(), gifted(), [MUG], concessions=TERMS))
    await stubs.journaled("ShipmentBooked")

    await handle.execute_update("cancel", CancelRequest(reason=CancelReason.CUSTOMER))
    view = await handle.result()

    assert view.status == "CANCELLED"
    assert view.progress["gift_wrap"] == view.progress["pay.authorize_payment"] == "compensated"
    assert [c for c in calls(fast) if c[3]] == [("gift-wrap-cancel", "gift_wrap", 1, True)]
    assert event(fast, "ServiceCallUndone") == [
        {"step": "gift_wrap", "endpoint": "gift-wrap-cancel", "status": 200}
    ]
    assert view.totals.captured_minor == view.totals.refunded_minor


async def test_a_branch_that_fails_for_good_stops_its_sibling_and_the_order_is_undone(
    fast: FastOrders,
) -> None:
    """The address service refuses (the flow says compensate) while the fraud check waits
    for a person: the waiting branch stops there, and the order ends cancelled with no
    money moved."""
    stubs = fast.stubs
    stubs.services = {
        "address-check": ApplicationError(
            "address-check answered 422: no such street", type="EndpointRefused", non_retryable=True
        )
    }
    order = order_input(
        new_order_id(),
        gifted(address_failure="compensate"),
        [MUG],
        token="tok_risk_elevated",
        concessions=TERMS,
    )
    view = await (await fast.start(order)).result()

    assert view.status == "CANCELLED"
    assert view.cancel_note == "address-check answered 422: no such street"
    assert view.progress["address_check"] == "failed"
    assert stubs.money() == []
    assert event(fast, "BranchesStopped") == [{"block": "checks[1]", "step": "address_check"}]
    assert "BranchesJoined" not in stubs.journal_types()


async def test_two_branches_failing_at_once_undo_the_order_once(fast: FastOrders) -> None:
    refused = ApplicationError("answered 400", type="EndpointRefused", non_retryable=True)
    fast.stubs.services = {"address-check": refused, "gift-wrap": refused}
    flow = FlowDefinition.model_validate(
        {
            "type": "twice",
            "version": 1,
            "steps": [
                {"step": "reserve_inventory"},
                {"step": "authorize_payment"},
                {
                    "id": "checks",
                    "parallel": [
                        [{"id": "a", "call": "address-check", "on_failure": "compensate"}],
                        [{"id": "b", "call": "gift-wrap", "on_failure": "compensate"}],
                    ],
                },
                {"step": "fulfill_shipments"},
            ],
        }
    )
    view = await (
        await fast.start(order_input(new_order_id(), flow, [MUG], concessions=TERMS))
    ).result()

    assert view.status == "CANCELLED"
    types = fast.stubs.journal_types()
    assert types.count("OrderCancelled") == types.count("BranchesStopped") == 1
    assert [name for name, _, _ in fast.stubs.money()] == ["authorize_payment", "void_payment"]
    assert len(fast.stubs.called("release_inventory")) == 1


async def test_backtracking_to_a_block_runs_its_branches_again_with_new_epochs(
    fast: FastOrders,
) -> None:
    stubs = fast.stubs
    stubs.carrier_answers = False
    stubs.services = {"address-check": {"address_ok": True}, "gift-wrap": {"wrap_fee_minor": 0}}
    handle = await fast.start(order_input(new_order_id(), gifted(), [MUG], concessions=TERMS))
    await stubs.journaled("ShipmentBooked")

    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(
            "backtrack", BacktrackRequest(to_step="address_check", reason="inside a block")
        )
    assert "runs in the parallel block checks; backtrack to checks" in str(refused.value.cause)
    await handle.execute_update("backtrack", BacktrackRequest(to_step="checks", reason="recheck"))
    stubs.carrier_answers = True  # the shipment booked again is delivered
    view = await handle.result()

    assert view.status == "COMPLETED"
    checks = [
        (step, epoch) for endpoint, step, epoch, undo in calls(fast) if endpoint == "address-check"
    ]
    assert checks == [("address_check", 1), ("address_check", 2)]
    assert [e.type for e in stubs.journal].count("BranchesStarted") == 2


async def test_two_branches_in_review_at_once_are_decided_one_after_the_other(
    fast: FastOrders,
) -> None:
    stubs = fast.stubs
    refused = ApplicationError("answered 409", type="EndpointRefused", non_retryable=True)
    stubs.services = {"address-check": refused, "gift-wrap": refused}
    flow = FlowDefinition.model_validate(
        {
            "type": "both",
            "version": 1,
            "steps": [
                {
                    "id": "checks",
                    "parallel": [
                        [{"id": "a", "call": "address-check", "on_failure": "review"}],
                        [{"id": "b", "call": "gift-wrap", "on_failure": "review"}],
                    ],
                },
                {"step": "reserve_inventory"},
                {"step": "authorize_payment"},
                {"step": "fulfill_shipments"},
            ],
        }
    )
    handle = await fast.start(order_input(new_order_id(), flow, [MUG], concessions=TERMS))
    await stubs.journaled("ReviewRequested")
    first = (await handle.query(OrderWorkflow.view)).review
    assert first is not None
    stubs.services = {"address-check": {}, "gift-wrap": {}}
    await handle.execute_update("review", ReviewRequest(decision=ReviewDecision.RETRY))

    for _ in range(50):  # the other branch's review comes up once the first is decided
        second = (await handle.query(OrderWorkflow.view)).review
        if second is not None and second.step != first.step:
            break
    assert second is not None and {first.step, second.step} == {"a", "b"}
    await handle.execute_update("review", ReviewRequest(decision=ReviewDecision.RETRY))
    view = await handle.result()

    assert view.status == "COMPLETED"
    epochs = sorted((step, epoch) for _, step, epoch, _ in calls(fast))
    assert epochs == [("a", 1), ("a", 2), ("b", 1), ("b", 2)]
    assert [e.type for e in stubs.journal].count("ReviewDecided") == 2
