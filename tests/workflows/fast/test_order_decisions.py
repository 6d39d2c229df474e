"""The order interpreter's decisions, in milliseconds: `OrderWorkflow` on the time-skipping
server with every activity a stub of the same name (`tests/helpers/stub_activities.py`).
Each test asserts what a user would see: the order's view, its journal, and which money
moved under which idempotency key. The end-to-end tests beside these run the same paths
through the API, the store and the dev server."""

from __future__ import annotations

import uuid

import pytest

import workers.main
from domain.holds import HoldReason
from domain.interventions import HoldRequest, ReleaseRequest, ReviewDecision, ReviewRequest
from domain.payment import FraudThresholds
from domain.returns import ConcessionTerms
from domain.shipments import ShipmentStatus
from tests.helpers.fast_orders import FastOrders
from tests.helpers.order_input import Item, order_input, seed_flow
from tests.helpers.stack import stack_settings
from tests.helpers.stub_activities import StubActivities, activity_names
from workflows.order import OrderWorkflow

TSHIRT = Item("TSHIRT-BLK-M", 1900, 2)
WARRANTY = Item("WARRANTY-2Y", 1500, 1, "digital")
EBOOK = Item("EBOOK-TEMPORAL", 2900, 1, "digital")
# A short return window: the test server skips it, and it ends well inside each start's
# 60 s execution timeout (`tests/helpers/fast_orders.py`).
TERMS = ConcessionTerms(return_window_s=5)


def new_order_id() -> str:
    return f"ord_{uuid.uuid4().hex[:12]}"


