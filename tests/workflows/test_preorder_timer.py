"""A preorder waits months for its release date, renewing its authorization every week."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from adapters.sandbox_gateway import SandboxGateway
from api.models import OrderCreate
from api.placement import price_order
from tests.helpers.orders import order_body
from tests.helpers.stack import stack_settings
from tests.helpers.stores import new_store
from workers.main import build_worker
from workflows.order import OrderWorkflow, order_workflow_id
from workflows.shipment import CarrierEvent, CarrierReport


async def test_preorder_renews_its_authorization_until_release_then_ships(
    skipping_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'oms.db'}"
    store = await new_store(url)
    settings = stack_settings(url, "unused:0")
    body = order_body(lines=[{"sku": "CONSOLE-NEXT", "quantity": 1}]) | {"order_type": "preorder"}
    order = await price_order(
        store, f"ord_{uuid.uuid4().hex[:12]}", OrderCreate.model_validate(body), 3600
    )
    release = order.lines[0].release_date
    assert release is not None
    async with build_worker(skipping_env.client, store, settings):
        handle = await skipping_env.client.start_workflow(
            OrderWorkflow.run,
            order,
            id=order_workflow_id(order.order_id),
            task_queue=settings.task_queue,
            execution_timeout=timedelta(days=400),
        )
        # The test server's clock is shared and may already be ahead of ours: count from it.
        started = (await handle.describe()).start_time.date()
        days = (release - started).days + 2
        await skipping_env.sleep(timedelta(days=days))
        for _ in range(100):
            view = await handle.query(OrderWorkflow.view)
            if view.shipments and all(s.status == "BOOKED" for s in view.shipments):
                break
            await asyncio.sleep(0.1)
        assert view.current_step == "fulfill_shipments"
        for shipment in view.shipments:
            for status in ("dispatched", "delivered"):
                await handle.signal(
                    "carrier_event",
                    CarrierReport(
                        shipment_id=shipment.shipment_id, event=CarrierEvent(status=status)
                    ),
                )
        final = await handle.result()
    assert final.status == "COMPLETED"
    authorizations = sorted(
        await SandboxGateway(store).authorizations(order.order_id), key=lambda a: a.created_at
    )
    # One authorization at placement, renewed every 6 days until release; all but the last voided.
    assert len(authorizations) >= days // 6
    assert {a.status for a in authorizations[:-1]} == {"voided"}
    assert authorizations[-1].captured_minor == final.totals.total_minor
    await store.close()
