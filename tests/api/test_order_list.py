"""The order list, the projected order view and /stats, over real HTTP on a stack of their own.

Every filter, pagination while orders are being placed and changing, customer isolation,
and `oms projections rebuild` giving back exactly the live tables.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from tests.helpers.keys import CUSTOMER_KEY, OTHER_CUSTOMER_KEY
from tests.helpers.orders import order_body, place, wait_until
from tests.helpers.stack import Stack, running_stack
from tests.store.test_projections import table_rows

pytestmark = pytest.mark.timeout(240)

TERMINAL = {"COMPLETED", "CANCELLED", "FAILED"}


def ended(view: dict[str, Any]) -> bool:
    return view["status"] in TERMINAL


def in_review(view: dict[str, Any]) -> bool:
    return view["status"] == "NEEDS_REVIEW"


class Placed(dict):
    """order_id → the order's settled view, in the order they were placed."""


@pytest.fixture(scope="module")
async def list_stack(
    temporal_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    url = f"sqlite:///{tmp_path_factory.mktemp('order-list') / 'oms.db'}"
    async with running_stack(temporal_env, url, carrier_delay_s=0.1) as running:
        yield running


@pytest.fixture(scope="module")
async def placed(list_stack: Stack) -> Placed:
    """alice: two standard orders and a digital one; bob: one standard, one held in review."""
    bodies = [
        order_body(customer="cus_alice"),
        order_body(customer="cus_alice", lines=[{"sku": "MUG-CERAMIC", "quantity": 1}]),
        order_body(customer="cus_alice", lines=[{"sku": "EBOOK-TEMPORAL", "quantity": 1}])
        | {"order_type": "digital"},
        order_body(customer="cus_bob", lines=[{"sku": "LAMP-DESK", "quantity": 1}]),
        order_body(token="tok_risk_elevated", customer="cus_bob"),
    ]
    found = Placed()
    async with list_stack.http() as http:
        ids = []
        for body in bodies:
            ids.append((await place(http, body))["order_id"])
            await asyncio.sleep(0.01)  # distinct placement times, so the range filters bite
        for order_id in ids[:-1]:
            found[order_id] = await wait_until(http, order_id, ended, timeout=90)
        found[ids[-1]] = await wait_until(http, ids[-1], in_review, timeout=90)
    return found


async def listed(http: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    """Every page of the list, following next_cursor."""
    rows: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = params | ({"cursor": cursor} if cursor else {})
        response = await http.get("/orders", params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        assert page["count"] == len(page["data"])
        rows += page["data"]
        cursor = page["next_cursor"]
        if cursor is None:
            return rows


def ids(rows: list[dict[str, Any]]) -> list[str]:
    return [row["order_id"] for row in rows]


async def test_each_filter_selects_exactly_its_orders(list_stack: Stack, placed: Placed) -> None:
    order_ids = list(placed)
    views = list(placed.values())
    newest_first = order_ids[::-1]
    async with list_stack.http() as http:
        assert ids(await listed(http)) == newest_first
        assert ids(await listed(http, status="COMPLETED")) == newest_first[1:]
        assert ids(await listed(http, status="NEEDS_REVIEW")) == [order_ids[4]]
        assert ids(await listed(http, status=["NEEDS_REVIEW", "CANCELLED"])) == [order_ids[4]]
        assert ids(await listed(http, customer_id="cus_bob")) == [order_ids[4], order_ids[3]]
        assert ids(await listed(http, order_type="digital")) == [order_ids[2]]
        assert ids(await listed(http, order_type="standard", customer_id="cus_alice")) == [
            order_ids[1],
            order_ids[0],
        ]
        assert ids(await listed(http, needs_review=True)) == [order_ids[4]]
        assert ids(await listed(http, needs_review=False)) == newest_first[1:]
        # created range: from the second order's placement (inclusive) to the fourth's (exclusive)
        since, until = views[1]["placed_at"], views[3]["placed_at"]
        assert ids(await listed(http, created_at_min=since, created_at_max=until)) == [
            order_ids[2],
            order_ids[1],
        ]
        assert ids(await listed(http, created_at_min=views[4]["placed_at"])) == [order_ids[4]]
        assert ids(await listed(http, created_at_max=views[0]["placed_at"])) == []

        # A row says what an operator needs without opening the order.
        rows = {row["order_id"]: row for row in await listed(http)}
        # Times come back in UTC with their zone, as the order view gives them.
        assert all(row["placed_at"].endswith("Z") for row in rows.values())
        assert rows[order_ids[0]]["placed_at"] == views[0]["placed_at"]
        done = rows[order_ids[3]]
        assert done["status"] == "COMPLETED"
        assert (done["financial_status"], done["fulfillment_status"]) == ("PAID", "FULFILLED")
        assert (done["total_minor"], done["captured_minor"], done["currency"]) == (
            3900,
            3900,
            "USD",
        )
        assert (done["line_count"], done["item_count"], done["flow_version"]) == (1, 1, 2)
        review = rows[order_ids[4]]
        assert review["needs_review"] is True and review["current_step"] == "check_fraud"
        assert review["financial_status"] == "PENDING"


async def test_bad_filters_are_refused_naming_the_parameter(list_stack: Stack) -> None:
    async with list_stack.http() as http:
        for params, field in (
            ({"status": "SHIPPING_SOON"}, "status"),
            ({"limit": 0}, "limit"),
            ({"limit": 201}, "limit"),
            ({"cursor": "not-a-cursor"}, "cursor"),
            ({"created_at_min": "2026-11-24T10:00:00"}, "created_at_min"),
            ({"created_at_min": "yesterday"}, "created_at_min"),
            (
                {"created_at_min": "2026-11-24T10:00:00Z", "created_at_max": "2026-11-24T09:00Z"},
                "created_at_max",
            ),
        ):
            response = await http.get("/orders", params=params)
            assert response.status_code == 422, (params, response.text)
            assert [e["loc"][:2] for e in response.json()["detail"]] == [["query", field]], params


async def test_pages_under_concurrent_writes_skip_and_repeat_nothing(
    list_stack: Stack, placed: Placed
) -> None:
    async with list_stack.http() as http:
        before = ids(await listed(http))
        first = (await http.get("/orders", params={"limit": 2})).json()

        async def write() -> list[str]:
            # New orders while the later pages are read; each moves through several statuses.
            new = []
            for n in range(6):
                new.append((await place(http, order_body(customer=f"cus_w{n}")))["order_id"])
                await asyncio.sleep(0.05)
            return new

        writer = asyncio.create_task(write())
        walked: list[dict[str, Any]] = first["data"]
        cursor = first["next_cursor"]
        while cursor is not None:
            await asyncio.sleep(0.1)
            page = (await http.get("/orders", params={"limit": 2, "cursor": cursor})).json()
            walked += page["data"]
            cursor = page["next_cursor"]
        new = await writer
        assert ids(walked) == before, "rows skipped, repeated or reordered"
        keys = [(row["placed_at"], row["order_id"]) for row in walked]
        assert keys == sorted(keys, reverse=True)

        # Once the new orders are in the projection, a fresh walk has each of them once.
        for order_id in new:
            await wait_until(http, order_id, ended, timeout=90)
        everything = ids(await listed(http, limit=3))
        assert everything == ids(await listed(http))
        assert len(everything) == len(set(everything))
        assert set(everything) == set(before) | set(new)


async def test_customers_see_their_own_orders_only(list_stack: Stack, placed: Placed) -> None:
    alice = {order_id for order_id, view in placed.items() if view["customer_id"] == "cus_alice"}
    bob = set(placed) - alice
    async with list_stack.http(CUSTOMER_KEY) as http:
        mine = ids(await listed(http, limit=1))
        assert set(mine) >= alice and not set(mine) & bob
        assert all(row["customer_id"] == "cus_alice" for row in await listed(http))
        assert (await http.get("/orders", params={"customer_id": "cus_bob"})).status_code == 403
        assert ids(await listed(http, customer_id="cus_alice", status="NEEDS_REVIEW")) == []
        for order_id in bob:
            assert (await http.get(f"/orders/{order_id}")).status_code == 403
            assert (await http.get(f"/orders/{order_id}?consistent=true")).status_code == 403
        assert (await http.get("/stats")).status_code == 403
    async with list_stack.http(OTHER_CUSTOMER_KEY) as http:
        assert set(ids(await listed(http))) == bob
    async with list_stack.http(None) as http:
        assert (await http.get("/orders")).status_code == 401


async def test_an_order_reads_from_the_projection_or_live(
    list_stack: Stack, placed: Placed
) -> None:
    order_id = next(iter(placed))
    async with list_stack.http() as http:
        projected = await http.get(f"/orders/{order_id}")
        live = await http.get(f"/orders/{order_id}", params={"consistent": "true"})
    assert projected.headers["X-Read-Model"] == "projection"
    assert int(projected.headers["X-Journal-Seq"]) > 5
    assert live.headers["X-Read-Model"] == "live"
    assert projected.json() == live.json()


async def test_stats_count_what_the_list_shows(list_stack: Stack, placed: Placed) -> None:
    async with list_stack.http() as http:
        everything = await listed(http)
        stats = (await http.get("/stats")).json()
    by_status: dict[str, int] = {}
    for row in everything:
        by_status[row["status"]] = by_status.get(row["status"], 0) + 1
    assert {k: v for k, v in stats["by_status"].items() if v} == by_status
    assert stats["orders"] == len(everything)
    assert stats["orders_per_minute"]["last_5m"] == round(len(everything) / 5, 2)
    queue = stats["review_queue"]
    assert (queue["depth"], queue["escalated"]) == (1, 0)
    review_view = placed[list(placed)[4]]
    assert datetime.fromisoformat(queue["oldest_since"]) == datetime.fromisoformat(
        review_view["review"]["since"]
    )
    assert 0 < queue["oldest_age_s"] < 300


async def test_rebuild_from_the_journal_gives_back_the_live_tables(
    list_stack: Stack, placed: Placed
) -> None:
    live = await table_rows(list_stack.store)
    assert len(live["order_list"]) >= len(placed) and live["review_queue"]
    env = os.environ | {"OMS_DATABASE_URL": list_stack.settings.resolved_database_url}
    oms = Path(sys.executable).with_name("oms")
    done = await asyncio.to_thread(
        subprocess.run,
        [str(oms), "projections", "rebuild"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert f"{len(live['order_list'])} orders" in done.stdout
    assert await table_rows(list_stack.store) == live
