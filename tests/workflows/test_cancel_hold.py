"""Cancel, hold and release at the stages where they are allowed, and refused elsewhere."""

from __future__ import annotations

from store import inventory
from tests.helpers.keys import CUSTOMER_KEY, OTHER_CUSTOMER_KEY
from tests.helpers.orders import (
    events,
    intervene,
    order_body,
    place,
    shipments_booked,
    wait_for_status,
    wait_until,
)
from tests.helpers.stack import Stack
from workflows.order import order_workflow_id

TWO_SHIPMENTS = [{"sku": "MUG-CERAMIC", "quantity": 2}, {"sku": "LAMP-DESK", "quantity": 1}]


async def test_whole_cancel_while_shipments_wait_voids_releases_and_cancels(
    slow_stack: Stack,
) -> None:
    mugs = await inventory.available(slow_stack.store, "MUG-CERAMIC")
    lamps = await inventory.available(slow_stack.store, "LAMP-DESK")
    async with slow_stack.http() as http:
        placed = await place(http, order_body(lines=TWO_SHIPMENTS))
        order_id = placed["order_id"]
        await wait_until(http, order_id, shipments_booked)
        view = await intervene(
            http, order_id, "cancel", {"reason": "CUSTOMER", "note": "changed mind"}
        )
        assert view["status"] == "CANCELLED" and view["cancel_reason"] == "CUSTOMER"
        assert view["financial_status"] == "VOIDED"
        assert {s["status"] for s in view["shipments"]} == {"CANCELLED"}
        assert all(line["buckets"]["cancelled"] == line["quantity"] for line in view["lines"])
        journal = [e["type"] for e in await events(http, order_id)]
    assert await inventory.available(slow_stack.store, "MUG-CERAMIC") == mugs
    assert await inventory.available(slow_stack.store, "LAMP-DESK") == lamps
    ledger = [(op.kind, op.outcome) for op in await slow_stack.gateway.ledger(order_id)]
    assert sorted(ledger) == [("authorize", "succeeded"), ("void", "succeeded")]
    for expected in ("LinesCancelled", "ShipmentCancelled", "PaymentVoided", "OrderCancelled"):
        assert expected in journal
    cancelled = next(
        e for e in await _events(slow_stack, order_id) if e["type"] == "LinesCancelled"
    )
    assert cancelled["actor"] == "operator" and cancelled["reason"] == "changed mind"


async def _events(stack: Stack, order_id: str) -> list[dict]:
    async with stack.http() as http:
        return await events(http, order_id)


async def test_partial_cancel_of_one_line_ships_the_rest_and_captures_only_it(
    slow_stack: Stack,
) -> None:
    lamps = await inventory.available(slow_stack.store, "LAMP-DESK")
    async with slow_stack.http() as http:
        placed = await place(http, order_body(lines=TWO_SHIPMENTS))
        order_id = placed["order_id"]
        await wait_until(http, order_id, shipments_booked)
        view = await intervene(
            http,
            order_id,
            "cancel",
            {"reason": "INVENTORY", "lines": [{"line_id": "ln_2", "quantity": 1}]},
        )
        assert view["lines"][1]["buckets"]["cancelled"] == 1
        assert view["totals"]["total_minor"] == 2 * 1200
        done = await wait_for_status(http, order_id, "COMPLETED", "CANCELLED", "FAILED")
    assert done["status"] == "COMPLETED"
    assert done["totals"]["captured_minor"] == 2 * 1200
    assert done["financial_status"] == "PAID"
    assert await inventory.available(slow_stack.store, "LAMP-DESK") == lamps
    ledger = await slow_stack.gateway.ledger(order_id)
    assert sorted(op.amount_minor for op in ledger if op.kind == "capture") == [2 * 1200]
    # The unused part of the authorization is given back when the order completes.
    assert [op.kind for op in ledger].count("void") == 1


async def test_partial_cancel_on_a_prepaid_two_shipment_order_refunds_exactly_that_line(
    slow_stack: Stack,
) -> None:
    body = order_body(lines=TWO_SHIPMENTS) | {"order_type": "prepaid"}
    async with slow_stack.http() as http:
        placed = await place(http, body)
        order_id = placed["order_id"]
        view = await wait_until(http, order_id, shipments_booked)
        assert view["totals"]["captured_minor"] == 2 * 1200 + 3900
        assert len(view["shipments"]) == 2
        view = await intervene(
            http,
            order_id,
            "cancel",
            {"reason": "CUSTOMER", "lines": [{"line_id": "ln_2", "quantity": 1}]},
        )
        assert view["totals"]["refunded_minor"] == 3900
        assert view["financial_status"] == "PARTIALLY_REFUNDED"
        assert view["lines"][1]["buckets"]["refunded"] == 1
        done = await wait_for_status(http, order_id, "COMPLETED", "CANCELLED", "FAILED")
    assert done["status"] == "COMPLETED"
    ledger = await slow_stack.gateway.ledger(order_id)
    assert [op.amount_minor for op in ledger if op.kind == "refund"] == [3900]
    assert [op.amount_minor for op in ledger if op.kind == "capture"] == [2 * 1200 + 3900]


