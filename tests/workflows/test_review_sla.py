"""The review SLA, measured in days, on the time-skipping test server."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from api.models import OrderCreate
from api.placement import price_order
from store import journal
from tests.conftest import VENV_BIN, new_store, stack_settings
from tests.orders import order_body
from workers.main import build_worker
from workflows import search_attributes
from workflows.order import OrderWorkflow, order_workflow_id

TEST_SERVER = shutil.which("temporal-test-server", path=str(VENV_BIN))
SLA = timedelta(hours=48)


@pytest.fixture(scope="module")
async def skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=TEST_SERVER, data_converter=pydantic_data_converter
    )
    await env.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=env.client.namespace,
            search_attributes={
                key.name: IndexedValueType.Value(
                    f"INDEXED_VALUE_TYPE_{key.indexed_value_type.name}"
                )
                for key in search_attributes.ALL
            },
        )
    )
    yield env
    await env.shutdown()


async def test_unreviewed_order_escalates_after_the_sla_then_is_cancelled(
    skipping_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'oms.db'}"
    store = await new_store(url)
    settings = stack_settings(url, "unused:0", review_sla_s=int(SLA.total_seconds()))
    order = await price_order(
        store,
        f"ord_{uuid.uuid4().hex[:12]}",
        OrderCreate.model_validate(order_body("tok_risk_elevated")),
        settings.review_sla_s,
    )
    async with build_worker(skipping_env.client, store, settings):
        handle = await skipping_env.client.start_workflow(
            OrderWorkflow.run,
            order,
            id=order_workflow_id(order.order_id),
            task_queue=settings.task_queue,
            execution_timeout=timedelta(days=30),
        )
        for _ in range(100):
            view = await handle.query(OrderWorkflow.view)
            if view.status == "NEEDS_REVIEW":
                break
            await asyncio.sleep(0.1)
        assert view.status == "NEEDS_REVIEW" and not view.review.escalated

        await skipping_env.sleep(SLA + timedelta(minutes=1))
        view = await handle.query(OrderWorkflow.view)
        assert view.status == "NEEDS_REVIEW" and view.review.escalated
        described = await handle.describe()
        assert described.typed_search_attributes.get(search_attributes.REVIEW_ESCALATED) is True

        await skipping_env.sleep(SLA)
        final = await handle.result()
    assert final.status == "CANCELLED"
    assert final.cancel_reason == "FRAUD"
    types = [event.type for event in await journal.read(store, order.order_id)]
    assert (
        types.index("ReviewRequested")
        < types.index("ReviewEscalated")
        < types.index("OrderCancelled")
    )
    await store.close()
