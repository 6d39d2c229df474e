"""The simulated carrier's webhook calls: the events that fall due go out side by side, each
once, and a shipment moves on only when the OMS accepted its event."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import httpx
from sqlalchemy import select

from adapters.carrier import SimulatedCarrier
from adapters.carrier_simulator import CarrierSimulator, carrier_key, with_carrier_key
from domain.addresses import Address
from oms.config.settings import Settings
from store.db import Store
from store.sandbox_tables import CarrierShipment

ADDRESS = Address(name="Ann", line1="1 Main St", city="Springfield", postal_code="1", country="US")


class Webhook:
    """The OMS's `POST /shipments/{id}/events` as the simulator sees it: answers after a
    moment, counting how many calls are in flight at once."""

    def __init__(self, refuse: str | None = None) -> None:
        self.events: Counter[tuple[str, str]] = Counter()
        self.in_flight = 0
        self.most_in_flight = 0
        self.refuse = refuse

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await asyncio.sleep(0.02)
        self.in_flight -= 1
        shipment_id = request.url.path.split("/")[2]
        self.events[(shipment_id, json.loads(request.content)["status"])] += 1
        return httpx.Response(409 if shipment_id == self.refuse else 202)


async def book(own_store: Store, count: int) -> list[str]:
    carrier = SimulatedCarrier(own_store, delay_s=0)
    ids = [f"ord_sim-{n}" for n in range(1, count + 1)]
    for shipment_id in ids:
        await carrier.book(
            shipment_id=shipment_id, order_id="ord_sim", warehouse="EWR", address=ADDRESS, lines=[]
        )
    return ids


async def statuses(own_store: Store) -> dict[str, str]:
    async with own_store.read() as session:
        rows = await session.scalars(select(CarrierShipment))
        return {row.shipment_id: row.status for row in rows}


async def test_due_events_go_out_side_by_side_each_once(own_store: Store) -> None:
    ids = await book(own_store, 10)
    webhook = Webhook()
    simulator = CarrierSimulator(own_store, "http://oms.test", "key", delay_s=0, concurrency=4)
    async with httpx.AsyncClient(
        transport=httpx.MockTransport(webhook), base_url="http://oms.test"
    ) as http:
        assert await simulator.advance_due(http) == 10
        assert await statuses(own_store) == dict.fromkeys(ids, "dispatched")
        assert await simulator.advance_due(http) == 10
        assert await simulator.advance_due(http) == 0  # delivered: nothing more to send
    assert await statuses(own_store) == dict.fromkeys(ids, "delivered")
    assert webhook.events == Counter(
        {(shipment_id, status): 1 for shipment_id in ids for status in ("dispatched", "delivered")}
    )
    assert webhook.most_in_flight == 4  # side by side, never more than the concurrency


async def test_a_refused_event_stops_that_shipment_only(own_store: Store) -> None:
    ids = await book(own_store, 3)
    webhook = Webhook(refuse=ids[0])
    simulator = CarrierSimulator(own_store, "http://oms.test", "key", delay_s=0)
    async with httpx.AsyncClient(
        transport=httpx.MockTransport(webhook), base_url="http://oms.test"
    ) as http:
        await simulator.advance_due(http)
        await simulator.advance_due(http)
    assert await statuses(own_store) == {ids[0]: "booked", ids[1]: "delivered", ids[2]: "delivered"}
    assert webhook.events[(ids[0], "dispatched")] == 1  # refused once, not sent again


def test_a_carrier_key_is_added_only_where_the_keys_have_none() -> None:
    # `oms run` and the benchmark start the simulator as a process of its own; it signs its
    # webhooks with a carrier key, made up for the run when OMS_API_KEYS has none.
    given = "operator-key:operator,customer-key:customer:cus_1"
    keys = with_carrier_key(given)
    assert keys.startswith(given + ",sim_") and keys.endswith(":carrier")
    settings = Settings(api_keys=keys)
    made = carrier_key(settings)
    assert settings.principals[made].role == "carrier"
    theirs = "operator-key:operator,their-carrier-key:carrier"
    assert with_carrier_key(theirs) == theirs


def test_oms_carrier_without_a_carrier_key_says_what_is_missing(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("OMS_")}
    env |= {"OMS_API_KEYS": "operator-key:operator", "OMS_DATA_DIR": str(tmp_path)}
    ran = subprocess.run(
        [str(Path(sys.executable).parent / "oms"), "carrier"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.returncode == 1
    assert "needs a key of the carrier role in OMS_API_KEYS" in ran.stderr
