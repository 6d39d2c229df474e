"""Returns, exchanges and appeasements on a delivered order, over HTTP on real parts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from store import inventory, rewards
from tests.helpers.keys import CUSTOMER_KEY, WAREHOUSE_KEY
from tests.helpers.orders import events, order_body, place, wait_for_status, wait_until
from tests.helpers.stack import Stack, running_stack
from workflows.order import order_workflow_id

HOUR = 3600


@pytest.fixture(scope="module")
async def returns_stack(
    temporal_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    """Orders stay in their return window for an hour: long enough for every test here."""
    url = f"sqlite:///{tmp_path_factory.mktemp('returns') / 'oms.db'}"
    async with running_stack(temporal_env, url, return_window_s=HOUR) as running:
        yield running


async def delivered_order(http: httpx.AsyncClient, lines: list[dict[str, Any]]) -> dict[str, Any]:
    order = await place(http, order_body(lines=lines))
    return await wait_until(
        http,
        order["order_id"],
        lambda view: view["status"] == "DELIVERED" and view["return_window_closes_at"],
    )


async def request_return(
    http: httpx.AsyncClient, order_id: str, lines: list[dict[str, Any]], expect: int = 201
) -> dict[str, Any]:
    response = await http.post(
        f"/orders/{order_id}/returns", json={"lines": lines, "reason": "does not fit"}
    )
    assert response.status_code == expect, response.text
    return response.json()


async def receive(
    http: httpx.AsyncClient, return_id: str, lines: list[dict[str, Any]], expect: int = 200
) -> dict[str, Any]:
    response = await http.post(
        f"/returns/{return_id}/events", json={"status": "received", "lines": lines}
    )
    assert response.status_code == expect, response.text
    return response.json()


async def awaiting_receipt(http: httpx.AsyncClient, order_id: str, return_id: str) -> None:
    await wait_until(
        http,
        order_id,
        lambda view: any(
            r["return_id"] == return_id and r["status"] == "AWAITING_RECEIPT"
            for r in view["returns"]
        ),
    )


async def money(stack: Stack, order_id: str) -> dict[str, int]:
    totals = {"authorize": 0, "capture": 0, "refund": 0, "void": 0}
    for op in await stack.gateway.ledger(order_id):
        if op.outcome == "succeeded":
            totals[op.kind] += op.amount_minor
    return totals


async def settled(http: httpx.AsyncClient, order_id: str, return_id: str) -> dict[str, Any]:
    """The order's view once it has applied everything its return reported."""
    return await wait_until(
        http,
        order_id,
        lambda view: any(
            r["return_id"] == return_id and r["status"] == "COMPLETED" for r in view["returns"]
        ),
    )


async def test_full_return_refunds_the_captured_amount_of_those_lines_and_restocks(
    returns_stack: Stack,
) -> None:
    async with returns_stack.http() as http:
        order = await delivered_order(
            http, [{"sku": "MUG-CERAMIC", "quantity": 2}, {"sku": "TSHIRT-BLK-M", "quantity": 1}]
        )
        order_id = order["order_id"]
        mug = next(line for line in order["lines"] if line["sku"] == "MUG-CERAMIC")
        warehouse = order["shipments"][0]["warehouse"]
        stock_before = (await inventory.available(returns_stack.store, "MUG-CERAMIC"))[warehouse]

        ret = await request_return(http, order_id, [{"line_id": mug["line_id"], "quantity": 2}])
        assert ret["return_id"] == f"{order_id}-1" and ret["status"] == "REQUESTED"
        await awaiting_receipt(http, order_id, ret["return_id"])
        answered = await receive(
            http,
            ret["return_id"],
            [{"line_id": mug["line_id"], "quantity": 2, "condition": "resellable"}],
        )
        assert answered["status"] == "COMPLETED"
        assert answered["refunded_minor"] == 2 * 1200
        view = await settled(http, order_id, ret["return_id"])

    assert (await money(returns_stack, order_id))["refund"] == 2 * 1200
    assert view["totals"]["refunded_minor"] == 2 * 1200
    assert view["totals"]["captured_minor"] == 2 * 1200 + 1900
    assert view["financial_status"] == "PARTIALLY_REFUNDED"
    buckets = next(line for line in view["lines"] if line["line_id"] == mug["line_id"])["buckets"]
    assert buckets["returned"] == 2 and buckets["refunded"] == 2 and buckets["delivered"] == 0
    stock_after = (await inventory.available(returns_stack.store, "MUG-CERAMIC"))[warehouse]
    assert stock_after == stock_before + 2
    async with returns_stack.http() as http:
        types = [event["type"] for event in await events(http, order_id)]
    assert types.index("ReturnRequested") < types.index("ReturnApproved")
    assert types.index("ReturnLabelIssued") < types.index("ReturnReceived")
    assert types.index("ReturnRestocked") < types.index("RefundIssued")


