"""`oms intake` takes orders and carrier events from the broker as the API takes them: of
200 orders published (some twice, some that can never be placed) exactly the valid ones are
placed, once each, through a Temporal outage in the middle, and every other one is a dead
letter with the words the API answers it with; a failure that lasts is dead-lettered after
the delivery limit; carrier events move a shipment as the webhook does."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.js import JetStreamContext
from pydantic import SecretStr
from sqlalchemy import func, select
from temporalio.testing import WorkflowEnvironment

from oms import broker
from store.tables import Order
from tests.broker.intake_shop import Shop, dead_letters_shown, drained, publish, running_intake
from tests.helpers.gate import Gate
from tests.helpers.keys import CARRIER_KEY
from tests.helpers.orders import order_body, place, shipments_booked, wait_until
from tests.helpers.stack import running_stack

ORDERS = 200
OUTAGE_S = 12  # longer than the Temporal client's own retries (10 s): the intake's turn
CARD = "4111 1111 1111 1111"


@pytest.fixture(scope="module")
async def shop(
    temporal_env: WorkflowEnvironment, nats_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Shop]:
    url = f"sqlite:///{tmp_path_factory.mktemp('intake') / 'oms.db'}"
    # The simulated carrier never gets to a shipment here: its events come over the broker.
    async with running_stack(temporal_env, url, carrier_delay_s=3600) as stack:
        host, port = stack.settings.resolved_temporal_address.rsplit(":", 1)
        gate = Gate(host, int(port))
        await gate.open()
        connection = await nats.connect(nats_url)
        try:
            yield Shop(stack, nats_url, connection.jetstream(), gate)
        finally:
            await connection.close()
            await gate.close()


@dataclass(frozen=True)
class Message:
    index: int
    kind: str
    data: bytes
    headers: dict[str, str]


def kind_of(index: int) -> str:
    if index == 19:
        return "card number"
    return {3: "not JSON", 7: "unknown SKU"}.get(index % 25) or {
        11: "no message id",
        23: "no quantity",
    }.get(index % 50, "valid")


def message(run: str, customer: str, index: int) -> Message:
    kind = kind_of(index)
    body: dict[str, Any] = order_body(customer=customer)
    body["shipping_address"]["line1"] = f"{index} Broker Way"
    if kind == "card number":
        body["shipping_address"]["line2"] = f"flat {CARD}"
    elif kind == "unknown SKU":
        body["lines"] = [{"sku": f"NO-SUCH-{run.upper()}", "quantity": 1}]
    elif kind == "no quantity":
        body["lines"] = [{"sku": "TSHIRT-BLK-M", "quantity": 0}]
    data = json.dumps(body).encode()
    if kind == "not JSON":
        data = data[:-9]
    headers = {"Shop-Batch": run}
    if kind != "no message id":
        headers[broker.MESSAGE_ID] = f"{run}-{index}"
    return Message(index, kind, data, headers)


@contextlib.asynccontextmanager
async def past_the_duplicate_window(js: JetStreamContext) -> AsyncIterator[None]:
    """As if the broker's duplicate window (5 minutes) had gone by: it is made short for a
    moment, then brought back to its configured length."""
    intake = next(stream for stream in broker.STREAMS if stream.name == broker.INTAKE_STREAM)
    await js.update_stream(replace(intake, duplicate_window_s=0.5).config())
    await asyncio.sleep(1.5)
    try:
        yield
    finally:
        await broker.ensure_streams(js)


async def http_answers(shop: Shop, messages: list[Message]) -> dict[int, list[str]]:
    """What the API answers each message's body with, sent to `POST /orders`: its 422's
    messages (a message without an id has no HTTP counterpart)."""
    said: dict[int, list[str]] = {}
    async with shop.stack.http() as http:
        for sent in messages:
            if sent.kind in ("valid", "no message id"):
                continue
            response = await http.post(
                "/orders",
                content=sent.data,
                headers={"Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex},
            )
            assert response.status_code == 422, response.text
            said[sent.index] = [entry["msg"] for entry in response.json()["detail"]]
    return said


async def placed_orders(shop: Shop, customer: str, expected: int) -> list[dict[str, Any]]:
    """The customer's orders as `GET /orders` lists them (once all are listed) and as each
    one's view shows it."""
    async with shop.stack.http() as http:
        for _ in range(600):
            page = (
                await http.get("/orders", params={"customer_id": customer, "limit": 200})
            ).json()
            if page["count"] >= expected:
                break
            await asyncio.sleep(0.1)
        return [(await http.get(f"/orders/{row['order_id']}")).json() for row in page["data"]]


