"""The relay against a real nats-server and a store of its own on each backend: a consumer
that subscribed before sees every event of each order once, in `seq` order, as the API
shows it; through the relay's crash, the broker's outage and a second relay at once."""

from __future__ import annotations

import asyncio
import functools
import json
import signal
import subprocess
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import nats
import psycopg
import pytest
from sqlalchemy import insert

from oms.config.settings import Settings
from oms.relay import run_relay
from oms.relay_metrics import RelayMetrics
from store.db import Store
from store.tables import JournalOutbox
from tests.broker.relaying import (
    api_events,
    consumer,
    due,
    fresh_store,
    order_ids,
    received,
    relay_env,
    relay_until_drained,
    scrape,
    seqs_by_order,
    start_relay,
    wait_for,
    write_journals,
)
from tests.helpers.nats_server import NatsServer
from tests.helpers.stack import free_port
from tests.helpers.stores import PG_ADMIN_URL


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    async with fresh_store(request.param, tmp_path) as fresh:
        yield fresh


@pytest.fixture
async def js(nats_server: NatsServer) -> AsyncIterator[nats.js.JetStreamContext]:
    from oms.broker import connect, ensure_streams

    connection = await connect(nats_server.url, name="test-consumer")
    stream = connection.jetstream()
    await ensure_streams(stream)
    yield stream
    await connection.close()


def in_order(orders: list[str], count: int) -> dict[str, list[int]]:
    return {order_id: list(range(1, count + 1)) for order_id in orders}


def sample_sum(samples: dict[str, float], name: str) -> float:
    return sum(v for k, v in samples.items() if k == name or k.startswith(name + "{"))


async def test_every_event_once_in_order_as_the_api_shows_it(
    store: Store, nats_server: NatsServer, js: nats.js.JetStreamContext
) -> None:
    subscription = await consumer(js, "follower")
    orders = order_ids(6)
    await write_journals(store, orders, count=9)
    settings = Settings(database_url=store.url, nats_url=nats_server.url, relay_lease_s=2)
    stop, metrics = asyncio.Event(), RelayMetrics()
    relay = asyncio.create_task(run_relay(settings, stop, batch=7, metrics=metrics))
    await wait_for(lambda: _none_due(store), "the outbox to drain")
    await write_journals(store, orders[:2], count=12)  # more while it runs: seq 10..12
    await wait_for(lambda: _none_due(store), "the outbox to drain again")
    stop.set()
    await asyncio.wait_for(relay, 10)

    messages = await received(subscription)
    assert seqs_by_order(messages) == in_order(orders[:2], 12) | in_order(orders[2:], 9)
    shown = await api_events(store, orders)
    for message in messages:
        event = json.loads(message.data)
        assert event == shown[event["order_id"]][event["seq"] - 1]
        assert message.subject == f"oms.orders.{event['order_id']}.{event['type']}"
        assert message.headers == {"Nats-Msg-Id": f"{event['order_id']}:{event['seq']}"}
    published = metrics.registry.get_sample_value("oms_relay_published_total")
    assert published == len(messages) == 2 * 12 + 4 * 9
    assert metrics.registry.get_sample_value("oms_relay_publish_lag_seconds_count") == published


async def _none_due(store: Store) -> bool:
    return await due(store) == 0


async def test_events_published_again_are_dropped_by_the_broker(
    store: Store, nats_server: NatsServer, js: nats.js.JetStreamContext
) -> None:
    subscription = await consumer(js, "follower")
    orders = order_ids(3)
    await write_journals(store, orders, count=5)
    await relay_until_drained(store, nats_server.url)
    # What a relay killed after JetStream's acknowledgement, before its delete, leaves.
    async with store.connection() as connection:
        await connection.execute(
            insert(JournalOutbox),
            [
                {"order_id": order_id, "seq": seq, "created_at": datetime.now(UTC)}
                for order_id in orders
                for seq in range(1, 6)
            ],
        )
    again = RelayMetrics()
    await relay_until_drained(store, nats_server.url, again)

    messages = await received(subscription)
    assert seqs_by_order(messages) == in_order(orders, 5)
    assert again.registry.get_sample_value("oms_relay_duplicates_total") == 15
    assert again.registry.get_sample_value("oms_relay_published_total") == 0