async def test_damaged_return_refunds_without_restocking(returns_stack: Stack) -> None:
    async with returns_stack.http() as http:
        order = await delivered_order(http, [{"sku": "LAMP-DESK", "quantity": 1}])
        order_id = order["order_id"]
        line_id = order["lines"][0]["line_id"]
        stock_before = await inventory.available(returns_stack.store, "LAMP-DESK")
        ret = await request_return(http, order_id, [{"line_id": line_id, "quantity": 1}])
        await awaiting_receipt(http, order_id, ret["return_id"])
        async with returns_stack.http(WAREHOUSE_KEY) as warehouse:
            answered = await receive(
                warehouse,
                ret["return_id"],
                [{"line_id": line_id, "quantity": 1, "condition": "damaged"}],
            )
        view = await settled(http, order_id, ret["return_id"])
        listed = (await http.get(f"/orders/{order_id}/returns")).json()
    assert answered["refunded_minor"] == 3900 and answered["restocked"] == {}
    assert listed["count"] == 1 and listed["data"][0]["status"] == "COMPLETED"
    assert listed["data"][0]["tracking_number"].startswith("RET")
    assert await inventory.available(returns_stack.store, "LAMP-DESK") == stock_before
    assert view["financial_status"] == "REFUNDED"
    assert (await money(returns_stack, order_id))["refund"] == 3900


async def test_two_requests_for_the_same_units_make_one_return_and_one_refund(
    returns_stack: Stack,
) -> None:
    async with returns_stack.http() as http, returns_stack.http(CUSTOMER_KEY) as customer:
        order = await delivered_order(http, [{"sku": "TSHIRT-WHT-M", "quantity": 1}])
        order_id = order["order_id"]
        line_id = order["lines"][0]["line_id"]
        body = {"lines": [{"line_id": line_id, "quantity": 1}], "reason": "changed my mind"}
        answers = await asyncio.gather(
            http.post(f"/orders/{order_id}/returns", json=body),
            customer.post(f"/orders/{order_id}/returns", json=body),
        )
        codes = sorted(answer.status_code for answer in answers)
        assert codes == [201, 409], [answer.text for answer in answers]
        refused = next(answer for answer in answers if answer.status_code == 409)
        assert "only 0 units" in refused.json()["detail"]
        ret = next(answer for answer in answers if answer.status_code == 201).json()
        await awaiting_receipt(http, order_id, ret["return_id"])
        await receive(
            http, ret["return_id"], [{"line_id": line_id, "quantity": 1, "condition": "resellable"}]
        )
        view = await settled(http, order_id, ret["return_id"])
        # Once returned, the unit cannot be returned again.
        again = await request_return(http, order_id, [{"line_id": line_id, "quantity": 1}], 409)
        assert "only 0 units" in again["detail"]
    assert len(view["returns"]) == 1
    ledger = await returns_stack.gateway.ledger(order_id)
    assert [op.amount_minor for op in ledger if op.kind == "refund"] == [1900]


async def test_exchange_ships_a_replacement_without_a_new_charge(returns_stack: Stack) -> None:
    async with returns_stack.http() as http:
        order = await delivered_order(http, [{"sku": "TSHIRT-BLK-M", "quantity": 1}])
        order_id = order["order_id"]
        line_id = order["lines"][0]["line_id"]
        before = await money(returns_stack, order_id)
        ret = await request_return(
            http,
            order_id,
            [{"line_id": line_id, "quantity": 1, "replacement_sku": "TSHIRT-WHT-M"}],
        )
        await awaiting_receipt(http, order_id, ret["return_id"])
        answered = await receive(
            http, ret["return_id"], [{"line_id": line_id, "quantity": 1, "condition": "resellable"}]
        )
        assert answered["refunded_minor"] == 0
        view = await wait_until(
            http,
            order_id,
            lambda v: len(v["lines"]) == 2 and v["lines"][1]["buckets"]["delivered"] == 1,
        )
    replacement = view["lines"][1]
    assert replacement["sku"] == "TSHIRT-WHT-M" and replacement["replaces"] == line_id
    assert len(view["shipments"]) == 2 and view["shipments"][1]["status"] == "DELIVERED"
    assert view["shipments"][1]["lines"][0]["line_id"] == replacement["line_id"]
    assert view["status"] == "DELIVERED"
    assert await money(returns_stack, order_id) == before  # no new charge, no refund
    assert len(await returns_stack.gateway.authorizations(order_id)) == 1
    assert view["totals"]["total_minor"] == 1900
    assert view["totals"]["captured_minor"] - view["totals"]["refunded_minor"] == 1900