async def test_cancel_refused_for_shipped_lines_with_a_pointer_to_returns(stack: Stack) -> None:
    async with stack.http() as http:
        placed = await place(http, order_body())
        order_id = placed["order_id"]
        await wait_for_status(http, order_id, "COMPLETED")
        refused = await intervene(http, order_id, "cancel", {"reason": "CUSTOMER"}, expect=409)
        assert "COMPLETED" in refused["detail"]


async def test_cancel_lines_beyond_what_is_open_is_refused_and_changes_nothing(
    slow_stack: Stack,
) -> None:
    async with slow_stack.http() as http:
        placed = await place(http, order_body(lines=TWO_SHIPMENTS))
        order_id = placed["order_id"]
        await wait_until(
            http,
            order_id,
            lambda v: (
                v["status"] == "SHIPPED" or any(s["status"] == "DISPATCHED" for s in v["shipments"])
            ),
        )
        before = (await http.get(f"/orders/{order_id}")).json()
        dispatched = next(s for s in before["shipments"] if s["status"] != "BOOKED")
        line_id = dispatched["lines"][0]["line_id"]
        refused = await intervene(
            http,
            order_id,
            "cancel",
            {"reason": "CUSTOMER", "lines": [{"line_id": line_id, "quantity": 1}]},
            expect=409,
        )
        assert "returns" in refused["detail"]
        refused = await intervene(
            http,
            order_id,
            "cancel",
            {"reason": "CUSTOMER", "lines": [{"line_id": "ln_9", "quantity": 1}]},
            expect=409,
        )
        assert "unknown line ln_9" in refused["detail"]
        after = (await http.get(f"/orders/{order_id}")).json()
        assert [line["buckets"] for line in after["lines"]] == [
            line["buckets"] for line in before["lines"]
        ] or after["status"] in ("SHIPPED", "DELIVERED", "COMPLETED")
        await wait_for_status(http, order_id, "COMPLETED")


async def test_customer_cancels_own_order_but_not_someone_elses(slow_stack: Stack) -> None:
    async with slow_stack.http(CUSTOMER_KEY) as alice, slow_stack.http(OTHER_CUSTOMER_KEY) as bob:
        placed = await place(alice, order_body())
        order_id = placed["order_id"]
        await intervene(bob, order_id, "cancel", {"reason": "CUSTOMER"}, expect=403)
        await intervene(alice, order_id, "hold", {"reason": "OTHER"}, expect=403)
        view = await intervene(alice, order_id, "cancel", {"reason": "CUSTOMER"})
        assert view["status"] == "CANCELLED"
        journal = await events(alice, order_id)
    assert (
        next(e for e in journal if e["type"] == "OrderCancelled")["actor"] == "customer:cus_alice"
    )


async def test_holds_stop_at_the_boundary_and_the_last_release_continues(
    slow_stack: Stack,
) -> None:
    async with slow_stack.http() as http:
        placed = await place(http, order_body())
        order_id = placed["order_id"]
        await wait_until(http, order_id, shipments_booked)
        view = await intervene(http, order_id, "hold", {"reason": "HIGH_RISK_OF_FRAUD"})
        assert view["status"] == "ON_HOLD"
        await intervene(http, order_id, "hold", {"reason": "HIGH_RISK_OF_FRAUD"}, expect=409)
        await intervene(http, order_id, "hold", {"reason": "OTHER", "note": "call the customer"})
        # The carrier keeps going, but the order does not complete while held.
        held = await wait_until(
            http, order_id, lambda v: all(s["status"] == "DELIVERED" for s in v["shipments"])
        )
        assert held["status"] == "ON_HOLD" and len(held["holds"]) == 2
        view = await intervene(http, order_id, "release", {"reason": "OTHER"})
        assert view["status"] == "ON_HOLD" and len(view["holds"]) == 1
        refused = await intervene(http, order_id, "release", {"reason": "OTHER"}, expect=409)
        assert "no hold for OTHER" in refused["detail"]
        await intervene(http, order_id, "release", {})
        done = await wait_for_status(http, order_id, "COMPLETED")
        refused = await intervene(http, order_id, "release", {}, expect=409)
        journal = [e["type"] for e in await events(http, order_id)]
    assert done["holds"] == []
    assert journal.count("OrderHeld") == 2 and journal.count("HoldReleased") == 2


