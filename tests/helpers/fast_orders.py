"""Order workflows on a worker of their own, every activity a stub (`stub_activities`), on
the time-skipping test server: the interpreter's decisions in milliseconds, without a store,
the API or the dev server. The worker is built as `workers.main.build_worker` builds the real
one (its workflow runner, the payload passes skipped); the client's data converter is the
pydantic one, as everywhere."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from domain.order_state import OrderInput
from domain.view import OrderView
from tests.helpers.stub_activities import StubActivities
from workers import payload_passes
from workers.sandbox import workflow_runner
from workflows.journal import order_workflow_id
from workflows.order import OrderWorkflow

# Every start has one: a stuck order fails its test as soon as the server skips past it.
EXECUTION_TIMEOUT = timedelta(seconds=60)


@dataclass
class FastOrders:
    client: Client
    task_queue: str
    stubs: StubActivities

    async def start(self, order: OrderInput) -> WorkflowHandle[OrderWorkflow, OrderView]:
        return await self.client.start_workflow(
            OrderWorkflow.run,
            order,
            id=order_workflow_id(order.order_id),
            task_queue=self.task_queue,
            execution_timeout=EXECUTION_TIMEOUT,
        )


@contextlib.asynccontextmanager
async def fast_orders(client: Client) -> AsyncIterator[FastOrders]:
    """A worker polling a task queue of its own, with fresh stubs."""
    stubs = StubActivities(client)
    task_queue = f"fast-orders-{uuid.uuid4().hex[:8]}"
    payload_passes.install()
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[OrderWorkflow],
        activities=stubs.activities(),
        workflow_runner=workflow_runner(),
    ):
        yield FastOrders(client, task_queue, stubs)
