"""With Worker Versioning on, an order is pinned to the build that started it."""

from __future__ import annotations

import asyncio
import uuid

from temporalio.api.workflowservice.v1 import SetWorkerDeploymentCurrentVersionRequest
from temporalio.common import VersioningBehavior
from temporalio.service import RPCError

from tests.helpers.orders import order_body, place, wait_for_status
from tests.helpers.stack import running_stack


async def test_versioned_worker_pins_orders_to_its_build(temporal_env, tmp_path) -> None:  # noqa: ANN001
    deployment = f"oms-{uuid.uuid4().hex[:8]}"
    url = f"sqlite:///{tmp_path / 'oms.db'}"
    async with running_stack(
        temporal_env,
        url,
        worker_versioning=True,
        worker_deployment=deployment,
        worker_build_id="build-1",
    ) as stack:
        client = stack.client
        for _ in range(100):  # the version exists once the worker has polled
            try:
                await client.workflow_service.set_worker_deployment_current_version(
                    SetWorkerDeploymentCurrentVersionRequest(
                        namespace=client.namespace,
                        deployment_name=deployment,
                        build_id="build-1",
                        identity="test",
                    )
                )
                break
            except RPCError:
                await asyncio.sleep(0.2)
        async with stack.http() as http:
            placed = await place(http, order_body())
            done = await wait_for_status(http, placed["order_id"], "COMPLETED", "FAILED")
        assert done["status"] == "COMPLETED"
        described = await client.get_workflow_handle(f"order-{placed['order_id']}").describe()
        versioning = described.raw_description.workflow_execution_info.versioning_info
        assert versioning.behavior == VersioningBehavior.PINNED.value
        assert versioning.deployment_version.deployment_name == deployment
        assert versioning.deployment_version.build_id == "build-1"