async def test_address_is_corrected_while_held_for_it(stack: Stack) -> None:
    async with stack.http() as http:
        placed = await place(http, order_body("tok_risk_elevated"))
        order_id = placed["order_id"]
        await wait_until(http, order_id, lambda v: v["status"] == "NEEDS_REVIEW")
        new_address = {
            "name": "Alice Example",
            "line1": "2 Elm St",
            "city": "Shelbyville",
            "postal_code": "54321",
            "country": "US",
        }
        refused = await intervene(
            http, order_id, "address", {"shipping_address": new_address}, expect=409
        )
        assert "INCORRECT_ADDRESS" in refused["detail"]
        await intervene(http, order_id, "hold", {"reason": "INCORRECT_ADDRESS"})
        await intervene(http, order_id, "review", {"decision": "approve"})
        view = await intervene(http, order_id, "address", {"shipping_address": new_address})
        assert view["shipping_address"]["line1"] == "2 Elm St"
        assert view["status"] == "ON_HOLD"
        await intervene(http, order_id, "release", {"reason": "INCORRECT_ADDRESS"})
        done = await wait_for_status(http, order_id, "COMPLETED")
    assert done["shipping_address"]["city"] == "Shelbyville"


async def test_a_cancel_that_crosses_the_carriers_delivery_is_answered_not_left_waiting(
    slow_stack: Stack,
) -> None:
    # The carrier's "delivered" reaches the shipment just before the order's request to give
    # up its units: the shipment ends delivered without reading the request, and the order
    # takes that end as the answer instead of waiting for one forever.
    async with slow_stack.http() as http:
        order_id = (await place(http, order_body()))["order_id"]
        booked = await wait_until(http, order_id, shipments_booked)
        shipment_id = booked["shipments"][0]["shipment_id"]
        order = slow_stack.client.get_workflow_handle(order_workflow_id(order_id))
        await order.signal(
            "carrier_event",
            {"shipment_id": shipment_id, "event": {"status": "delivered", "event_id": "crossing"}},
        )
        answer = await http.post(f"/orders/{order_id}/cancel", json={"reason": "CUSTOMER"})
        assert answer.status_code in (200, 409), answer.text
        done = await wait_for_status(http, order_id, "COMPLETED", "CANCELLED", timeout=60)
    assert done["status"] == "COMPLETED"
    assert done["lines"][0]["buckets"]["delivered"] == done["lines"][0]["quantity"]
    captured = sum(
        op.amount_minor
        for op in await slow_stack.gateway.ledger(order_id)
        if op.kind == "capture" and op.outcome == "succeeded"
    )
    assert captured == done["totals"]["captured_minor"] == done["totals"]["total_minor"]


async def test_a_carrier_event_that_comes_before_its_shipment_opens_waits_for_it(
    slow_stack: Stack,
) -> None:
    # A workflow task that books a shipment and dies before it is recorded runs again after
    # the carrier has answered the booking: the carrier's events then reach the order before
    # the shipment opens again. Here the order waits in review, so its shipment opens only
    # after the operator approves; the events sent before must not be lost.
    async with slow_stack.http() as http:
        order_id = (await place(http, order_body("tok_risk_elevated")))["order_id"]
        await wait_until(http, order_id, lambda view: view["status"] == "NEEDS_REVIEW")
        order = slow_stack.client.get_workflow_handle(order_workflow_id(order_id))
        shipment_id = f"{order_id}-1"
        for status in ("dispatched", "delivered"):
            await order.signal(
                "carrier_event",
                {"shipment_id": shipment_id, "event": {"status": status, "event_id": status}},
            )
        await intervene(http, order_id, "review", {"decision": "approve"})
        # The simulated carrier needs 3 s per event; the early ones need none.
        delivered = await wait_until(
            http, order_id, lambda view: view["status"] in ("DELIVERED", "COMPLETED"), timeout=5
        )
        journal = await events(http, order_id)
    assert delivered["shipments"][0]["shipment_id"] == shipment_id
    assert delivered["totals"]["captured_minor"] == delivered["totals"]["total_minor"]
    assert not [e for e in journal if e["type"] == "SignalRejected"]
