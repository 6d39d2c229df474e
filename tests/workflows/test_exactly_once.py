"""Exactly-once effects under failure: a lost gateway response, and a worker killed mid-order."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import pytest

from adapters.payments import Authorization
from adapters.sandbox_gateway import SandboxGateway
from store.db import Store
from tests.helpers.orders import order_body, place, wait_for_status
from tests.helpers.stack import running_stack


class ResponseLostGateway(SandboxGateway):
    """The gateway does the charge, then the connection drops before the answer arrives."""

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.calls: list[str] = []

    async def authorize(self, key: str, **request) -> Authorization:  # noqa: ANN003
        authorization = await super().authorize(key, **request)
        self.calls.append(key)
        if len(self.calls) == 1:
            raise ConnectionResetError("connection reset after the gateway accepted the charge")
        return authorization


async def test_lost_response_after_charge_is_retried_and_charges_once(
    temporal_env, sqlite_url
) -> None:
    async with running_stack(temporal_env, sqlite_url, make_gateway=ResponseLostGateway) as stack:
        async with stack.http() as http:
            placed = await place(http, order_body())
            view = await wait_for_status(http, placed["order_id"], "COMPLETED", "FAILED")
        gateway = stack.gateway
        assert isinstance(gateway, ResponseLostGateway)
        assert len(gateway.calls) == 2 and gateway.calls[0] == gateway.calls[1]  # same key, retried
        assert view["status"] == "COMPLETED"
        authorizations = await gateway.authorizations(placed["order_id"])
        assert len(authorizations) == 1
        assert authorizations[0].captured_minor == view["totals"]["total_minor"]


def start_worker(settings) -> subprocess.Popen:  # noqa: ANN001
    env = dict(os.environ)
    env.update(
        OMS_TEMPORAL_ADDRESS=settings.resolved_temporal_address,
        OMS_DATABASE_URL=settings.resolved_database_url,
        OMS_TASK_QUEUE=settings.task_queue,
        OMS_CARRIER_DELAY_S=str(settings.carrier_delay_s),
    )
    return subprocess.Popen(
        [sys.executable, "-m", "workers.main"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.mark.slow
async def test_worker_killed_mid_order_finishes_it_after_restart(temporal_env, sqlite_url) -> None:
    async with running_stack(temporal_env, sqlite_url, worker=False, carrier_delay_s=1.5) as stack:
        worker = start_worker(stack.settings)
        try:
            async with stack.http() as http:
                placed = await place(
                    http,
                    order_body(
                        lines=[
                            {"sku": "MUG-CERAMIC", "quantity": 2},
                            {"sku": "LAMP-DESK", "quantity": 1},
                        ]
                    ),
                )
                order_id = placed["order_id"]
                # Kill it while shipments wait for the carrier: authorized, nothing captured.
                await wait_for_status(http, order_id, "FULFILLING", timeout=30)
                worker.send_signal(signal.SIGKILL)
                worker.wait()
                await asyncio.sleep(1)
                worker = start_worker(stack.settings)
                view = await wait_for_status(http, order_id, "COMPLETED", "FAILED", timeout=90)
        finally:
            worker.kill()
            worker.wait()
        assert view["status"] == "COMPLETED"
        ledger = await stack.gateway.ledger(order_id)
        assert [op.kind for op in ledger].count("authorize") == 1
        captures = sorted(op.amount_minor for op in ledger if op.kind == "capture")
        assert captures == sorted([2 * 1200, 3900])
        assert sum(captures) == view["totals"]["total_minor"]
