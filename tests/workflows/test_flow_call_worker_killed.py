"""A worker killed while a call step's request is in flight: the order still completes, and
the shop's service sees the retried request under the same Idempotency-Key, so its work is
done once."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.helpers.gift_orders import effects, keys, register_gifted
from tests.helpers.orders import order_body, place, wait_for_status
from tests.helpers.shop_service import Answer, shop_service
from tests.helpers.stack import running_stack
from tests.workflows.test_exactly_once import start_worker


@pytest.mark.slow
async def test_a_worker_killed_during_a_call_retries_it_with_the_same_key(
    temporal_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'oms.db'}"
    async with (
        running_stack(temporal_env, url, worker=False) as stack,
        shop_service() as shop,
        stack.http() as http,
    ):
        order_type = await register_gifted(http, shop)
        # The wrap answers late: the worker dies while the request waits for it.
        shop.script("/gift-wrap", Answer(delay_s=3, demo=True))
        worker = start_worker(stack.settings)
        try:
            body = order_body(lines=[{"sku": "MUG-CERAMIC", "quantity": 1}])
            order_id = (await place(http, body | {"order_type": order_type}))["order_id"]
            deadline = time.monotonic() + 30
            while not keys(shop, "/gift-wrap", order_id):
                assert time.monotonic() < deadline, "the wrap was never asked for"
                await asyncio.sleep(0.05)
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            worker = start_worker(stack.settings)
            view = await wait_for_status(http, order_id, "COMPLETED", "FAILED", timeout=110)
        finally:
            worker.kill()
            worker.wait()
        done = await effects(shop)

    assert view["status"] == "COMPLETED"
    assert view["facts"] == {"address_ok": True, "wrap_fee_minor": 0}
    sent = keys(shop, "/gift-wrap", order_id)
    assert len(sent) >= 2 and set(sent) == {f"{order_id}:gift_wrap:1"}
    wraps = {key: count for key, count in done.items() if key.startswith("gift-wrap ")}
    assert wraps == {f"gift-wrap {order_id}:gift_wrap:1": 1}
