"""Properties of the order domain, checked on random orders driven through random operations.

A state machine places an order (1–4 lines, physical or digital, random quantities and
prices) and applies what the order workflow applies, through the domain's own methods
(`Order.reserve`, `Order.release`, `Order.progress_shipment`, `OrderLine.move`,
`Order.cancellable`, `Order.returnable`, `Order.refundable_minor`): authorizing, reserving in
one or two warehouses, opening shipments, carrier reports in any order (late, repeated,
backwards), cancelling units or the whole order, issuing digital keys, holds and reviews,
opening the return window, returns (received, rejected, exchanged), appeasements and
completion. The money the workflow moves by plain arithmetic (a refund, a capture) is moved
here the same way, bounded as the workflow bounds it. Invalid operations (a move beyond a
bucket, an unknown or non-exclusive bucket, a reservation beyond what waits, an unknown
line or shipment) must raise and change nothing.

After every step: the exclusive buckets of each line add up to its quantity and none is
negative; `refunded` per line stays within cancelled + returned; refunded ≤ captured ≤
authorized + what exchanges charged on their own authorizations; `refundable_minor` ≥ 0;
reserved units are exactly those of allocations whose goods have not left; `status`,
`financial_status` and `fulfillment_status` match their definitions, and a terminal status
never changes; the totals equal the active, non-returned units times their prices; the view
survives a JSON round trip (it travels with every journal batch).

Examples tried (`pytest tests/domain/test_properties.py --hypothesis-show-statistics`):
the state machine 200 runs of up to 50 operations each (reaching DELIVERED in about a third
of runs, returns and exchanges in about 5–15%, COMPLETED in about 6–10%); single moves
1,000; reservations 500; derived statuses on any buckets and payment 500. About 10 s on an
idle machine.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from domain import order_state
from domain.flows import FlowDefinition
from domain.holds import Hold, HoldReason, Review
from domain.lines import LineBuckets, OrderLine, PricedLine
from domain.order_state import OrderInput
from domain.orders import Order
from domain.payment import Payment
from domain.returns import (
    RETURN_ENDS,
    Appeasement,
    ReceivedLine,
    Return,
    ReturnLine,
    ReturnStatus,
)
from domain.shipments import AllocatedLine, Allocation, Shipment, ShipmentStatus
from domain.statuses import (
    TERMINAL_STATUSES,
    CancelReason,
    FinancialStatus,
    FulfillmentStatus,
    OrderStatus,
)
from domain.view import OrderView, financial_status, fulfillment_status, order_status
from workflows.rules import cancel

ROOT = Path(__file__).resolve().parents[2]
FLOW = FlowDefinition.model_validate(
    json.loads((ROOT / "store" / "seed" / "flows" / "standard.v1.json").read_text())
)
EXCLUSIVE = ("pending", "reserved", "shipped", "delivered", "cancelled", "returned")
NOT_A_BUCKET = ("refunded", "lost", "")
WAREHOUSES = ("EWR", "LAX")
NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
ADDRESS = {
    "name": "Ada",
    "line1": "1 Main St",
    "city": "Springfield",
    "postal_code": "12345",
    "country": "US",
}
OPEN_SHIPMENT = (ShipmentStatus.PENDING, ShipmentStatus.BOOKED)

line_specs = st.lists(
    st.tuples(
        st.integers(1, 6),  # quantity
        st.integers(0, 20_000),  # unit price, minor units
        st.sampled_from(["physical", "physical", "digital"]),
    ),
    min_size=1,
    max_size=4,
)


def place(specs: list[tuple[int, int, str]]) -> Order:
    return order_state.place(
        OrderInput(
            order_id="ord_prop",
            customer_id="cus_prop",
            order_type="standard",
            currency="USD",
            lines=[
                PricedLine(
                    line_id=f"ln_{index + 1}",
                    sku=f"SKU-{index + 1}",
                    name=f"item {index + 1}",
                    unit_price_minor=price,
                    quantity=quantity,
                    kind=kind,
                )
                for index, (quantity, price, kind) in enumerate(specs)
            ],
            shipping_address=ADDRESS,
            payment_token="tok_visa",
            placed_at=NOW,
            flow=FLOW,
        )
    )


def snapshot(order: Order) -> dict[str, Any]:
    return order.model_dump(mode="json")


def active(order: Order) -> int:
    return sum(line.quantity - line.buckets.cancelled for line in order.lines)


def sent(order: Order) -> int:
    return sum(
        line.buckets.shipped + line.buckets.delivered + line.buckets.returned
        for line in order.lines
    )


# -- the derived statuses, restated from their definitions -------------------------------------


def expected_fulfillment(order: Order) -> FulfillmentStatus:
    waiting = sum(line.buckets.pending + line.buckets.reserved for line in order.lines)
    if active(order) and waiting == 0:
        return FulfillmentStatus.FULFILLED  # every active unit has left (or been handed over)
    return FulfillmentStatus.PARTIALLY_FULFILLED if sent(order) else FulfillmentStatus.UNFULFILLED


def expected_financial(order: Order) -> FinancialStatus:
    payment = order.payment
    if payment.refunded_minor:
        if payment.refunded_minor == payment.captured_minor:
            return FinancialStatus.REFUNDED
        return FinancialStatus.PARTIALLY_REFUNDED
    if payment.captured_minor:
        if payment.captured_minor >= order.total_minor:
            return FinancialStatus.PAID
        return FinancialStatus.PARTIALLY_PAID
    if payment.voided:
        return FinancialStatus.VOIDED
    if payment.authorized_minor:
        return FinancialStatus.AUTHORIZED
    if order.outcome in (OrderStatus.CANCELLED, OrderStatus.FAILED):
        return FinancialStatus.NOT_CHARGED  # ended, and no money was ever held or taken
    return FinancialStatus.PENDING


def expected_status(order: Order) -> OrderStatus:
    if order.outcome is not None:
        return order.outcome
    if order.review is not None:
        return OrderStatus.NEEDS_REVIEW
    if order.holds:
        return OrderStatus.ON_HOLD
    units = active(order)
    handed = sum(line.buckets.delivered + line.buckets.returned for line in order.lines)
    if units and handed == units:
        return OrderStatus.DELIVERED
    if units and sent(order) == units:
        return OrderStatus.SHIPPED
    if sent(order):
        return OrderStatus.PARTIALLY_SHIPPED
    if order.current_stage == "fulfillment":
        return OrderStatus.FULFILLING
    return OrderStatus.RECEIVED if order.current_step is None else OrderStatus.PROCESSING


def check_lines(order: Order) -> None:
    for line in order.lines:
        buckets = line.buckets
        for name in EXCLUSIVE:
            assert getattr(buckets, name) >= 0, (line.line_id, name, buckets)
        assert buckets.total() == line.quantity, (line.line_id, buckets, line.quantity)
        assert 0 <= buckets.refunded <= buckets.cancelled + buckets.returned, buckets


def check_statuses(order: Order) -> OrderView:
    view = order.view()
    assert view.status == order_status(order) == expected_status(order)
    assert view.fulfillment_status == fulfillment_status(order) == expected_fulfillment(order)
    assert view.financial_status == financial_status(order) == expected_financial(order)
    if view.fulfillment_status == FulfillmentStatus.FULFILLED:
        assert all(line.buckets.pending + line.buckets.reserved == 0 for line in order.lines)
    if view.status == OrderStatus.DELIVERED:
        assert all(
            line.buckets.delivered + line.buckets.returned == line.active_quantity
            for line in order.lines
        )
    return view


def check_totals(order: Order, view: OrderView) -> None:
    kept = sum(
        (line.quantity - line.buckets.cancelled - line.buckets.returned) * line.unit_price_minor
        for line in order.lines
    )
    totals = view.totals
    assert totals.total_minor == order.total_minor == kept >= 0
    assert totals.subtotal_minor == sum(
        line.quantity * line.unit_price_minor for line in order.lines
    )
    assert totals.subtotal_minor - totals.cancelled_minor - totals.returned_minor == kept
    assert totals.captured_minor == order.payment.captured_minor
    assert totals.refunded_minor == order.payment.refunded_minor
    assert totals.appeased_minor == sum(a.amount_minor for a in order.appeasements)
    payment = order.payment
    assert totals.voided_minor == (payment.voided_minor if payment.voided else 0)


# -- the state machine -------------------------------------------------------------------------


def op(weight: int, enabled: Callable[[Any], bool] = lambda machine: True) -> Callable:
    """An operation the machine may apply when `enabled`; heavier ones are drawn more often,
    so that runs get past reservation and shipping to returns rather than all cancelling."""

    def register(method: Callable) -> Callable:
        method.op = (weight, enabled)  # type: ignore[attr-defined]
        return method

    return register


class OrderMachine(RuleBasedStateMachine):
    """One order, driven as the order workflow drives it."""

    order: Order

    @initialize(specs=line_specs)
    def placed(self, specs: list[tuple[int, int, str]]) -> None:
        self.order = place(specs)
        self.charged_extra = 0  # exchange differences, captured on authorizations of their own
        self.captures: dict[str, bool] = {}  # shipment id → captures its lines on dispatch
        self.shipments = 0
        self.returns = 0
        self.previous = self.order.view().status
        self.now = NOW

    # -- helpers ---------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Interventions are taken: the flow has not ended, the return window is not open."""
        return self.order.outcome is None and self.order.return_window_closes_at is None

    @property
    def window_open(self) -> bool:
        return self.order.outcome is None and self.order.return_window_closes_at is not None

    @property
    def authorized(self) -> bool:
        payment = self.order.payment
        return payment.authorization_id is not None and not payment.voided

    def shipment_for(self, allocation: Allocation) -> Shipment | None:
        for shipment in self.order.shipments:
            if (
                shipment.reservation_id == allocation.reservation_id
                and shipment.warehouse == allocation.warehouse
                and shipment.status != ShipmentStatus.CANCELLED
            ):
                return shipment
        return None

    def refund(self, amount: int) -> int:
        """Refund to the original payment, capped by what the order may still give back."""
        amount = min(amount, self.order.refundable_minor)
        if amount <= 0 or self.order.payment.authorization_id is None:
            return 0
        self.order.payment.refunded_minor += amount
        return amount

    def expect_refusal(self, errors: tuple[type[Exception], ...], action: Any) -> None:
        before = snapshot(self.order)
        with pytest.raises(errors):
            action()
        assert snapshot(self.order) == before, "a refused operation changed the order"

    def finish_cancelled(self, reason: CancelReason) -> None:
        """Undo fulfill_shipments, authorize_payment and reserve_inventory; cancel the rest."""
        order = self.order
        for shipment in reversed(order.shipments):
            assert not shipment.has_left
            if shipment.status in OPEN_SHIPMENT:
                shipment.status = ShipmentStatus.CANCELLED
        if self.authorized:
            self.refund(order.payment.captured_minor - order.payment.refunded_minor)
            order.payment.void()
        for allocation in reversed(list(order.allocations)):
            order.release(allocation)
            order.allocations.remove(allocation)
        for line in order.lines:
            line.move("pending", "cancelled", line.buckets.pending)
        order.cancel_reason = reason
        order.review = None
        order.outcome = OrderStatus.CANCELLED

    @rule(data=st.data())
    def act(self, data: st.DataObject) -> None:
        weighted = [
            name
            for name, method in vars(OrderMachine).items()
            if hasattr(method, "op") and method.op[1](self)
            for _ in range(method.op[0])
        ]
        name = data.draw(st.sampled_from(weighted), label="operation")
        event(f"op {name}")
        getattr(self, name)(data)

    # -- the flow --------------------------------------------------------------------------

    @op(2, lambda self: self.running and self.order.current_step is None)
    def start_flow(self, data: st.DataObject) -> None:
        self.order.current_step = "check_fraud"
        self.order.current_stage = "processing"

    @op(4, lambda self: self.running and self.order.payment.authorization_id is None)
    def authorize(self, data: st.DataObject) -> None:
        payment = self.order.payment
        payment.authorization_id = "auth_1"
        payment.authorized_minor = self.order.total_minor
        payment.authorized_at = self.now
        payment.voided = False
        self.order.current_step = "authorize_payment"

    @op(
        4,
        lambda self: (
            self.running
            and not self.order.allocations
            and any(line.buckets.pending and line.kind == "physical" for line in self.order.lines)
        ),
    )
    def reserve(self, data: st.DataObject) -> None:
        """Every physical unit waiting is reserved, split over one or two warehouses."""
        per_warehouse: dict[str, list[AllocatedLine]] = {w: [] for w in WAREHOUSES}
        wanted = {}
        for line in self.order.lines:
            if line.kind != "physical" or not line.buckets.pending:
                continue
            wanted[line.line_id] = line.buckets.pending
            first = data.draw(st.integers(0, line.buckets.pending), label=f"EWR {line.line_id}")
            for warehouse, quantity in zip(
                WAREHOUSES, (first, line.buckets.pending - first), strict=True
            ):
                if quantity:
                    per_warehouse[warehouse].append(
                        AllocatedLine(line_id=line.line_id, sku=line.sku, quantity=quantity)
                    )
        allocations = [
            Allocation(reservation_id="ord_prop:reserve_inventory:1", warehouse=w, lines=items)
            for w, items in per_warehouse.items()
            if items
        ]
        self.order.reserve(allocations)
        for line_id in wanted:
            line = self.order.line(line_id)
            assert line.buckets.pending == 0 and line.buckets.reserved >= wanted[line_id]
        self.order.current_step = "reserve_inventory"

    @op(1, lambda self: self.order.outcome is None)
    def reserve_beyond_what_waits(self, data: st.DataObject) -> None:
        """A reservation for more than waits, or for a line the order does not have, is
        refused whole: no bucket moves and the allocations stay as they were."""
        line = data.draw(st.sampled_from(self.order.lines), label="line")
        good = [
            AllocatedLine(line_id=other.line_id, sku=other.sku, quantity=other.buckets.pending)
            for other in self.order.lines
            if other.buckets.pending and other.line_id != line.line_id
        ]
        bad = data.draw(
            st.sampled_from(
                [
                    AllocatedLine(
                        line_id=line.line_id, sku=line.sku, quantity=line.buckets.pending + 1
                    ),
                    AllocatedLine(line_id="ln_missing", sku="NOPE", quantity=1),
                ]
            ),
            label="bad item",
        )
        items = data.draw(st.permutations([*good, bad]), label="items")
        allocations = [Allocation(reservation_id="bad", warehouse="EWR", lines=items)]
        self.expect_refusal((ValueError, KeyError), lambda: self.order.reserve(allocations))

    @op(
        5,
        lambda self: (
            self.running
            and self.authorized
            and any(
                sum(i.quantity for i in a.lines) and self.shipment_for(a) is None
                for a in self.order.allocations
            )
        ),
    )
    def open_shipment(self, data: st.DataObject) -> None:
        order = self.order
        waiting = [
            a
            for a in order.allocations
            if sum(i.quantity for i in a.lines) and self.shipment_for(a) is None
        ]
        allocation = data.draw(st.sampled_from(waiting), label="allocation")
        self.shipments += 1
        shipment = Shipment(
            shipment_id=f"ord_prop-{self.shipments}",
            warehouse=allocation.warehouse,
            reservation_id=allocation.reservation_id,
            lines=[item.model_copy() for item in allocation.lines if item.quantity],
        )
        order.shipments.append(shipment)
        payment = order.payment
        self.captures[shipment.shipment_id] = (
            payment.captured_minor - payment.refunded_minor < order.total_minor
        )
        order.current_step = "fulfill_shipments"
        order.current_stage = "fulfillment"

    @op(10, lambda self: bool(self.order.shipments))
    def carrier_reports(self, data: st.DataObject) -> None:
        """Any report on any shipment, in any order: late, repeated or backwards ones are
        old news and change nothing; forward ones move units and capture on dispatch."""
        order = self.order
        shipment = data.draw(st.sampled_from(order.shipments), label="shipment")
        status = data.draw(st.sampled_from(list(ShipmentStatus)), label="status")
        captured = shipment.captured_minor
        progress = [ShipmentStatus.DISPATCHED, ShipmentStatus.IN_TRANSIT, ShipmentStatus.DELIVERED]
        if (
            status in progress
            and shipment.status in OPEN_SHIPMENT
            and self.captures[shipment.shipment_id]
        ):
            captured = order.amount_for(shipment.lines)  # the shipment captures as it leaves
        before = snapshot(order)
        moved = order.progress_shipment(shipment.shipment_id, status, captured)
        if not moved:
            assert snapshot(order) == before
        else:
            assert shipment.status == status

    @op(1)
    def report_for_unknown_shipment(self, data: st.DataObject) -> None:
        self.expect_refusal(
            (KeyError,),
            lambda: self.order.progress_shipment("ord_prop-99", ShipmentStatus.DELIVERED, 10**9),
        )

    @op(
        3,
        lambda self: (
            self.running
            and self.authorized
            and any(line.kind == "digital" and line.buckets.pending for line in self.order.lines)
        ),
    )
    def issue_licenses(self, data: st.DataObject) -> None:
        order = self.order
        digital = [line for line in order.lines if line.kind == "digital" and line.buckets.pending]
        amount = sum(line.unit_price_minor * line.buckets.pending for line in digital)
        uncaptured = order.total_minor - order.payment.captured_minor
        if uncaptured > 0:
            order.payment.captured_minor += min(amount, uncaptured)
        for line in digital:
            line.move("pending", "delivered", line.buckets.pending)

    # -- interventions ---------------------------------------------------------------------

    @op(1, lambda self: self.running)
    def hold(self, data: st.DataObject) -> None:
        reason = data.draw(st.sampled_from(list(HoldReason)), label="reason")
        if all(hold.reason != reason for hold in self.order.holds):
            self.order.holds.append(Hold(reason=reason, actor="operator", at=self.now))

    @op(2, lambda self: self.running and bool(self.order.holds))
    def release_holds(self, data: st.DataObject) -> None:
        self.order.holds = []

    @op(1, lambda self: self.running and self.order.review is None)
    def needs_review(self, data: st.DataObject) -> None:
        self.order.review = Review(
            step="check_fraud", reason="fraud score 70", kind="fraud", since=self.now
        )

    @op(3, lambda self: self.running and self.order.review is not None)
    def approve_review(self, data: st.DataObject) -> None:
        self.order.review = None

    @op(
        1,
        lambda self: (
            self.running and any(self.order.cancellable(line.line_id) for line in self.order.lines)
        ),
    )
    def cancel_units(self, data: st.DataObject) -> None:
        """Cancel some units of one line: waiting units first, then reserved ones, newest
        allocation first, taking them out of shipments that have not left."""
        order = self.order
        line = data.draw(
            st.sampled_from([x for x in order.lines if order.cancellable(x.line_id)]), label="line"
        )
        wanted = data.draw(st.integers(1, order.cancellable(line.line_id)), label="units")
        # The workflow's own rules pick the units (rules.cancel); shipments that have not
        # left always give them up here.
        units = {line.line_id: wanted}
        taken = cancel.from_pending(order, units)
        line.move("pending", "cancelled", taken[line.line_id])
        for allocation in reversed(order.allocations):
            remove = cancel.from_allocation(allocation, units, taken)
            if not remove:
                continue
            shipment = self.shipment_for(allocation)
            if shipment is not None:
                if shipment.has_left:
                    continue  # the shipment refuses: it was dispatched
                for gone in remove:
                    for carried in shipment.lines:
                        if carried.line_id == gone.line_id:
                            carried.quantity -= gone.quantity
                if not any(carried.quantity for carried in shipment.lines):
                    shipment.status = ShipmentStatus.CANCELLED
            for gone in remove:
                item = next(i for i in allocation.lines if i.line_id == gone.line_id)
                item.quantity -= gone.quantity
                line.move("reserved", "cancelled", gone.quantity)
                taken[line.line_id] += gone.quantity
        assert taken[line.line_id] == wanted  # units that had not left can always be cancelled
        if (excess := cancel.excess(order)) > 0:
            event("cancelled units refunded")
            order.payment.refunded_minor += excess
            buckets = line.buckets
            buckets.refunded = min(
                buckets.refunded + taken[line.line_id], buckets.cancelled + buckets.returned
            )
        if all(x.active_quantity == 0 for x in order.lines):
            self.finish_cancelled(CancelReason.CUSTOMER)

    @op(1, lambda self: self.running and sent(self.order) == 0)
    def cancel_order(self, data: st.DataObject) -> None:
        reason = data.draw(st.sampled_from(list(CancelReason)), label="reason")
        self.finish_cancelled(reason)

    @op(1)
    def invalid_move(self, data: st.DataObject) -> None:
        """A move beyond what a bucket holds, a negative one, or one naming something that is
        not an exclusive bucket is refused with ValueError and moves nothing."""
        line = data.draw(st.sampled_from(self.order.lines), label="line")
        kind = data.draw(st.sampled_from(["too many", "negative", "bad source", "bad target"]))
        source = data.draw(st.sampled_from(EXCLUSIVE), label="source")
        target = data.draw(st.sampled_from([b for b in EXCLUSIVE if b != source]), label="target")
        have = getattr(line.buckets, source)
        quantity = data.draw(st.integers(0, have), label="quantity")
        if kind == "too many":
            quantity = have + data.draw(st.integers(1, 5))
        elif kind == "negative":
            quantity = -data.draw(st.integers(1, 5))
        elif kind == "bad source":
            source = data.draw(st.sampled_from(NOT_A_BUCKET))
        else:
            target = data.draw(st.sampled_from(NOT_A_BUCKET))
        self.expect_refusal((ValueError,), lambda: line.move(source, target, quantity))

    # -- after delivery --------------------------------------------------------------------

    @op(
        6,
        lambda self: (
            self.running
            and self.order.payment.authorization_id is not None
            and not self.order.holds
            and self.order.review is None
            and active(self.order) > 0
            and all(
                line.buckets.pending + line.buckets.reserved + line.buckets.shipped == 0
                for line in self.order.lines
            )
        ),
    )
    def open_return_window(self, data: st.DataObject) -> None:
        """Everything is delivered: give back what the authorization did not capture, then
        take returns and appeasements until the window closes."""
        payment = self.order.payment
        if not payment.voided and payment.captured_minor < payment.authorized_minor:
            payment.void()
        self.order.current_step = None
        self.order.return_window_closes_at = self.now + timedelta(days=30)

    @op(
        10,
        lambda self: (
            self.window_open
            and any(
                line.kind == "physical" and self.order.returnable(line.line_id) > 0
                for line in self.order.lines
            )
        ),
    )
    def request_return(self, data: st.DataObject) -> None:
        order = self.order
        candidates = [
            line
            for line in order.lines
            if line.kind == "physical" and order.returnable(line.line_id) > 0
        ]
        chosen = data.draw(
            st.lists(st.sampled_from(candidates), min_size=1, unique_by=lambda x: x.line_id),
            label="lines",
        )
        lines = []
        for line in chosen:
            quantity = data.draw(st.integers(1, order.returnable(line.line_id)), label="units")
            exchange = data.draw(st.none() | st.integers(0, 20_000), label="replacement price")
            lines.append(
                ReturnLine(
                    line_id=line.line_id,
                    sku=line.sku,
                    quantity=quantity,
                    unit_price_minor=line.unit_price_minor,
                    warehouse="EWR",
                    replacement_sku=None if exchange is None else "SWAP-1",
                    replacement_name=None if exchange is None else "swap",
                    replacement_unit_price_minor=exchange,
                )
            )
        owed = sum(
            line.quantity
            * (
                line.unit_price_minor
                if line.replacement_unit_price_minor is None
                else max(line.unit_price_minor - line.replacement_unit_price_minor, 0)
            )
            for line in lines
        )
        self.returns += 1
        order.returns.append(
            Return(
                return_id=f"ord_prop-{self.returns}",
                lines=lines,
                reason="does not fit",
                requested_by="customer:cus_prop",
                requested_at=self.now,
                status=ReturnStatus.AWAITING_RECEIPT,
                refund_limit_minor=max(min(owed, order.refundable_minor), 0),
            )
        )

    @op(8, lambda self: self.window_open and any(r.is_open for r in self.order.returns))
    def return_ends(self, data: st.DataObject) -> None:
        end = data.draw(st.sampled_from(["received", "rejected", "expired"]), label="end")
        order = self.order
        ret = data.draw(st.sampled_from([r for r in order.returns if r.is_open]), label="return")
        if end != "received":
            ret.status = ReturnStatus.REJECTED if end == "rejected" else ReturnStatus.EXPIRED
            return
        ret.received = [
            ReceivedLine(
                line_id=line.line_id,
                quantity=data.draw(st.integers(1, line.quantity), label="received"),
                condition="resellable",
            )
            for line in ret.lines
        ]
        for line_id, quantity in ret.received_units().items():
            order.line(line_id).move("delivered", "returned", quantity)
        ret.refunded_minor = min(ret.refund_due_minor(), ret.refund_limit_minor)
        ret.status = ReturnStatus.COMPLETED  # the held limit is free again from here on
        order.payment.refunded_minor += ret.refunded_minor
        exchanges = []
        for line_id, quantity in ret.received_units().items():
            line = order.line(line_id)
            if ret.line(line_id).replacement_sku is None:
                if ret.refunded_minor:
                    line.buckets.refunded = min(
                        line.buckets.refunded + quantity,
                        line.buckets.cancelled + line.buckets.returned,
                    )
            else:
                exchanges.append((line_id, quantity))
        event("return received")
        for line_id, quantity in exchanges:
            event("exchange shipped")
            self.ship_exchange(ret, line_id, quantity)

    def ship_exchange(self, ret: Return, line_id: str, quantity: int) -> None:
        """The replacement becomes a new line; a dearer one is charged the difference on an
        authorization of its own, a cheaper one refunds it."""
        order = self.order
        returned = ret.line(line_id)
        assert returned.replacement_unit_price_minor is not None
        new_price = returned.replacement_unit_price_minor
        replacement = OrderLine(
            line_id=f"ln_{len(order.lines) + 1}",
            sku="SWAP-1",
            name="swap",
            unit_price_minor=new_price,
            quantity=quantity,
            buckets=LineBuckets(pending=quantity),
            replaces=line_id,
        )
        order.lines.append(replacement)
        difference = (new_price - returned.unit_price_minor) * quantity
        if difference > 0:
            order.payment.extra_authorizations.append(f"auth_x{len(order.lines)}")
            order.payment.captured_minor += difference
            self.charged_extra += difference
        elif difference < 0:
            self.refund(-difference)
        allocation = Allocation(
            reservation_id=f"{ret.return_id}:exchange:{line_id}",
            warehouse="EWR",
            lines=[AllocatedLine(line_id=replacement.line_id, sku="SWAP-1", quantity=quantity)],
        )
        order.allocations.append(allocation)
        replacement.move("pending", "reserved", quantity)
        self.shipments += 1
        shipment_id = f"ord_prop-{self.shipments}"
        order.shipments.append(
            Shipment(
                shipment_id=shipment_id,
                warehouse="EWR",
                reservation_id=allocation.reservation_id,
                lines=[item.model_copy() for item in allocation.lines],
            )
        )
        self.captures[shipment_id] = False  # settled above: nothing more to charge

    @op(3, lambda self: self.window_open)
    def appease(self, data: st.DataObject) -> None:
        """Goodwill up to what the order may still give back; above it is refused."""
        order = self.order
        limit = order.refundable_minor
        amount = data.draw(st.integers(1, max(limit, 0) + 500), label="amount")
        if amount > limit:
            return  # refused by the check: nothing changes
        refunded = self.refund(amount)
        assert refunded == amount
        event("appeasement issued")
        order.appeasements.append(
            Appeasement(
                appeasement_id=f"ord_prop-A{len(order.appeasements) + 1}",
                amount_minor=refunded,
                reason="late",
                actor="operator",
                at=self.now,
            )
        )

    @op(
        1,
        lambda self: (
            self.window_open
            and not any(r.is_open for r in self.order.returns)
            and all(line.buckets.pending + line.buckets.reserved == 0 for line in self.order.lines)
            and all(
                s.status in (ShipmentStatus.DELIVERED, ShipmentStatus.CANCELLED)
                for s in self.order.shipments
            )
        ),
    )
    def complete(self, data: st.DataObject) -> None:
        self.order.outcome = OrderStatus.COMPLETED

    # -- the properties --------------------------------------------------------------------

    @invariant()
    def buckets_add_up(self) -> None:
        check_lines(self.order)

    @invariant()
    def money_is_bounded(self) -> None:
        payment = self.order.payment
        assert 0 <= payment.refunded_minor <= payment.captured_minor, payment
        if payment.authorization_id is not None:
            assert payment.captured_minor <= payment.authorized_minor + self.charged_extra, payment
        else:
            assert payment.captured_minor == 0
        assert self.order.refundable_minor >= 0
        for ret in self.order.returns:
            assert 0 <= ret.refunded_minor <= ret.refund_limit_minor
        open_limits = sum(
            r.refund_limit_minor for r in self.order.returns if r.status not in RETURN_ENDS
        )
        assert open_limits <= payment.captured_minor - payment.refunded_minor

    @invariant()
    def reserved_units_are_allocated(self) -> None:
        for line in self.order.lines:
            allocated = sum(
                item.quantity
                for allocation in self.order.allocations
                if not ((s := self.shipment_for(allocation)) is not None and s.has_left)
                for item in allocation.lines
                if item.line_id == line.line_id
            )
            assert line.buckets.reserved == allocated, (line.line_id, line.buckets)

    @invariant()
    def statuses_and_totals_agree(self) -> None:
        view = check_statuses(self.order)
        check_totals(self.order, view)
        payment = self.order.payment
        if payment.voided:
            # What the void gave back: the order's own authorization less its captures,
            # whatever exchanges charged on their own authorizations since.
            own = payment.captured_minor - self.charged_extra
            assert view.totals.voided_minor == payment.authorized_minor - own >= 0
        if self.previous in TERMINAL_STATUSES:
            assert view.status == self.previous, f"{self.previous} went back to {view.status}"
        self.previous = view.status
        event(f"reached {view.status.value}")
        event(f"financial {view.financial_status.value}")
        assert OrderView.model_validate(json.loads(view.model_dump_json())) == view