def test_the_stubs_answer_to_every_activity_the_worker_registers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A stub for each name `build_worker` registers: none of the order's calls can reach a
    real store, gateway or carrier, and an activity added to the worker shows up here."""
    monkeypatch.setattr(workers.main, "Worker", lambda client, **options: options)
    settings = stack_settings("sqlite:///unused.db", "unused:0")
    real = workers.main.build_worker(None, None, settings, object(), object())  # type: ignore[arg-type]
    stubs = StubActivities(None)  # type: ignore[arg-type]
    assert activity_names(stubs.activities()) == activity_names(real["activities"])


async def test_a_standard_order_completes(fast: FastOrders) -> None:
    """Two T-shirts and a warranty: the warranty's key is issued (and captured) at once, the
    shirts ship and are captured on dispatch; after the return window the points are granted
    and the order completes."""
    order_id = new_order_id()
    order = order_input(order_id, seed_flow("standard", 2), [TSHIRT, WARRANTY], concessions=TERMS)
    handle = await fast.start(order)
    view = await handle.result()

    assert view.status == "COMPLETED"
    assert view.financial_status == "PAID"
    assert view.fulfillment_status == "FULFILLED"
    assert view.totals.total_minor == view.totals.captured_minor == 5300
    shipment = view.shipments[0]
    assert len(view.shipments) == 1
    assert shipment.status == ShipmentStatus.DELIVERED
    assert shipment.tracking_number == f"TRK-{order_id}-1"
    assert [license.key for license in view.licenses] == ["KEY-ln_2-1"]
    assert [line.buckets.delivered for line in view.lines] == [2, 1]

    stubs = fast.stubs
    assert stubs.money() == [
        ("authorize_payment", f"{order_id}:authorize_payment:1", 5300),
        ("capture_payment", f"{order_id}:issue_licenses:1:capture", 1500),
        ("capture_payment", f"{order_id}:fulfill_shipments:1:capture:{order_id}-1", 3800),
    ]
    assert stubs.journal_types() == [
        "OrderPlaced",
        "OrderValidated",
        "FraudChecked",
        "InventoryReserved",
        "PaymentAuthorized",
        "PaymentCaptured",
        "LicensesIssued",
        "ShipmentCreated",
        "ShipmentBooked",
        "PaymentCaptured",
        "ShipmentDispatched",
        "ShipmentDelivered",
        "ReturnWindowOpened",
        "PointsAwarded",
        "PointsAwarded",
        "ReturnWindowClosed",
        "PointsGranted",
        "OrderCompleted",
    ]
    assert [event.seq for event in stubs.journal] == list(range(1, len(stubs.journal) + 1))
    assert stubs.views[-1] == view
    # The notice rides with the batch that journals OrderCompleted, not on an activity.
    completed = next(
        b for b in stubs.called("append_events") if "OrderCompleted" in b.events[-1].type
    )
    assert [n.kind for n in completed.notices] == ["order_completed"]
    assert [n.kind for n in stubs.notices] == ["order_completed"]
    assert not stubs.called("notify_customer")


async def test_a_digital_order_captures_at_once_and_issues_its_keys(fast: FastOrders) -> None:
    order_id = new_order_id()
    order = order_input(order_id, seed_flow("digital"), [EBOOK], concessions=TERMS)
    view = await (await fast.start(order)).result()

    assert view.status == "COMPLETED" and view.financial_status == "PAID"
    assert [license.key for license in view.licenses] == ["KEY-ln_1-1"]
    assert fast.stubs.money() == [
        ("authorize_payment", f"{order_id}:authorize_payment:1", 2900),
        ("capture_payment", f"{order_id}:capture_payment:1", 2900),
    ]
    assert not fast.stubs.called("reserve_inventory")
    assert not fast.stubs.called("book_shipment")


async def test_a_declined_authorization_cancels_the_order_without_a_capture(
    fast: FastOrders,
) -> None:
    order_id = new_order_id()
    order = order_input(order_id, seed_flow("standard", 2), [TSHIRT], token="tok_declined")
    view = await (await fast.start(order)).result()

    assert view.status == "CANCELLED"
    assert view.cancel_reason == "PAYMENT_DECLINED"
    assert view.financial_status == "NOT_CHARGED"
    # The decline's own words, without the error type in front.
    assert view.cancel_note is not None and view.cancel_note.startswith("the card was declined")
    assert view.lines[0].buckets.cancelled == 2
    stubs = fast.stubs
    assert stubs.money() == [("authorize_payment", f"{order_id}:authorize_payment:1", 3800)]
    # The stock it had reserved goes back.
    reservation = stubs.called("reserve_inventory")[0].reservation_id
    assert [r.reservation_id for r in stubs.called("release_inventory")] == [reservation]
    types = stubs.journal_types()
    assert types[types.index("PaymentDeclined") :] == [
        "PaymentDeclined",
        "StepFailed",
        "InventoryReleased",
        "OrderCancelled",
    ]
    assert not stubs.called("book_shipment") and not stubs.called("notify_customer")
    assert not stubs.notices


async def test_a_fraud_score_in_the_review_band_waits_for_a_person_then_goes_on(
    fast: FastOrders,
) -> None:
    order_id = new_order_id()
    order = order_input(
        order_id,
        seed_flow("standard", 2),
        [TSHIRT],
        token="tok_risk_elevated",
        concessions=TERMS,
    )
    handle = await fast.start(order)
    stubs = fast.stubs
    requested = await stubs.journaled("ReviewRequested")
    assert requested.data == {"step": "check_fraud", "kind": "fraud"}

    view = await handle.query(OrderWorkflow.view)
    assert view.status == "NEEDS_REVIEW"
    assert view.review is not None and view.review.step == "check_fraud"
    assert view.review.reason == "fraud score 75 needs a manual review"
    assert not stubs.called("reserve_inventory") and not stubs.money()

    answer = await handle.execute_update(
        "review", ReviewRequest(decision=ReviewDecision.APPROVE, note="known customer")
    )
    assert answer["review"] is None
    view = await handle.result()

    assert view.status == "COMPLETED"
    decided = next(event for event in stubs.journal if event.type == "ReviewDecided")
    assert decided.actor == "operator"
    assert decided.data == {"decision": "approve", "step": "check_fraud"}
    types = stubs.journal_types()
    assert types.index("ReviewDecided") < types.index("InventoryReserved")
    assert "StepSkipped" not in types
    assert [name for name, _, _ in stubs.money()] == ["authorize_payment", "capture_payment"]


async def test_a_fraud_score_past_the_block_cancels_before_any_money_moves(
    fast: FastOrders,
) -> None:
    order = order_input(
        new_order_id(), seed_flow("standard", 2), [TSHIRT], token="tok_risk_highest"
    )
    view = await (await fast.start(order)).result()

    assert view.status == "CANCELLED" and view.cancel_reason == "FRAUD"
    assert view.review is None
    assert fast.stubs.money() == []
    assert not fast.stubs.called("reserve_inventory")


async def test_the_fraud_thresholds_pinned_on_the_order_decide_its_review(
    fast: FastOrders,
) -> None:
    """`OMS_FRAUD_REVIEW_SCORE` and `OMS_FRAUD_BLOCK_SCORE` reach the order when it is
    placed: stricter ones send a score of 10 to review and cancel a 75."""
    strict = FraudThresholds(review_score=5, block_score=70)
    plain = order_input(new_order_id(), seed_flow("standard", 2), [TSHIRT], concessions=TERMS)
    handle = await fast.start(plain.model_copy(update={"fraud": strict}))
    await fast.stubs.journaled("ReviewRequested")
    view = await handle.query(OrderWorkflow.view)
    assert view.status == "NEEDS_REVIEW"
    assert view.review is not None and view.review.reason == "fraud score 10 needs a manual review"
    await handle.execute_update("review", ReviewRequest(decision=ReviewDecision.CANCEL))
    assert (await handle.result()).status == "CANCELLED"  # nothing left open on the server

    risky = order_input(
        new_order_id(), seed_flow("standard", 2), [TSHIRT], token="tok_risk_elevated"
    )
    view = await (await fast.start(risky.model_copy(update={"fraud": strict}))).result()
    assert view.status == "CANCELLED" and view.cancel_reason == "FRAUD"
    assert view.cancel_note is not None and view.cancel_note.startswith("fraud score 75 blocks")


async def test_a_held_order_waits_after_delivery_until_released(fast: FastOrders) -> None:
    """The hold lands while the carrier works; the shipment still arrives, and the order
    stays ON_HOLD until the release."""
    order_id = new_order_id()
    stubs = fast.stubs
    stubs.carrier_answers = False
    order = order_input(order_id, seed_flow("standard", 2), [TSHIRT], concessions=TERMS)
    handle = await fast.start(order)
    await stubs.journaled("ShipmentBooked")

    held = await handle.execute_update(
        "hold", HoldRequest(reason=HoldReason.INCORRECT_ADDRESS, note="check the street")
    )
    assert held["status"] == "ON_HOLD"
    await stubs.deliver(order_id, f"{order_id}-1")
    await stubs.journaled("ShipmentDelivered")
    view = await handle.query(OrderWorkflow.view)
    assert view.status == "ON_HOLD"
    assert view.shipments[0].status == ShipmentStatus.DELIVERED
    assert "ReturnWindowOpened" not in stubs.journal_types()

    released = await handle.execute_update("release", ReleaseRequest())
    assert released["holds"] == []
    view = await handle.result()

    assert view.status == "COMPLETED"
    types = stubs.journal_types()
    assert (
        types.index("OrderHeld")
        < types.index("ShipmentDelivered")
        < types.index("HoldReleased")
        < types.index("ReturnWindowOpened")
    )
    release = next(event for event in stubs.journal if event.type == "HoldReleased")
    assert release.data == {"holds": ["INCORRECT_ADDRESS"], "remaining": 0}


async def test_a_release_signal_without_input_is_journaled_as_rejected(fast: FastOrders) -> None:
    order_id = new_order_id()
    stubs = fast.stubs
    stubs.carrier_answers = False
    order = order_input(order_id, seed_flow("standard", 2), [TSHIRT], concessions=TERMS)
    handle = await fast.start(order)
    await stubs.journaled("ShipmentBooked")

    await handle.signal("release")  # no input at all, as the Web UI's empty form sends
    rejected = await stubs.journaled("InterventionRejected")
    assert rejected.reason == (
        "the signal's body could not be read: no input; expected one JSON object"
    )
    assert rejected.data == {"intervention": "release", "via": "signal", "body": []}

    await stubs.deliver(order_id, f"{order_id}-1")
    view = await handle.result()
    assert view.status == "COMPLETED"
    assert view.holds == []
    assert "HoldReleased" not in stubs.journal_types()
