"""Steps that reserve stock: in warehouses for shipping, at a store for pickup."""

from __future__ import annotations

from typing import TYPE_CHECKING

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.inventory import InventoryActivities, ReserveRequest
    from domain.events import EventType
    from domain.flows import FlowStep
    from domain.shipments import AllocatedLine
    from domain.statuses import CancelReason
    from workflows import activity_options
    from workflows.steps.failures import StepFailed, business_message, error_type

if TYPE_CHECKING:
    from workflows.run import OrderRun


async def reserve_inventory(run: OrderRun, step: FlowStep) -> None:
    """Reserve every physical unit not yet reserved, in warehouses, fewest shipments first."""
    await _reserve(run, step, "warehouse")


async def reserve_at_store(run: OrderRun, step: FlowStep) -> None:
    """Reserve at a store, where the customer will collect the order."""
    await _reserve(run, step, "store")


async def _reserve(run: OrderRun, step: FlowStep, location_kind: str) -> None:
    order = run.order
    wanted = [
        AllocatedLine(line_id=line.line_id, sku=line.sku, quantity=line.buckets.pending)
        for line in order.lines
        if line.buckets.pending and line.kind == "physical"
    ]
    if not wanted:
        return  # digital goods need no stock
    try:
        allocations = await run.call(
            InventoryActivities.reserve_inventory,
            ReserveRequest(
                order_id=order.order_id,
                reservation_id=run.key(step),
                lines=wanted,
                location_kind=location_kind,
            ),
            summary=f"reserve {sum(item.quantity for item in wanted)} units ({location_kind})",
            local=True,
            **run.activity_options(step, activity_options.INVENTORY),
        )
    except ActivityError as error:
        if error_type(error) == "OutOfStock":
            raise StepFailed(
                business_message(error), kind="out_of_stock", cancel_reason=CancelReason.INVENTORY
            ) from error
        raise
    order.reserve(allocations)
    run.record(
        EventType.INVENTORY_RESERVED,
        allocations=[allocation.model_dump(mode="json") for allocation in allocations],
    )