async def send(js: JetStreamContext, messages: list[Message], twice: list[Message]) -> None:
    """Publish `messages`, then at once those among `twice` again: the broker drops each
    copy itself (its duplicate window)."""
    for sent in messages:
        assert await publish(js, broker.INTAKE_ORDERS, sent.data, sent.headers)
    for sent in twice:
        if sent in messages:
            assert not await publish(js, broker.INTAKE_ORDERS, sent.data, sent.headers)


def shipment_is(status: str) -> Callable[[dict[str, Any]], bool]:
    return lambda view: view["shipments"][0]["status"] == status


@pytest.mark.timeout(180)
async def test_orders_from_the_broker_are_placed_once_and_the_rest_dead_lettered(
    shop: Shop, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run, js = uuid.uuid4().hex[:8], shop.js
    customer = f"cus_bk_{run}"
    messages = [message(run, customer, index) for index in range(ORDERS)]
    valid = [sent for sent in messages if sent.kind == "valid"]
    refused = [sent for sent in messages if sent.kind != "valid"]
    twice = [sent for sent in valid if sent.index % 10 == 0]
    first, second = messages[: ORDERS // 2], messages[ORDERS // 2 :]
    async with running_intake(shop) as intake:
        await send(js, first, twice)
        while not await intake.count(broker.INTAKE_ORDERS, "placed"):
            await asyncio.sleep(0.1)
        await shop.gate.close()  # Temporal unreachable from the intake, mid-stream
        await send(js, second, twice)
        await asyncio.sleep(OUTAGE_S)
        await shop.gate.open()
        await drained(js)
        async with past_the_duplicate_window(js):  # sent again later: only the claims know
            for sent in twice:
                assert await publish(js, broker.INTAKE_ORDERS, sent.data, sent.headers)
            await drained(js)
        outcomes = ("placed", "duplicate", "dead", "retried")
        count = {outcome: await intake.count(broker.INTAKE_ORDERS, outcome) for outcome in outcomes}
        dead_letters = await intake.count(broker.INTAKE_ORDERS)

    orders = await placed_orders(shop, customer, len(valid))
    lines = Counter(order["shipping_address"]["line1"] for order in orders)
    assert lines == Counter(f"{sent.index} Broker Way" for sent in valid)
    async with shop.stack.store.read() as session:
        claims = await session.scalar(select(func.count()).where(Order.customer_id == customer))
    assert claims == len(valid)

    said = await http_answers(shop, refused)
    shown = await dead_letters_shown(shop.nats_url, monkeypatch, capsys)
    assert CARD not in json.dumps(shown) and CARD.replace(" ", "") not in json.dumps(shown)
    letters = [letter for letter in shown if letter["headers"].get("Shop-Batch") == run]
    by_index = Counter(int(re.findall(r'"(\d+) Broker Way"', x["body"])[0]) for x in letters)
    assert by_index == Counter(sent.index for sent in refused)
    for sent in refused:
        letter = next(x for x in letters if f'"{sent.index} Broker Way"' in x["body"])
        assert letter["subject"] == broker.INTAKE_ORDERS
        assert letter["headers"] == sent.headers
        for words in said.get(sent.index, [f"no {broker.MESSAGE_ID} header"]):
            assert words in letter["reason"], (sent.kind, letter["reason"])

    assert count["placed"] + count["duplicate"] == len(valid) + len(twice)
    assert count["dead"] == dead_letters == len(refused)
    assert count["retried"] > 0  # the outage was felt, and ridden out


async def test_a_failure_that_lasts_is_dead_lettered_after_the_delivery_limit(
    shop: Shop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run = uuid.uuid4().hex[:8]
    body = json.dumps(order_body(customer=f"cus_bk_{run}")).encode()
    unreachable = SecretStr(f"sqlite:///{tmp_path / 'no-such-dir' / 'oms.db'}")
    async with running_intake(shop, database_url=unreachable, intake_max_deliver=2) as intake:
        headers = {broker.MESSAGE_ID: f"{run}-lasting"}
        assert await publish(shop.js, broker.INTAKE_ORDERS, body, headers)
        await drained(shop.js)
        assert await intake.count(broker.INTAKE_ORDERS, "retried") == 1
        assert await intake.count(broker.INTAKE_ORDERS, "dead") == 1
    shown = await dead_letters_shown(shop.nats_url, monkeypatch, capsys)
    letter = next(x for x in shown if x["headers"].get(broker.MESSAGE_ID) == f"{run}-lasting")
    assert letter["reason"].startswith("gave up after 2 deliveries: OperationalError")
    assert json.loads(letter["body"]) == json.loads(body)


async def test_carrier_events_from_the_broker_move_the_shipment(
    shop: Shop, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run = uuid.uuid4().hex[:8]
    # Not a shipment id (one of them not ASCII either); a shipment of no order.
    unknown = [f"shp_{run}", f"shp_{run}_münchen", f"ord_{run}ffffffff-1"]
    async with shop.stack.http() as http, running_intake(shop) as intake:
        order_id = (await place(http, order_body(customer=f"cus_bk_{run}")))["order_id"]
        booked = await wait_until(http, order_id, shipments_booked)
        shipment_id = booked["shipments"][0]["shipment_id"]
        for status, shows in (("dispatched", "DISPATCHED"), ("delivered", "DELIVERED")):
            headers = {broker.SHIPMENT_ID: shipment_id, broker.MESSAGE_ID: f"{run}-{status}"}
            event = json.dumps({"status": status}).encode()
            assert await publish(shop.js, broker.CARRIER_EVENTS, event, headers)
            view = await wait_until(http, order_id, shipment_is(shows))
        assert view["fulfillment_status"] == "FULFILLED"
        webhook: dict[str, str] = {}
        for shipment in unknown:
            answer = await http.post(
                f"/shipments/{shipment}/events",
                json={"status": "dispatched"},
                headers={"Authorization": f"Bearer {CARRIER_KEY}"},
            )
            assert answer.status_code == 404, answer.text
            webhook[shipment] = answer.json()["detail"]
            headers = {broker.SHIPMENT_ID: shipment, "Shop-Batch": run}
            event = json.dumps({"status": "dispatched"}).encode()
            assert await publish(shop.js, broker.CARRIER_EVENTS, event, headers)
        assert await publish(shop.js, broker.CARRIER_EVENTS, event, {"Shop-Batch": run})
        await drained(shop.js)
        assert await intake.count(broker.CARRIER_EVENTS, "applied") == 2
        assert await intake.count(broker.CARRIER_EVENTS, "dead") == len(unknown) + 1
    shown = await dead_letters_shown(shop.nats_url, monkeypatch, capsys)
    letters = [x for x in shown if x["headers"].get("Shop-Batch") == run]
    assert all(x["subject"] == broker.CARRIER_EVENTS for x in letters)
    reasons = {x["headers"].get(broker.SHIPMENT_ID): x["reason"] for x in letters}
    assert reasons.keys() == {*unknown, None}
    for shipment in unknown:
        assert webhook[shipment] in reasons[shipment]
    assert f"no {broker.SHIPMENT_ID} header" in reasons[None]
