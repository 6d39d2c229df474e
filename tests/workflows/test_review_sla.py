"""The review SLA, measured in days, on the time-skipping test server."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from api.models import OrderCreate
from api.placement import price_order
from store import journal
from tests.helpers.orders import order_body
from tests.helpers.stack import stack_settings
from tests.helpers.stores import new_store
from workers.main import build_worker
from workflows import search_attributes
from workflows.order import OrderWorkflow, order_workflow_id

SLA = timedelta(hours=48)


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
