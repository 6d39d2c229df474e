"""`oms events tail` as a user runs it: a process of its own following the journal on a real
nats-server, fed by the relay."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest

from oms.broker import connect, ensure_streams
from store import journal
from store.db import Store
from tests.broker.relaying import (
    ROOT,
    api_events,
    events,
    fresh_store,
    order_ids,
    relay_until_drained,
    wait_for,
    write_journals,
)
from tests.helpers.nats_server import NatsServer


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with fresh_store("sqlite", tmp_path) as fresh:
        yield fresh


async def tail(nats_url: str, *args: str) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMS_")}
    return await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "oms.cli", "events", "tail", *args),
        env=env | {"OMS_NATS_URL": nats_url},
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def printed(process: asyncio.subprocess.Process) -> list[str]:
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, err.decode()
    return out.decode().splitlines()


async def test_tail_from_the_start_prints_one_orders_events_in_order_as_json(
    store: Store, nats_server: NatsServer
) -> None:
    orders = order_ids(3)
    await write_journals(store, orders, count=7, batch=2)
    await relay_until_drained(store, nats_server.url)
    chosen = orders[1]

    one_order = await tail(
        nats_server.url, "--from-start", "--order", chosen, "--json", "--idle-exit", "1"
    )
    one_type = await tail(
        nats_server.url, "--from-start", "--type", "FraudChecked", "--idle-exit", "1"
    )
    as_json, as_lines = await asyncio.gather(printed(one_order), printed(one_type))

    shown = await api_events(store, orders)
    assert [json.loads(line) for line in as_json] == shown[chosen]
    checked = [
        (e["order_id"], e["seq"]) for o in orders for e in shown[o] if e["type"] == "FraudChecked"
    ]
    assert sorted((line.split()[1], int(line.split()[0])) for line in as_lines) == sorted(checked)


async def test_tail_prints_new_events_only_one_line_each(
    store: Store, nats_server: NatsServer
) -> None:
    [order_id] = order_ids(1)
    await journal.append(store, events(order_id, 1, 3))
    await relay_until_drained(store, nats_server.url)

    following = await tail(nats_server.url, "--count", "3")
    connection = await connect(nats_server.url, name="test")
    await wait_for(lambda: _consumers(connection.jetstream(), 1), "the tail to subscribe")
    await connection.close()
    await journal.append(store, events(order_id, 4, 6))
    await relay_until_drained(store, nats_server.url)

    lines = await printed(following)
    written = await journal.read(store, order_id, after_seq=3)
    assert [line.split() for line in lines] == [
        [str(e.seq), e.order_id, e.type, e.model_dump(mode="json")["at"]] for e in written
    ]


async def _consumers(js: nats.js.JetStreamContext, count: int) -> bool:
    await ensure_streams(js)
    return (await js.stream_info("OMS_ORDERS")).state.consumer_count >= count