async def test_exchange_for_a_dearer_item_charges_the_difference(returns_stack: Stack) -> None:
    async with returns_stack.http() as http:
        order = await delivered_order(http, [{"sku": "TSHIRT-BLK-M", "quantity": 1}])
        order_id = order["order_id"]
        line_id = order["lines"][0]["line_id"]
        ret = await request_return(
            http,
            order_id,
            [{"line_id": line_id, "quantity": 1, "replacement_sku": "HOODIE-GRY-L"}],
        )
        await awaiting_receipt(http, order_id, ret["return_id"])
        await receive(
            http, ret["return_id"], [{"line_id": line_id, "quantity": 1, "condition": "resellable"}]
        )
        view = await wait_until(
            http, order_id, lambda v: len(v["lines"]) == 2 and v["status"] == "DELIVERED"
        )
    moved = await money(returns_stack, order_id)
    assert moved["capture"] == 1900 + (4900 - 1900) and moved["refund"] == 0
    assert view["totals"]["total_minor"] == 4900
    assert view["totals"]["captured_minor"] == 4900


async def test_appeasement_within_the_limit_refunds_and_above_it_is_refused(
    returns_stack: Stack,
) -> None:
    async with returns_stack.http() as http, returns_stack.http(CUSTOMER_KEY) as customer:
        order = await delivered_order(http, [{"sku": "HOODIE-GRY-L", "quantity": 1}])
        order_id = order["order_id"]
        body = {"amount_minor": 1000, "reason": "late delivery"}
        forbidden = await customer.post(f"/orders/{order_id}/appeasements", json=body)
        assert forbidden.status_code == 403
        granted = await http.post(f"/orders/{order_id}/appeasements", json=body)
        assert granted.status_code == 201, granted.text
        assert granted.json()["amount_minor"] == 1000
        too_much = await http.post(
            f"/orders/{order_id}/appeasements", json={"amount_minor": 3901, "reason": "sorry"}
        )
        assert too_much.status_code == 409
        assert "limit of 3900" in too_much.json()["detail"]
        view = (await http.get(f"/orders/{order_id}")).json()
    assert view["totals"]["refunded_minor"] == 1000 and view["totals"]["appeased_minor"] == 1000
    assert (await money(returns_stack, order_id))["refund"] == 1000


async def test_a_return_worth_more_than_the_limit_waits_for_an_operator(
    returns_stack: Stack,
) -> None:
    async with returns_stack.http() as http:
        order = await delivered_order(http, [{"sku": "HEADPHONES-BT", "quantity": 1}])
        order_id = order["order_id"]
        line_id = order["lines"][0]["line_id"]
        ret = await request_return(http, order_id, [{"line_id": line_id, "quantity": 1}])
        await wait_until(
            http, order_id, lambda v: v["returns"] and v["returns"][0]["status"] == "NEEDS_REVIEW"
        )
        early = await receive(
            http,
            ret["return_id"],
            [{"line_id": line_id, "quantity": 1, "condition": "damaged"}],
            409,
        )
        assert "NEEDS_REVIEW" in early["detail"]
        decided = await http.post(
            f"/returns/{ret['return_id']}/decision", json={"decision": "reject", "note": "worn"}
        )
        assert decided.status_code == 200, decided.text
        assert decided.json()["status"] == "REJECTED"
        view = await wait_until(http, order_id, lambda v: v["returns"][0]["status"] == "REJECTED")
        types = [event["type"] for event in await events(http, order_id)]
    assert view["lines"][0]["buckets"]["delivered"] == 1
    assert "ReturnReviewRequested" in types and "ReturnRejected" in types
    assert (await money(returns_stack, order_id))["refund"] == 0


