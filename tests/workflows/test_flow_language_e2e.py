"""The flow language on the real stack: a gift order type registered over `POST /flows`
(checks side by side, the `fraud_and_payment` fragment, call steps to a shop's service on
loopback whose output gates a later step), orders placed over `POST /orders`. Each test
reads what the shop's service received (keys, signatures), the order's view and journal."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.helpers.gift_orders import effects, keys, register_gifted
from tests.helpers.orders import (
    events,
    intervene,
    order_body,
    place,
    shipments_booked,
    wait_for_status,
    wait_until,
)
from tests.helpers.shop_service import Answer, ShopService, shop_service
from tests.helpers.stack import Stack

MUG = [{"sku": "MUG-CERAMIC", "quantity": 1}]


async def gift_order(http: httpx.AsyncClient, order_type: str) -> str:
    placed = await place(http, order_body(lines=MUG) | {"order_type": order_type})
    return placed["order_id"]


def called(journal: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["data"]["step"]: e["data"] for e in journal if e["type"] == "ServiceCalled"}


async def requested(shop: ShopService, path: str, order_id: str, count: int) -> None:
    """Wait until the order has made `count` requests to the path."""
    for _ in range(300):
        if len(keys(shop, path, order_id)) >= count:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{order_id} never made {count} request(s) to {path}")


async def test_a_gift_order_completes_with_facts_and_one_request_per_call_step(
    slow_stack: Stack,
) -> None:
    async with shop_service() as shop, slow_stack.http() as http:
        order_type = await register_gifted(http, shop)
        shop.script("/gift-wrap", Answer(200, json={"wrap_fee_minor": 250}))
        wrapped = await gift_order(http, order_type)
        await requested(shop, "/gift-wrap", wrapped, 1)
        plain = await gift_order(http, order_type)  # the demo shop wraps a mug for free
        views = [
            await wait_for_status(http, o, "COMPLETED", "CANCELLED", "FAILED")
            for o in (wrapped, plain)
        ]
        journals = [await events(http, o) for o in (wrapped, plain)]
        shown = (await http.get(f"/orders/{wrapped}")).json()
        done = await effects(shop)

    assert [view["status"] for view in views] == ["COMPLETED", "COMPLETED"]
    assert shown["facts"] == {"address_ok": True, "wrap_fee_minor": 250}
    assert views[1]["facts"] == {"address_ok": True, "wrap_fee_minor": 0}
    assert shown["progress"]["parcel_check"] == "done"
    assert views[1]["progress"]["parcel_check"] == "skipped"
    for view in views:
        assert view["totals"]["captured_minor"] == view["totals"]["total_minor"] > 0
    # One request per step run, each with the step's first key and a valid signature.
    assert keys(shop, "/address-check", wrapped) == [
        f"{wrapped}:address_check:1",
        f"{wrapped}:parcel_check:1",
    ]
    assert keys(shop, "/gift-wrap", wrapped) == [f"{wrapped}:gift_wrap:1"]
    assert keys(shop, "/address-check", plain) == [f"{plain}:address_check:1"]
    assert keys(shop, "/gift-wrap", plain) == [f"{plain}:gift_wrap:1"]
    assert keys(shop, "/gift-wrap-cancel", wrapped) == keys(shop, "/gift-wrap-cancel", plain) == []
    assert done[f"gift-wrap {plain}:gift_wrap:1"] == 1
    assert set(done.values()) == {1}  # the demo shop did each keyed call's work once
    assert called(journals[0])["gift_wrap"] == {
        "step": "gift_wrap",
        "endpoint": "gift-wrap",
        "status": 200,
        "outputs": {"wrap_fee_minor": 250},
    }
    assert set(called(journals[0])) == {"address_check", "gift_wrap", "parcel_check"}
    skipped = [e for e in journals[1] if e["type"] == "StepSkipped"]
    assert [(e["data"]["step"], e["reason"]) for e in skipped] == [
        ("parcel_check", "condition not met")
    ]


async def test_cancelling_after_the_wrap_asks_the_shop_to_undo_it_once(slow_stack: Stack) -> None:
    async with shop_service() as shop, slow_stack.http() as http:
        order_type = await register_gifted(http, shop)
        order_id = await gift_order(http, order_type)
        await wait_until(http, order_id, shipments_booked)
        view = await intervene(http, order_id, "cancel", {"reason": "CUSTOMER"})
        await requested(shop, "/gift-wrap-cancel", order_id, 1)
        journal = await events(http, order_id)

    assert view["status"] == "CANCELLED" and view["financial_status"] == "VOIDED"
    assert view["progress"]["gift_wrap"] == "compensated"
    assert keys(shop, "/gift-wrap", order_id) == [f"{order_id}:gift_wrap:1"]
    assert keys(shop, "/gift-wrap-cancel", order_id) == [f"{order_id}:gift_wrap:1:undo"]
    undone = [e["data"] for e in journal if e["type"] == "ServiceCallUndone"]
    assert undone == [{"step": "gift_wrap", "endpoint": "gift-wrap-cancel", "status": 200}]


async def test_a_backtrack_to_the_wrap_undoes_it_and_calls_again_with_the_next_epoch(
    slow_stack: Stack,
) -> None:
    async with shop_service() as shop, slow_stack.http() as http:
        order_type = await register_gifted(http, shop)
        order_id = await gift_order(http, order_type)
        await wait_until(http, order_id, shipments_booked)
        body = {"to_step": "gift_wrap", "reason": "wrong paper"}
        plan = await intervene(http, order_id, "backtrack", body | {"dry_run": True})
        await intervene(http, order_id, "backtrack", body)
        done = await wait_for_status(http, order_id, "COMPLETED", "CANCELLED", "FAILED")
        journal = await events(http, order_id)

    assert plan["undo_steps"] == ["fulfill_shipments", "gift_wrap"]
    assert plan["rerun_steps"] == ["gift_wrap", "parcel_check", "fulfill_shipments"]
    assert [a["action"] for a in plan["actions"]] == ["cancel_shipment", "undo_call"]
    assert done["status"] == "COMPLETED"
    backtracked = next(e for e in journal if e["type"] == "BacktrackedTo")
    assert backtracked["data"]["plan"] == plan  # the real run did what the dry run said
    assert keys(shop, "/gift-wrap", order_id) == [
        f"{order_id}:gift_wrap:1",
        f"{order_id}:gift_wrap:2",
    ]
    assert keys(shop, "/gift-wrap-cancel", order_id) == [f"{order_id}:gift_wrap:1:undo"]
    assert [e["data"]["step"] for e in journal if e["type"] == "ServiceCalled"].count(
        "gift_wrap"
    ) == 2
    assert done["totals"]["captured_minor"] == done["totals"]["total_minor"]


async def test_a_refused_wrap_waits_in_review_and_a_retry_succeeds(slow_stack: Stack) -> None:
    async with shop_service() as shop, slow_stack.http() as http:
        order_type = await register_gifted(http, shop)
        shop.script("/gift-wrap", Answer(409, json={"detail": "out of ribbon"}))
        order_id = await gift_order(http, order_type)
        waiting = await wait_for_status(http, order_id, "NEEDS_REVIEW")
        await intervene(http, order_id, "review", {"decision": "retry", "note": "ribbon in"})
        done = await wait_for_status(http, order_id, "COMPLETED", "CANCELLED", "FAILED")

    assert waiting["review"]["step"] == "gift_wrap"
    assert "409" in waiting["review"]["reason"] and "out of ribbon" in waiting["review"]["reason"]
    assert waiting["progress"]["gift_wrap"] == "waiting"
    assert done["status"] == "COMPLETED"
    assert done["facts"]["wrap_fee_minor"] == 0
    # The refusal was not retried; the person's retry is the step's next epoch.
    assert keys(shop, "/gift-wrap", order_id) == [
        f"{order_id}:gift_wrap:1",
        f"{order_id}:gift_wrap:2",
    ]
