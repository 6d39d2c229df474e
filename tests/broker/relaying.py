"""What the relay's tests share: a fresh store per test on each backend, journals written
through the store's append, the relay as a process, what a consumer of the stream receives,
and what the API shows for an order's events."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from api.main import create_app
from domain.events import JournalEvent
from oms.config.settings import Settings
from oms.relay import run_relay
from oms.relay_metrics import RelayMetrics
from store import journal, outbox
from store.db import Store
from store.migrate import upgrade
from store.tables import Order
from tests.helpers.keys import API_KEYS, OPERATOR_KEY
from tests.helpers.stores import PG_ADMIN_URL, STORE_BACKENDS_RUN, postgres_answers

ROOT = Path(__file__).resolve().parents[2]
TYPES = ("OrderPlaced", "FraudChecked", "StockReserved", "PaymentAuthorized", "ShipmentBooked")
T0 = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)


@contextlib.asynccontextmanager
async def fresh_store(backend: str, tmp_path: Path) -> AsyncIterator[Store]:
    """A migrated, empty store of the test's own: a SQLite file, or a PostgreSQL database
    dropped afterwards (the test is skipped when PostgreSQL does not answer)."""
    admin = PG_ADMIN_URL.replace("+psycopg", "")
    name = f"oms_relay_{uuid.uuid4().hex[:10]}"
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'oms.db'}"
    else:
        if not postgres_answers():
            pytest.skip("PostgreSQL does not answer at 127.0.0.1:5432")
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    await asyncio.to_thread(upgrade, url)
    STORE_BACKENDS_RUN.add(backend)
    store = Store(url)
    try:
        yield store
    finally:
        await store.close()
        if backend != "sqlite":
            with psycopg.connect(admin, autocommit=True) as connection:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def order_ids(count: int) -> list[str]:
    return [f"ord_{uuid.uuid4().hex[:16]}" for _ in range(count)]


def events(order_id: str, first: int, last: int) -> list[JournalEvent]:
    return [
        JournalEvent(
            order_id=order_id,
            seq=seq,
            type=TYPES[(seq - 1) % len(TYPES)],
            at=T0 + timedelta(seconds=seq, microseconds=seq),
            actor="api:cus_zoë" if seq == 1 else "system",
            reason="placed via API" if seq == 1 else None,
            data={"seq": seq, "lines": [{"sku": "MUG-CERAMIC", "quantity": seq}], "note": "ü✓"},
        )
        for seq in range(first, last + 1)
    ]


async def write_journals(store: Store, orders: list[str], count: int, batch: int = 4) -> None:
    """`count` events per order, appended in batches taking turns between the orders, each
    batch appended twice (a retried activity)."""
    for first in range(1, count + 1, batch):
        for order_id in orders:
            written = events(order_id, first, min(first + batch - 1, count))
            await journal.append(store, written)
            await journal.append(store, written)


async def due(store: Store) -> int:
    return (await outbox.backlog(store)).due


async def wait_for(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def relay_until_drained(
    store: Store, nats_url: str, metrics: RelayMetrics | None = None, batch: int = 50
) -> None:
    """Run the relay in this process until the outbox is empty, then stop it."""
    settings = Settings(database_url=store.url, nats_url=nats_url, relay_lease_s=2)
    stop = asyncio.Event()
    relay = asyncio.create_task(run_relay(settings, stop, batch=batch, metrics=metrics))
    try:
        await wait_for(lambda: _drained(store, relay), "the outbox to drain")
    finally:
        stop.set()
        await asyncio.wait_for(relay, 10)


async def _drained(store: Store, relay: asyncio.Task) -> bool:
    if relay.done():
        relay.result()  # it ended early: say why
    return await due(store) == 0


async def consumer(js: JetStreamContext, name: str) -> JetStreamContext.PullSubscription:
    """A durable consumer of every order event, from the stream's first message; created
    before anything is published, it lives through a restart of the server."""
    return await js.pull_subscribe(
        "oms.orders.>",
        durable=name,
        stream="OMS_ORDERS",
        config=ConsumerConfig(ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL),
    )


async def received(subscription: JetStreamContext.PullSubscription) -> list[Msg]:
    """Every message the consumer has to give, in the order it gives them."""
    messages: list[Msg] = []
    while True:
        try:
            messages += await subscription.fetch(500, timeout=0.5)
        except NatsTimeout:
            return messages


def seqs_by_order(messages: list[Msg]) -> dict[str, list[int]]:
    """Each order's `seq`s in the order the consumer received them."""
    seen: dict[str, list[int]] = {}
    for message in messages:
        event = json.loads(message.data)
        seen.setdefault(event["order_id"], []).append(event["seq"])
    return seen


async def api_events(store: Store, orders: list[str]) -> dict[str, list[dict[str, Any]]]:
    """`GET /orders/{id}/events` for each order, from the API's app and routes (no Temporal:
    the route reads the store)."""
    async with store.transaction() as session:
        for order_id in orders:
            session.add(
                Order(
                    order_id=order_id,
                    customer_id="cus_zoe",
                    order_type="standard",
                    owner="operator",
                    idempotency_key=order_id,
                    request_hash="-",
                    created_at=T0,
                )
            )
    settings = Settings(database_url=store.url, api_keys=API_KEYS)
    app = create_app(settings)
    app.state.settings, app.state.store, app.state.temporal = settings, store, None
    app.state.principals = dict(settings.principals)
    shown = {}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://api",
        headers={"Authorization": f"Bearer {OPERATOR_KEY}"},
    ) as api:
        for order_id in orders:
            response = await api.get(f"/orders/{order_id}/events")
            assert response.status_code == 200, response.text
            shown[order_id] = response.json()["data"]
    return shown


def relay_env(store: Store, nats_url: str, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMS_")}
    extra = {f"OMS_{key.upper()}": value for key, value in settings.items()}
    return env | {"OMS_DATABASE_URL": store.url, "OMS_NATS_URL": nats_url} | extra


def start_relay(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen:
    """`oms relay` as its own process, its output appended to `log`."""
    with log.open("ab") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "oms.cli", "relay", *args],
            env=env,
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def scrape(port: int) -> dict[str, float]:
    """The relay's metrics at http://127.0.0.1:port/metrics, by sample name."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    samples = {}
    for row in text.splitlines():
        if row and not row.startswith("#"):
            name, _, value = row.rpartition(" ")
            samples[name] = float(value)
    return samples