async def test_a_relay_killed_mid_backlog_and_started_again_leaves_no_gap_and_no_duplicate(
    store: Store, nats_server: NatsServer, js: nats.js.JetStreamContext, tmp_path: Path
) -> None:
    subscription = await consumer(js, "follower")
    orders = order_ids(40)
    await write_journals(store, orders, count=30, batch=10)
    total = 40 * 30
    env = relay_env(store, nats_server.url, relay_lease_s="2")
    log = tmp_path / "relay.log"
    first = start_relay(env, log, "--batch", "40")
    try:
        stream = await js.stream_info("OMS_ORDERS")
        while stream.state.messages < 200:
            assert first.poll() is None, log.read_text()
            await asyncio.sleep(0.01)
            stream = await js.stream_info("OMS_ORDERS")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    left = await due(store)
    assert 0 < left < total, "killed mid-backlog"

    port = free_port()
    second = start_relay(env, log, "--batch", "40", "--metrics-port", str(port))
    try:
        await wait_for(lambda: _none_due(store), "the second relay to drain the outbox")
        await wait_for(lambda: _backlog_shown(port), "the metrics to show the outbox empty")
        samples = scrape(port)
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(15) == 0, log.read_text()

    messages = await received(subscription)
    assert seqs_by_order(messages) == in_order(orders, 30)
    assert len(messages) == total
    # What the second relay stored is what the first left unpublished.
    assert sample_sum(samples, "oms_relay_published_total") <= left
    assert samples["oms_relay_lag_seconds"] == 0


async def _backlog_shown(port: int) -> bool:
    return (await asyncio.to_thread(scrape, port)).get("oms_outbox_backlog") == 0


async def test_the_backlog_waits_out_a_broker_outage_and_then_drains(
    store: Store, nats_server: NatsServer, js: nats.js.JetStreamContext
) -> None:
    subscription = await consumer(js, "follower")  # durable: it outlives the restart
    orders = order_ids(20)
    await write_journals(store, orders, count=20, batch=5)
    settings = Settings(database_url=store.url, nats_url=nats_server.url, relay_lease_s=2)
    stop, metrics = asyncio.Event(), RelayMetrics()
    relay = asyncio.create_task(run_relay(settings, stop, batch=25, metrics=metrics))
    try:
        await wait_for(lambda: _published(metrics, 50), "the relay to start publishing")
        nats_server.kill()
        await write_journals(store, orders, count=24, batch=4)  # written during the outage
        await asyncio.sleep(2)  # the batch under way gives up when its lease's time runs out
        waiting = await due(store)
        await asyncio.sleep(1.5)
        assert 0 < waiting == await due(store), "nothing leaves while the broker is away"
        assert metrics.registry.get_sample_value("oms_outbox_backlog") == waiting
        assert (metrics.registry.get_sample_value("oms_relay_lag_seconds") or 0) > 0
        nats_server.start()
        await wait_for(lambda: _none_due(store), "the backlog to drain")
    finally:
        stop.set()
        await asyncio.wait_for(relay, 15)

    messages = await received(subscription)
    assert seqs_by_order(messages) == in_order(orders, 24)
    assert len(messages) == 20 * 24


async def _published(metrics: RelayMetrics, at_least: int) -> bool:
    return (metrics.registry.get_sample_value("oms_relay_published_total") or 0) >= at_least