OrderMachine.TestCase.settings = settings(
    max_examples=200,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestOrderMachine = OrderMachine.TestCase


# -- single operations, on any buckets -------------------------------------------------------

buckets_strategy = st.builds(LineBuckets, **{name: st.integers(0, 8) for name in EXCLUSIVE}).map(
    lambda b: b.model_copy(update={"refunded": min(b.refunded, b.cancelled + b.returned)})
)


@settings(max_examples=1000, deadline=None)
@given(
    buckets=buckets_strategy,
    source=st.sampled_from(EXCLUSIVE + NOT_A_BUCKET),
    target=st.sampled_from(EXCLUSIVE + NOT_A_BUCKET),
    quantity=st.integers(-3, 12),
)
def test_a_move_keeps_the_quantity_or_changes_nothing(
    buckets: LineBuckets, source: str, target: str, quantity: int
) -> None:
    line = OrderLine(
        line_id="ln_1",
        sku="SKU",
        name="item",
        unit_price_minor=100,
        quantity=buckets.total(),
        buckets=buckets,
    )
    before = line.buckets.model_dump()
    try:
        line.move(source, target, quantity)
    except ValueError:
        assert line.buckets.model_dump() == before
        assert (
            source not in EXCLUSIVE
            or target not in EXCLUSIVE
            or quantity < 0
            or quantity > before[source]
        )
        return
    assert source in EXCLUSIVE and target in EXCLUSIVE and 0 <= quantity <= before[source]
    assert line.buckets.total() == line.quantity
    assert all(getattr(line.buckets, name) >= 0 for name in EXCLUSIVE)
    assert line.buckets.refunded == before["refunded"]


@settings(max_examples=500, deadline=None)
@given(
    specs=line_specs,
    asks=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 8)), min_size=1, max_size=6),
)
def test_a_reservation_is_taken_whole_or_not_at_all(
    specs: list[tuple[int, int, str]], asks: list[tuple[int, int]]
) -> None:
    """Allocations are applied together: all fit in what waits, or none moves (the order's
    allocations stay as they were)."""
    order = place(specs)
    allocations = [
        Allocation(
            reservation_id="r1",
            warehouse=WAREHOUSES[index % 2],
            lines=[AllocatedLine(line_id=f"ln_{which + 1}", sku="SKU", quantity=quantity)],
        )
        for index, (which, quantity) in enumerate(asks)
    ]
    wanted: dict[str, int] = {}
    for which, quantity in asks:
        wanted[f"ln_{which + 1}"] = wanted.get(f"ln_{which + 1}", 0) + quantity
    fits = all(
        line_id in {line.line_id for line in order.lines}
        and quantity <= order.line(line_id).buckets.pending
        for line_id, quantity in wanted.items()
    )
    before = snapshot(order)
    if not fits:
        with pytest.raises((ValueError, KeyError)):
            order.reserve(allocations)
        assert snapshot(order) == before
        return
    order.reserve(allocations)
    check_lines(order)
    for line in order.lines:
        assert line.buckets.reserved == wanted.get(line.line_id, 0)
    assert order.allocations == allocations