async def test_delivery_partial_return_and_appeasement_reconcile(returns_stack: Stack) -> None:
    """Captures − refunds = what the customer finally paid, and the journal agrees."""
    async with returns_stack.http() as http:
        order = await delivered_order(
            http, [{"sku": "TSHIRT-BLK-M", "quantity": 3}, {"sku": "LAMP-DESK", "quantity": 1}]
        )
        order_id = order["order_id"]
        shirt = order["lines"][0]["line_id"]
        ret = await request_return(http, order_id, [{"line_id": shirt, "quantity": 2}])
        await awaiting_receipt(http, order_id, ret["return_id"])
        # Only one of the two units came back: the refund is for one.
        answered = await receive(
            http, ret["return_id"], [{"line_id": shirt, "quantity": 1, "condition": "resellable"}]
        )
        assert answered["refunded_minor"] == 1900
        await settled(http, order_id, ret["return_id"])
        response = await http.post(
            f"/orders/{order_id}/appeasements", json={"amount_minor": 500, "reason": "scratched"}
        )
        assert response.status_code == 201, response.text
        view = (await http.get(f"/orders/{order_id}")).json()
        journal = await events(http, order_id)

    moved = await money(returns_stack, order_id)
    paid = moved["capture"] - moved["refund"]
    kept = 2 * 1900 + 3900  # two shirts and the lamp
    assert paid == kept - 500
    totals = view["totals"]
    assert totals["captured_minor"] == moved["capture"]
    assert totals["refunded_minor"] == moved["refund"]
    assert totals["total_minor"] == kept and totals["appeased_minor"] == 500
    assert totals["captured_minor"] - totals["refunded_minor"] == totals["total_minor"] - 500
    buckets = view["lines"][0]["buckets"]
    assert (buckets["delivered"], buckets["returned"], buckets["refunded"]) == (2, 1, 1)
    captured = sum(e["data"]["amount_minor"] for e in journal if e["type"] == "PaymentCaptured")
    refunded = sum(e["data"]["amount_minor"] for e in journal if e["type"] == "RefundIssued")
    assert (captured, refunded) == (moved["capture"], moved["refund"])


async def test_returns_open_only_after_delivery(returns_stack: Stack) -> None:
    async with returns_stack.http() as http:
        order = await place(http, order_body(token="tok_risk_elevated"))
        order_id = order["order_id"]
        await wait_for_status(http, order_id, "NEEDS_REVIEW")
        refused = await request_return(
            http, order_id, [{"line_id": "ln_1", "quantity": 1}], expect=409
        )
    assert "open once the order is delivered" in refused["detail"]


async def test_a_long_lived_order_continues_as_new_with_its_state(
    temporal_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    # The time-skipping server loses track of time after a continue-as-new, so this one runs
    # on the dev server with a short window and a low history limit.
    url = f"sqlite:///{tmp_path / 'oms.db'}"
    async with (
        running_stack(
            temporal_env, url, return_window_s=15, continue_as_new_after_events=150
        ) as window_stack,
        window_stack.http() as http,
    ):
        order = await place(http, order_body(lines=[{"sku": "BACKPACK-20L", "quantity": 1}]))
        order_id = order["order_id"]
        await wait_until(http, order_id, lambda v: v["return_window_closes_at"] is not None)
        handle = window_stack.client.get_workflow_handle(order_workflow_id(order_id))
        first_run = (await handle.describe()).run_id
        for _ in range(30):
            response = await http.post(
                f"/orders/{order_id}/appeasements",
                json={"amount_minor": 10, "reason": "goodwill"},
            )
            assert response.status_code == 201, response.text
        view = (await http.get(f"/orders/{order_id}")).json()
        later_run = (await handle.describe()).run_id
        assert later_run != first_run
        assert len(view["appeasements"]) == 30
        assert view["totals"]["refunded_minor"] == 300

        final = await wait_until(http, order_id, lambda v: v["status"] == "COMPLETED")
        journal = await events(http, order_id)
    assert [event["seq"] for event in journal] == list(range(1, len(journal) + 1))
    types = [event["type"] for event in journal]
    assert "OrderContinued" in types and types[-1] == "OrderCompleted"
    assert types.count("AppeasementIssued") == 30 and "PointsGranted" in types
    assert final["totals"]["captured_minor"] - final["totals"]["refunded_minor"] == 7900 - 300
    assert (await rewards.order_points(window_stack.store, order_id))["granted"] == 79
