"""What the order view tells its readers: addresses with real countries, money that went back,
statuses that do not promise money or steps that will never come, and when an order is at rest."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from domain.addresses import Address
from domain.holds import Hold, HoldReason, Review
from domain.interventions import AddressCorrection
from domain.orders import Order
from domain.shipments import AllocatedLine, Shipment, ShipmentStatus
from domain.statuses import CancelReason, FinancialStatus, OrderStatus
from domain.view import at_rest
from tests.helpers.order_input import ADDRESS, NOW, placed


def delivered() -> Order:
    """Both lines shipped in one parcel and delivered; the flow's last step still named."""
    order = placed()
    order.payment.authorization_id, order.payment.authorized_minor = "auth_1", 6300
    order.current_step, order.current_stage = "fulfill_shipments", "fulfillment"
    lines = [
        AllocatedLine(line_id="ln_1", sku="MUG", quantity=2),
        AllocatedLine(line_id="ln_2", sku="LAMP", quantity=1),
    ]
    for line in order.lines:
        line.move("pending", "reserved", line.quantity)
    order.shipments = [Shipment(shipment_id="ord_view-1", warehouse="EWR", lines=lines)]
    order.progress_shipment("ord_view-1", ShipmentStatus.DELIVERED, 6300)
    return order


# -- addresses --------------------------------------------------------------------------------


@pytest.mark.parametrize("country", ["US", "GB", "DE", "JP", "BR"])
def test_iso_countries_are_accepted(country: str) -> None:
    assert Address(**ADDRESS, country=country).country == country


@pytest.mark.parametrize("country", ["XX", "ZZ", "UK", "EU"])
def test_a_code_outside_iso_3166_is_refused_naming_it(country: str) -> None:
    for build in (
        lambda: Address(**ADDRESS, country=country),
        lambda: AddressCorrection(shipping_address=ADDRESS | {"country": country}),
    ):
        with pytest.raises(ValidationError) as refused:
            build()
        [error] = refused.value.errors()
        assert error["loc"][-1] == "country"
        assert f"{country} is not an ISO 3166-1 alpha-2 country code" in error["msg"]


# -- money ------------------------------------------------------------------------------------


def test_a_void_shows_what_it_gave_back_beside_what_was_captured() -> None:
    order = placed()
    payment = order.payment
    payment.authorization_id, payment.authorized_minor, payment.captured_minor = "a", 9000, 1200
    assert order.view().totals.voided_minor == 0  # still held: nothing given back yet
    payment.void()
    view = order.view()
    assert (view.totals.authorized_minor, view.totals.captured_minor) == (9000, 1200)
    assert view.totals.voided_minor == 7800
    # An exchange charged later on its own authorization changes nothing given back.
    payment.captured_minor += 500
    assert order.view().totals.voided_minor == 7800
    # A new authorization (after a backtrack) replaces the voided one.
    payment.voided = False
    assert order.view().totals.voided_minor == 0


@pytest.mark.parametrize("outcome", [OrderStatus.CANCELLED, OrderStatus.FAILED])
def test_an_order_that_ended_without_taking_money_is_not_charged(outcome: OrderStatus) -> None:
    order = placed()
    assert order.view().financial_status == FinancialStatus.PENDING  # money is still to come
    order.outcome = outcome
    assert order.view().financial_status == FinancialStatus.NOT_CHARGED
    order.payment.authorization_id, order.payment.authorized_minor = "a", 6300
    order.payment.void()
    assert order.view().financial_status == FinancialStatus.VOIDED


# -- steps and shipments ----------------------------------------------------------------------


