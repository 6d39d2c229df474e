"""The worker process: one Temporal client (`oms.config.temporal.connect`), one store, the
workflows and their activities."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Sequence
from typing import Any

from temporalio.client import Client
from temporalio.common import VersioningBehavior, WorkerDeploymentVersion
from temporalio.worker import PollerBehaviorSimpleMaximum, Worker, WorkerDeploymentConfig

from activities.catalog import CatalogActivities
from activities.endpoints import EndpointActivities
from activities.inventory import InventoryActivities
from activities.journal import JournalActivities
from activities.licenses import LicenseActivities
from activities.notifications import NotificationActivities
from activities.payments import PaymentActivities
from activities.rewards import RewardsActivities
from activities.shipping import ShippingActivities
from adapters.carrier import Carrier, SimulatedCarrier
from adapters.faulty_gateway import FaultyGateway
from adapters.payments import PaymentGateway
from adapters.sandbox_gateway import SandboxGateway
from oms.config.logs import configure_logging
from oms.config.settings import Settings, get_settings
from oms.config.temporal import connect
from store.db import Store
from store.sealed import SecretBox
from workers import payload_passes
from workers.sandbox import workflow_runner
from workflows.legacy.rewards import RewardsWorkflow
from workflows.legacy.shipment import ShipmentWorkflow
from workflows.order import OrderWorkflow
from workflows.returns import ReturnWorkflow

log = logging.getLogger("oms.worker")


def worker_tuning(settings: Settings) -> dict[str, Any]:
    """The `Worker` options the `OMS_WORKER_*` tuning settings set. An unset one is left out,
    so the SDK's default applies (5 pollers of each kind, 100 task slots, ...); the workflow
    cache is this shop's own (`Settings.worker_max_cached_workflows`)."""
    options: dict[str, Any] = {"max_cached_workflows": settings.worker_max_cached_workflows}
    if settings.worker_max_concurrent_workflow_tasks is not None:
        options["max_concurrent_workflow_tasks"] = settings.worker_max_concurrent_workflow_tasks
    if settings.worker_max_concurrent_activities is not None:
        options["max_concurrent_activities"] = settings.worker_max_concurrent_activities
    if settings.worker_workflow_task_pollers is not None:
        options["workflow_task_poller_behavior"] = PollerBehaviorSimpleMaximum(
            maximum=settings.worker_workflow_task_pollers
        )
    if settings.worker_activity_task_pollers is not None:
        options["activity_task_poller_behavior"] = PollerBehaviorSimpleMaximum(
            maximum=settings.worker_activity_task_pollers
        )
    return options


WORKFLOWS = [OrderWorkflow, ShipmentWorkflow, ReturnWorkflow, RewardsWorkflow]


def build_worker(
    client: Client,
    store: Store,
    settings: Settings,
    gateway: PaymentGateway | None = None,
    carrier: Carrier | None = None,
    workflows: Sequence[type] = WORKFLOWS,
) -> Worker:
    gateway = gateway or SandboxGateway(store, flaky_failures=settings.flaky_failures)
    if settings.gateway_fault_rate or settings.gateway_lost_reply_rate:
        gateway = FaultyGateway(
            gateway,
            fault_rate=settings.gateway_fault_rate,
            lost_reply_rate=settings.gateway_lost_reply_rate,
        )
    payments = PaymentActivities(gateway)
    inventory = InventoryActivities(store)
    shipping = ShippingActivities(carrier or SimulatedCarrier(store, settings.carrier_delay_s))
    journal = JournalActivities(store)
    licenses = LicenseActivities(store)
    notifications = NotificationActivities(store)
    rewards = RewardsActivities(store)
    catalog = CatalogActivities(store)
    endpoints = EndpointActivities(
        store, settings.allowed_call_hosts, SecretBox.from_settings(settings)
    )
    payload_passes.install()
    versioning = None
    if settings.worker_versioning:
        # Orders live for weeks: each stays on the build that started it (PINNED) and a new
        # build takes only new orders. The behavior is declared here rather than on the
        # workflow classes because the server refuses a declared behavior from an
        # unversioned worker, which is what the embedded run uses.
        versioning = WorkerDeploymentConfig(
            version=WorkerDeploymentVersion(
                deployment_name=settings.worker_deployment, build_id=settings.worker_build_id
            ),
            use_worker_versioning=True,
            default_versioning_behavior=VersioningBehavior.PINNED,
        )
    return Worker(
        client,
        task_queue=settings.task_queue,
        deployment_config=versioning,
        workflows=workflows,
        workflow_runner=workflow_runner(),
        activities=[
            payments.assess_fraud_risk,
            payments.authorize_payment,
            payments.capture_payment,
            payments.void_payment,
            payments.refund_payment,
            inventory.reserve_inventory,
            inventory.release_inventory,
            inventory.release_inventory_units,
            inventory.restock_units,
            shipping.book_shipment,
            shipping.cancel_shipment,
            shipping.create_return_label,
            journal.append_events,
            licenses.issue_licenses,
            notifications.notify_customer,
            rewards.award_points,
            rewards.claw_back_points,
            rewards.grant_points,
            catalog.price_items,
            endpoints.call_endpoint,
        ],
        **worker_tuning(settings),
    )


async def serve(settings: Settings) -> None:
    client = await connect(settings, worker=True)
    store = Store(settings.resolved_database_url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with build_worker(client, store, settings):
            log.info(
                "worker polling %s on %s", settings.task_queue, settings.resolved_temporal_address
            )
            await stop.wait()
    finally:
        await store.close()


def main() -> None:
    settings = get_settings()
    configure_logging(settings.log_format)
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
