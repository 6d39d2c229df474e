"""A standard order end to end over HTTP: placed, authorized, shipped, captured, completed."""

from __future__ import annotations

from tests.helpers.orders import journal_types, order_body, place, wait_for_status
from tests.helpers.stack import Stack


async def test_visa_order_completes_with_one_authorization_and_full_capture(stack: Stack) -> None:
    async with stack.http() as http:
        placed = await place(
            http,
            order_body(
                lines=[
                    {"sku": "MUG-CERAMIC", "quantity": 1},  # only in EWR
                    {"sku": "LAMP-DESK", "quantity": 2},  # only in LAX
                ]
            ),
        )
        assert placed["status"] == "RECEIVED"
        order_id = placed["order_id"]
        view = await wait_for_status(http, order_id, "COMPLETED", "FAILED", "CANCELLED")
        assert view["status"] == "COMPLETED", view
        assert view["financial_status"] == "PAID"
        assert view["fulfillment_status"] == "FULFILLED"
        assert len(view["shipments"]) == 2
        assert all(s["status"] == "DELIVERED" for s in view["shipments"])
        for line in view["lines"]:
            assert line["buckets"]["delivered"] == line["quantity"]
        total = 1200 + 2 * 3900
        assert view["totals"]["total_minor"] == total
        assert view["totals"]["captured_minor"] == total

        ledger = await stack.gateway.ledger(order_id)
        assert [op.kind for op in ledger].count("authorize") == 1
        captures = [op.amount_minor for op in ledger if op.kind == "capture"]
        assert sorted(captures) == [1200, 2 * 3900]

        types = await journal_types(http, order_id)
        assert types[0] == "OrderPlaced"
        assert types[-1] == "OrderCompleted"
        for expected in (
            "FraudChecked",
            "InventoryReserved",
            "PaymentAuthorized",
            "ShipmentDispatched",
            "PaymentCaptured",
            "ShipmentDelivered",
        ):
            assert expected in types
