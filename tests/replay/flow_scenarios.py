"""Scenarios of the flow language for `tests.replay.record`: a parallel block, an included
fragment, call steps whose outputs gate a step, and a call undone by a cancel. Each
registers what it needs over the API (the shop's services on a loopback service of its own,
the fragment, an order type) and drives one order to its end. Scenarios with a shop take
turns: the endpoint names are the registry's, one shop at a time."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.helpers.gift_orders import (
    CHECKS,
    FRAUD_AND_PAYMENT,
    new_type,
    register_flow,
    register_gifted,
    register_services,
)
from tests.helpers.orders import (
    intervene,
    order_body,
    place,
    shipments_booked,
    wait_for_status,
    wait_until,
)
from tests.helpers.shop_service import Answer, shop_service
from tests.helpers.stack import Stack

ONE_SHOP = asyncio.Lock()
MUG = [{"sku": "MUG-CERAMIC", "quantity": 1}]


async def ended(http: httpx.AsyncClient, order_id: str, expected: str) -> str:
    view = await wait_for_status(http, order_id, "COMPLETED", "CANCELLED", "FAILED", timeout=120)
    if view["status"] != expected:
        raise AssertionError(f"{order_id} ended {view['status']}, expected {expected}")
    return order_id


async def ordered(http: httpx.AsyncClient, order_type: str) -> str:
    return (await place(http, order_body(lines=MUG) | {"order_type": order_type}))["order_id"]


async def flow_of(http: httpx.AsyncClient, prefix: str, steps: list[dict[str, Any]]) -> str:
    order_type = new_type(prefix)
    await register_flow(http, {"type": order_type, "steps": steps})
    return order_type


async def parallel_block(stack: Stack, http: httpx.AsyncClient) -> str:
    """The fraud check beside the shop's address check, then reserve, authorize, ship."""
    async with ONE_SHOP, shop_service() as shop:
        await register_services(http, shop)
        steps = [
            {"step": "validate_order", "on_failure": "fail"},
            CHECKS,
            {"step": "reserve_inventory", "on_failure": "review"},
            {"step": "authorize_payment", "on_failure": "compensate"},
            {"step": "fulfill_shipments", "on_failure": "review"},
        ]
        order_type = await flow_of(http, "checked", steps)
        return await ended(http, await ordered(http, order_type), "COMPLETED")


async def fragment_included(stack: Stack, http: httpx.AsyncClient) -> str:
    """`fraud_and_payment` included as `pay`: its steps run as `pay.reserve_inventory`, ..."""
    await register_flow(http, FRAUD_AND_PAYMENT)
    steps = [
        {"step": "validate_order", "on_failure": "fail"},
        {"step": "check_fraud", "on_failure": "compensate"},
        {"id": "pay", "flow": FRAUD_AND_PAYMENT["type"]},
        {"step": "fulfill_shipments", "on_failure": "review"},
    ]
    order_type = await flow_of(http, "included", steps)
    return await ended(http, await ordered(http, order_type), "COMPLETED")


async def call_outputs(stack: Stack, http: httpx.AsyncClient) -> str:
    """The wrap costs 250: `facts.wrap_fee_minor` holds, so the parcel check runs too."""
    async with ONE_SHOP, shop_service() as shop:
        order_type = await register_gifted(http, shop)
        shop.script("/gift-wrap", Answer(200, json={"wrap_fee_minor": 250}))
        return await ended(http, await ordered(http, order_type), "COMPLETED")


async def call_compensated(stack: Stack, http: httpx.AsyncClient) -> str:
    """Cancelled while the shipment waits for the carrier: `gift-wrap-cancel` undoes the wrap."""
    async with ONE_SHOP, shop_service() as shop:
        order_type = await register_gifted(http, shop)
        order_id = await ordered(http, order_type)
        await wait_until(http, order_id, shipments_booked)
        await intervene(http, order_id, "cancel", {"reason": "CUSTOMER"})
        return await ended(http, order_id, "CANCELLED")


FLOW_SCENARIOS = {
    "parallel_block": parallel_block,
    "fragment_included": fragment_included,
    "call_outputs": call_outputs,
    "call_compensated": call_compensated,
}
