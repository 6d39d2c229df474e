"""The example flows `oms run` registers beside the demo shop (`store/seed/examples.json`):
the fragment `fraud_and_payment` and the order type `gifted` pass the registry's checks
against the shop's endpoints, are registered once, and a `gifted` order runs to its end."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pydantic import SecretStr

from api.flows import allowed_host
from domain.endpoints import Endpoint
from domain.flows import validate_flow
from oms.config.settings import Settings
from oms.launcher import register_examples
from store import flows
from store.db import Store
from store.endpoints import endpoint_urls, register_endpoint
from store.migrate import upgrade
from tests.helpers.gift_orders import SERVICES, effects, keys, register_services
from tests.helpers.orders import order_body, place, wait_for_status
from tests.helpers.shop_service import shop_service
from tests.helpers.stack import Stack

LOOPBACK = allowed_host(["127.0.0.1"])


async def add_shop_endpoints(store: Store) -> None:
    for name in SERVICES:
        endpoint = Endpoint(name=name, url=f"http://127.0.0.1:9/{name}", secret=SecretStr("s" * 32))
        await register_endpoint(store, endpoint)


async def test_the_examples_validate_against_the_shop_endpoints_and_register_once(
    own_store: Store,
) -> None:
    await add_shop_endpoints(own_store)
    endpoints = await endpoint_urls(own_store)

    assert await flows.seed_examples(own_store, endpoints, LOOPBACK) == [
        "fraud_and_payment",
        "gifted",
    ]
    assert await flows.seed_examples(own_store, endpoints, LOOPBACK) == []  # already there
    gifted = await flows.latest(own_store, "gifted")
    assert gifted is not None and gifted.version == 1
    expanded = await flows.expand_for_order(own_store, gifted)
    assert validate_flow(expanded, endpoints, LOOPBACK) == []
    assert [entry.kind for entry in gifted.steps] == [
        "step",
        "parallel",
        "include",
        "call",
        "call",
        "step",
    ]
    ids = [step.step_id for step in expanded.walk()]
    assert ids[3:6] == ["pay.reserve_inventory", "pay.authorize_payment", "gift_wrap"]
    wrap, parcel = expanded.find("gift_wrap"), expanded.find("parcel_check")
    assert wrap.compensation == "gift-wrap-cancel" and wrap.outputs == {"wrap_fee_minor": "int"}
    assert parcel.when is not None and parcel.when.field == "facts.wrap_fee_minor"


async def test_without_the_shop_endpoints_the_launcher_says_why_and_goes_on(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'oms.db'}")
    await asyncio.to_thread(upgrade, settings.resolved_database_url)

    said = await register_examples(settings)

    assert said.startswith("example flows not registered: ")
    assert "unknown endpoint 'address-check'" in said


async def test_a_gifted_order_placed_as_a_newcomer_would_completes(stack: Stack) -> None:
    async with shop_service() as shop, stack.http() as http:
        await register_services(http, shop)
        said = await register_examples(stack.settings)
        body = order_body(lines=[{"sku": "MUG-CERAMIC", "quantity": 1}]) | {"order_type": "gifted"}
        order_id = (await place(http, body))["order_id"]
        view = await wait_for_status(http, order_id, "COMPLETED", "CANCELLED", "FAILED")
        done = await effects(shop)

    assert "gifted" in said
    assert view["status"] == "COMPLETED"
    assert view["flow"]["type"] == "gifted"
    assert view["facts"] == {"address_ok": True, "wrap_fee_minor": 0}
    assert keys(shop, "/gift-wrap", order_id) == [f"{order_id}:gift_wrap:1"]
    assert done[f"gift-wrap {order_id}:gift_wrap:1"] == 1