@st.composite
def orders_in_any_state(draw: st.DrawFn) -> Order:
    """An order with any valid split of its lines over the buckets, and any payment that
    keeps refunded ≤ captured ≤ authorized."""
    order = place(draw(line_specs))
    for line in order.lines:
        left = line.quantity
        counts = {}
        for name in EXCLUSIVE[:-1]:
            counts[name] = draw(st.integers(0, left))
            left -= counts[name]
        counts["returned"] = left
        counts["refunded"] = draw(st.integers(0, counts["cancelled"] + counts["returned"]))
        line.buckets = LineBuckets(**counts)
    authorized = draw(st.integers(0, 100_000))
    captured = draw(st.integers(0, authorized))
    order.payment = Payment(
        authorization_id="auth_1" if authorized else None,
        authorized_minor=authorized,
        captured_minor=captured,
        refunded_minor=draw(st.integers(0, captured)),
        voided=draw(st.booleans()),
    )
    order.current_step = draw(st.none() | st.sampled_from([s.step_id for s in FLOW.steps]))
    order.current_stage = draw(st.none() | st.sampled_from(["processing", "fulfillment"]))
    if draw(st.booleans()):
        order.holds = [Hold(reason=HoldReason.OTHER, actor="operator", at=NOW)]
    if draw(st.booleans()):
        order.review = Review(step="check_fraud", reason="r", kind="fraud", since=NOW)
    order.outcome = draw(st.none() | st.sampled_from(sorted(TERMINAL_STATUSES)))
    return order


@settings(max_examples=500, deadline=None)
@given(order=orders_in_any_state())
def test_derived_statuses_follow_from_buckets_and_payment(order: Order) -> None:
    check_lines(order)
    view = check_statuses(order)
    check_totals(order, view)
    payment = order.payment
    if view.financial_status == FinancialStatus.REFUNDED:
        assert payment.refunded_minor == payment.captured_minor > 0
    if view.financial_status == FinancialStatus.PAID:
        assert payment.refunded_minor == 0 and payment.captured_minor >= order.total_minor
    if view.financial_status in (
        FinancialStatus.PENDING,
        FinancialStatus.AUTHORIZED,
        FinancialStatus.NOT_CHARGED,
    ):
        assert payment.captured_minor == payment.refunded_minor == 0
    if view.fulfillment_status == FulfillmentStatus.UNFULFILLED:
        assert sent(order) == 0
    if order.outcome is None and view.status in (OrderStatus.DELIVERED, OrderStatus.SHIPPED):
        assert view.fulfillment_status == FulfillmentStatus.FULFILLED