async def test_of_two_relays_one_publishes_and_the_other_takes_over_when_it_dies(
    store: Store, nats_server: NatsServer, js: nats.js.JetStreamContext, tmp_path: Path
) -> None:
    subscription = await consumer(js, "follower")
    orders = order_ids(10)
    env = relay_env(store, nats_server.url, relay_lease_s="2")
    ports = [free_port(), free_port()]
    relays = [
        start_relay(env, tmp_path / f"relay-{n}.log", "--batch", "20", "--metrics-port", str(port))
        for n, port in enumerate(ports)
    ]
    try:
        for port in ports:
            await wait_for(functools.partial(_serving, port), "the relays to start")
        await write_journals(store, orders, count=30, batch=3)
        await wait_for(lambda: _none_due(store), "the outbox to drain")
        published = [sample_sum(scrape(port), "oms_relay_published_total") for port in ports]
        assert sorted(published) == [0, 10 * 30], "one relay published everything"
        leader = published.index(10 * 30)
        relays[leader].send_signal(signal.SIGKILL)
        relays[leader].wait()

        await write_journals(store, orders, count=36, batch=3)
        await wait_for(lambda: _none_due(store), "the standby to take over", timeout=20)
        standby = ports[1 - leader]
        assert sample_sum(scrape(standby), "oms_relay_published_total") == 10 * 6
    finally:
        for relay in relays:
            relay.send_signal(signal.SIGTERM)
        codes = [_ended(relay) for relay in relays]
    assert codes[1 - leader] == 0

    messages = await received(subscription)
    assert seqs_by_order(messages) == in_order(orders, 36)


async def _serving(port: int) -> bool:
    try:
        await asyncio.to_thread(scrape, port)
    except httpx.HTTPError:
        return False
    return True


def _ended(relay: subprocess.Popen) -> int:
    try:
        return relay.wait(15)
    except subprocess.TimeoutExpired:
        relay.kill()
        return relay.wait()


async def test_the_relay_waits_out_a_store_outage(
    tmp_path: Path, nats_server: NatsServer, js: nats.js.JetStreamContext
) -> None:
    async with fresh_store("postgresql", tmp_path) as store:
        subscription = await consumer(js, "follower")
        orders = order_ids(20)
        await write_journals(store, orders, count=20, batch=5)
        settings = Settings(database_url=store.url, nats_url=nats_server.url, relay_lease_s=2)
        stop, metrics = asyncio.Event(), RelayMetrics()
        relay = asyncio.create_task(run_relay(settings, stop, batch=25, metrics=metrics))
        database = store.url.rsplit("/", 1)[1]
        try:
            await wait_for(lambda: _published(metrics, 50), "the relay to start publishing")
            with psycopg.connect(PG_ADMIN_URL.replace("+psycopg", ""), autocommit=True) as admin:
                admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                    (database,),
                )
                await asyncio.sleep(1.5)
                assert not relay.done()
                published = metrics.registry.get_sample_value("oms_relay_published_total")
                assert published is not None and published < 20 * 20, "the backlog waits"
                admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
            await wait_for(lambda: _none_due(store), "the backlog to drain")
        finally:
            stop.set()
            await asyncio.wait_for(relay, 15)

        messages = await received(subscription)
        assert seqs_by_order(messages) == in_order(orders, 20)


async def test_an_idle_relay_looks_less_often_and_is_quick_again_once_events_come(
    store: Store, js: nats.js.JetStreamContext
) -> None:
    from oms.relay import Relay

    relay = Relay(store, js, lease_s=5)
    # Nothing due: each look waits twice as long as the one before, up to half a second.
    assert [await relay.step() for _ in range(5)] == [0.1, 0.2, 0.4, 0.5, 0.5]
    subscription = await consumer(js, "idle-follower")
    orders = order_ids(1)
    await write_journals(store, orders, count=3)
    assert await relay.step() == 0.0  # published at once, and the next look is soon again
    assert seqs_by_order(await received(subscription)) == in_order(orders, 3)
    assert await relay.step() == 0.1
    await relay.release()
