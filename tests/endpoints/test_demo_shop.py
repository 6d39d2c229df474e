"""The demo shop's services: what each answers, that unsigned or stale calls are refused, that
a repeated key does the work once; and `oms run`'s way of starting and registering them."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from activities.endpoints import EndpointActivities
from domain.endpoints import EndpointCall, sign
from oms.config.settings import Settings
from oms.demo_shop import register_demo_endpoints
from oms.supervisor import Supervisor
from store.db import Store
from store.endpoints import get_endpoint, list_endpoints
from store.migrate import upgrade
from tests.helpers.shop_service import ShopService, shop_service


@pytest.fixture
async def shop() -> AsyncIterator[ShopService]:
    async with shop_service() as service:
        yield service


def signed(secret: str, call: EndpointCall, at: int | None = None) -> dict[str, str]:
    timestamp = str(at if at is not None else int(time.time()))
    return {
        "Content-Type": "application/json",
        "Idempotency-Key": call.idempotency_key,
        "X-OMS-Timestamp": timestamp,
        "X-OMS-Signature": sign(secret, timestamp, call.body()),
    }


def a_call(**changes: object) -> EndpointCall:
    values = {"order_id": "ord_9", "step_id": "wrap", "epoch": 1, "endpoint": "gift-wrap"}
    return EndpointCall(**(values | changes))  # type: ignore[arg-type]


async def post(shop: ShopService, path: str, call: EndpointCall, **headers: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=shop.url) as http:
        sent = signed(shop.secret, call) | headers
        return await http.post(path, content=call.body(), headers=sent)


@pytest.mark.parametrize(
    ("path", "call", "answer"),
    [
        ("/gift-wrap", a_call(lines=[{"sku": "MUG-GIFT-BOX", "quantity": 1}]), 250),
        ("/gift-wrap", a_call(lines=[{"sku": "mug-gift"}]), 250),
        ("/gift-wrap", a_call(facts={"gift_wrap": True}), 250),
        ("/gift-wrap", a_call(lines=[{"sku": "MUG"}], facts={"gift_wrap": "yes"}), 0),
    ],
)
async def test_gift_wrap_charges_for_gifts(
    shop: ShopService, path: str, call: EndpointCall, answer: int
) -> None:
    response = await post(shop, path, call)
    assert response.status_code == 200, response.text
    assert response.json() == {"wrap_fee_minor": answer}


async def test_the_other_services(shop: ShopService) -> None:
    assert (await post(shop, "/address-check", a_call())).json() == {"address_ok": True}
    assert (await post(shop, "/gift-wrap-cancel", a_call(undo=True))).json() == {}
    assert (await post(shop, "/teleport", a_call())).status_code == 404


async def test_calls_not_signed_now_with_the_secret_are_refused(shop: ShopService) -> None:
    call = a_call()
    async with httpx.AsyncClient(base_url=shop.url) as http:
        unsigned = await http.post("/gift-wrap", content=call.body())
        tampered = await http.post(
            "/gift-wrap", content=call.body() + b" ", headers=signed(shop.secret, call)
        )
        stale = await http.post(
            "/gift-wrap",
            content=call.body(),
            headers=signed(shop.secret, call, int(time.time()) - 3600),
        )
        keyless = signed(shop.secret, call)
        del keyless["Idempotency-Key"]
        no_key = await http.post("/gift-wrap", content=call.body(), headers=keyless)
    assert [r.status_code for r in (unsigned, tampered, stale, no_key)] == [401, 401, 401, 400]
    assert shop.demo.report() == {"calls": []}


async def test_a_repeated_key_is_answered_again_without_doing_the_work_again(
    shop: ShopService,
) -> None:
    call = a_call(lines=[{"sku": "GIFT"}])
    answers = [(await post(shop, "/gift-wrap", call)).json() for _ in range(3)]
    assert answers == [{"wrap_fee_minor": 250}] * 3
    other_body = await post(
        shop, "/gift-wrap", a_call(lines=[{"sku": "MUG"}]), **{"Idempotency-Key": "ord_9:wrap:1"}
    )
    assert other_body.status_code == 409
    async with httpx.AsyncClient(base_url=shop.url) as http:
        report = (await http.get("/calls")).json()
    assert report == {
        "calls": [
            {
                "service": "gift-wrap",
                "key": "ord_9:wrap:1",
                "requests": 3,
                "effects": 1,
                "answer": {"wrap_fee_minor": 250},
            }
        ]
    }


async def test_oms_run_starts_the_shop_and_registers_its_endpoints(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'oms.db'}")
    await asyncio.to_thread(upgrade, settings.resolved_database_url)
    supervisor = Supervisor(logs=tmp_path, grace_s=5)
    try:
        url, secret = supervisor.start_demo_shop(dict(os.environ))
        assert url.startswith("http://127.0.0.1:")
        assert await register_demo_endpoints(settings, url, secret) == [
            "gift-wrap",
            "gift-wrap-cancel",
            "address-check",
        ]
        # Again, as the next `oms run` does: the same names, moved.
        await register_demo_endpoints(settings, url, secret)
        store = Store(settings.resolved_database_url)
        activities = EndpointActivities(store)
        try:
            names = [endpoint.name for endpoint in await list_endpoints(store)]
            assert names == ["address-check", "gift-wrap", "gift-wrap-cancel"]
            wrap = await get_endpoint(store, "gift-wrap")
            assert wrap is not None and wrap.url == f"{url}/gift-wrap"
            answer = await activities.call_endpoint(
                a_call(lines=[{"sku": "GIFT-CARD"}], outputs={"wrap_fee_minor": "int"})
            )
            assert answer.outputs == {"wrap_fee_minor": 250}
            async with httpx.AsyncClient(base_url=url) as http:
                report = (await http.get("/calls")).json()
            assert [(c["key"], c["effects"]) for c in report["calls"]] == [("ord_9:wrap:1", 1)]
        finally:
            await activities.close()
            await store.close()
        assert secret not in supervisor.log_tail("shop", 200)
        assert secret not in " ".join(supervisor.processes["shop"].args)  # env, not argv
    finally:
        supervisor.stop_all()
