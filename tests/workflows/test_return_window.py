"""The 30-day return window and loyalty points, on the time-skipping server: the order, its
carrier and the API run in real time until the test skips a month."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import pytest
from temporalio.testing import WorkflowEnvironment

from domain.rewards import CustomerRewards
from store import rewards
from tests.helpers.orders import events, order_body, place, wait_until
from tests.helpers.stack import Stack, running_stack

WINDOW = timedelta(days=30)


@pytest.fixture(scope="module")
async def window_stack(
    skipping_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    url = f"sqlite:///{tmp_path_factory.mktemp('window') / 'oms.db'}"
    async with running_stack(
        skipping_env, url, return_window_s=int(WINDOW.total_seconds())
    ) as running:
        yield running


def new_customer() -> str:
    return f"cus_{uuid.uuid4().hex[:10]}"


async def test_points_are_granted_after_the_window_and_clawed_back_for_a_returned_line(
    window_stack: Stack, skipping_env: WorkflowEnvironment
) -> None:
    customer = new_customer()
    async with window_stack.http() as http:
        order = await place(
            http,
            order_body(
                lines=[
                    {"sku": "MUG-CERAMIC", "quantity": 2},
                    {"sku": "TSHIRT-BLK-M", "quantity": 1},
                ],
                customer=customer,
            ),
        )
        order_id = order["order_id"]
        view = await wait_until(
            http, order_id, lambda v: v["status"] == "DELIVERED" and v["return_window_closes_at"]
        )
        mug = view["lines"][0]["line_id"]
        # 2 × $12 + $19 = $43 → 43 points, pending while the window is open.
        ledger = await _ledger_when(window_stack, customer, lambda r: r.pending_points == 43)
        assert ledger.granted_points == 0

        response = await http.post(
            f"/orders/{order_id}/returns",
            json={"lines": [{"line_id": mug, "quantity": 1}], "reason": "chipped"},
        )
        assert response.status_code == 201, response.text
        return_id = response.json()["return_id"]
        await wait_until(http, order_id, lambda v: v["returns"][0]["status"] == "AWAITING_RECEIPT")
        received = await http.post(
            f"/returns/{return_id}/events",
            json={
                "status": "received",
                "lines": [{"line_id": mug, "quantity": 1, "condition": "damaged"}],
            },
        )
        assert received.status_code == 200, received.text
        ledger = await _ledger_when(window_stack, customer, lambda r: r.pending_points == 31)

        await skipping_env.sleep(WINDOW + timedelta(hours=1))
        final = await wait_until(http, order_id, lambda v: v["status"] == "COMPLETED")
        ledger = await _ledger_when(window_stack, customer, lambda r: r.granted_points == 31)
        assert ledger.pending_points == 0

        late = await http.post(
            f"/orders/{order_id}/returns",
            json={"lines": [{"line_id": mug, "quantity": 1}], "reason": "too late"},
        )
        assert late.status_code == 409
        assert "return window" in late.json()["detail"]
        types = [event["type"] for event in await events(http, order_id)]
        public = (await http.get(f"/customers/{customer}/rewards")).json()

    assert final["totals"]["refunded_minor"] == 1200
    assert public["granted_points"] == 31 and public["pending_points"] == 0
    assert types.index("PointsAwarded") < types.index("PointsClawedBack")
    assert types.index("PointsClawedBack") < types.index("ReturnWindowClosed")
    assert types.index("ReturnWindowClosed") < types.index("PointsGranted")
    assert types.index("PointsGranted") < types.index("OrderCompleted")


async def test_a_return_after_the_window_is_refused_while_open_returns_finish(
    window_stack: Stack, skipping_env: WorkflowEnvironment
) -> None:
    async with window_stack.http() as http:
        order = await place(http, order_body(lines=[{"sku": "TSHIRT-BLK-M", "quantity": 2}]))
        order_id = order["order_id"]
        await wait_until(http, order_id, lambda v: v["return_window_closes_at"] is not None)
        await skipping_env.sleep(WINDOW - timedelta(days=1))
        line_body = {"lines": [{"line_id": "ln_1", "quantity": 1}], "reason": "too big"}
        first = await http.post(f"/orders/{order_id}/returns", json=line_body)
        assert first.status_code == 201, first.text
        await wait_until(http, order_id, lambda v: v["returns"][0]["status"] == "AWAITING_RECEIPT")

        # The window closes while the parcel is on its way: the order stays open for it.
        await skipping_env.sleep(timedelta(days=2))
        late = await http.post(f"/orders/{order_id}/returns", json=line_body)
        assert late.status_code == 409
        assert "the return window closed" in late.json()["detail"]
        assert (await http.get(f"/orders/{order_id}")).json()["status"] == "DELIVERED"

        received = await http.post(
            f"/returns/{first.json()['return_id']}/events",
            json={
                "status": "received",
                "lines": [{"line_id": "ln_1", "quantity": 1, "condition": "resellable"}],
            },
        )
        assert received.status_code == 200, received.text
        final = await wait_until(http, order_id, lambda v: v["status"] == "COMPLETED")
    assert final["totals"]["refunded_minor"] == 1900
    assert final["lines"][0]["buckets"]["returned"] == 1


async def _ledger_when(
    stack: Stack,
    customer: str,
    predicate: Callable[[CustomerRewards], bool],
    timeout: float = 30,
) -> CustomerRewards:
    deadline = time.monotonic() + timeout
    ledger = await rewards.customer_rewards(stack.store, customer)
    while not predicate(ledger) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        ledger = await rewards.customer_rewards(stack.store, customer)
    assert predicate(ledger), ledger
    return ledger