def test_no_step_is_shown_once_every_unit_is_handed_over() -> None:
    order = delivered()
    assert order.view().status == OrderStatus.DELIVERED
    assert order.view().current_step is None
    assert order.current_step == "fulfill_shipments"  # the workflow's own record is kept
    # Held after delivery: the flow has nothing left to run either.
    order.holds = [Hold(reason=HoldReason.OTHER, actor="operator", at=NOW)]
    assert (order.view().status, order.view().current_step) == (OrderStatus.ON_HOLD, None)
    running = placed()
    running.current_step = "authorize_payment"
    assert running.view().current_step == "authorize_payment"
    running.outcome, running.cancel_reason = OrderStatus.CANCELLED, CancelReason.STAFF
    assert running.view().current_step is None


def test_a_cancelled_shipment_shows_no_tracking_and_no_emptied_lines() -> None:
    order = placed()
    emptied = [
        AllocatedLine(line_id="ln_1", sku="MUG", quantity=0),
        AllocatedLine(line_id="ln_2", sku="LAMP", quantity=0),
    ]
    order.shipments = [
        Shipment(
            shipment_id="ord_view-1",
            warehouse="EWR",
            lines=[AllocatedLine(line_id="ln_1", sku="MUG", quantity=2)],
            status=ShipmentStatus.BOOKED,
            tracking_number="SIM1",
        ),
        Shipment(
            shipment_id="ord_view-2",
            warehouse="LAX",
            lines=emptied,
            status=ShipmentStatus.CANCELLED,
            tracking_number="SIM2",
        ),
    ]
    kept, cancelled = order.view().shipments
    assert (kept.tracking_number, [line.quantity for line in kept.lines]) == ("SIM1", [2])
    assert (cancelled.tracking_number, cancelled.lines) == (None, [])
    # The order's own record (which the workflow reads) is untouched.
    assert order.shipments[1].tracking_number == "SIM2" and len(order.shipments[1].lines) == 2


# -- at rest ----------------------------------------------------------------------------------


def test_an_order_on_its_way_is_not_at_rest() -> None:
    order = placed()
    assert at_rest(order.view()) is None
    order.current_step, order.current_stage = "fulfill_shipments", "fulfillment"
    assert at_rest(order.view()) is None


def test_an_ended_order_is_at_rest_saying_how_it_ended() -> None:
    order = placed()
    order.outcome, order.cancel_reason = OrderStatus.CANCELLED, CancelReason.PAYMENT_DECLINED
    assert at_rest(order.view()) == "ended: CANCELLED (PAYMENT_DECLINED)"
    order = delivered()
    order.outcome = OrderStatus.COMPLETED
    assert at_rest(order.view()) == "ended: COMPLETED"


def test_a_delivered_order_rests_until_its_return_window_closes() -> None:
    order = delivered()
    order.return_window_closes_at = NOW + timedelta(days=30)
    assert at_rest(order.view()) == (
        "at rest: DELIVERED, waiting for the return window to close on 2026-04-01T09:00:00+00:00"
    )


def test_orders_waiting_on_a_person_rest() -> None:
    order = placed()
    order.current_step = "check_fraud"
    order.holds = [Hold(reason=HoldReason.INCORRECT_ADDRESS, actor="operator", at=NOW)]
    assert at_rest(order.view()) == (
        "at rest: ON_HOLD, waiting for a release of its holds (INCORRECT_ADDRESS)"
    )
    order.review = Review(step="check_fraud", reason="score 75", kind="fraud", since=NOW)
    assert at_rest(order.view()) == (
        "at rest: NEEDS_REVIEW, waiting for a decision on check_fraud (fraud: score 75)"
    )
    pickup = placed()
    pickup.current_step, pickup.current_stage = "await_pickup", "fulfillment"
    assert at_rest(pickup.view()) == "at rest: FULFILLING, waiting for the customer to pick it up"


def test_a_preorder_rests_until_its_release_date() -> None:
    order = placed(release_date=date(2026, 6, 1))
    order.current_step = "await_release"
    expected = "at rest: PROCESSING, waiting for the release date 2026-06-01"
    assert at_rest(order.view()) == at_rest(order.view(), now=NOW) == expected
    assert at_rest(order.view(), now=datetime(2026, 6, 1, tzinfo=UTC)) is None
