"""`ShipmentWorkflow`: a shipment as a child workflow of its order, reporting by signal.

Only orders started before `order-runs-in-process` (workflows/patches.py) still run it; it
goes once `oms patches` shows none of them running.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from temporalio import workflow
from temporalio.common import RawValue

with workflow.unsafe.imports_passed_through():
    from domain.shipments import Shipment
    from workflows import effects
    from workflows.messages import Unreadable, one_model
    from workflows.shipment import (
        SHIPMENT_CHANGED,
        SHIPMENT_PROGRESSED,
        CarrierEvent,
        ShipmentChange,
        ShipmentChangeResult,
        ShipmentInput,
        ShipmentProgress,
        ShipmentRun,
    )


def shipment_workflow_id(shipment_id: str) -> str:
    return f"shipment-{shipment_id}"


async def start_child_shipment(
    carried: ShipmentInput, shipment: Shipment
) -> workflow.ChildWorkflowHandle[Any, Shipment]:
    """Carry a shipment as a child workflow, as orders started before `order-runs-in-process`
    do; the order follows the handle."""
    return await workflow.start_child_workflow(
        ShipmentWorkflow.run,
        carried,
        id=shipment_workflow_id(shipment.shipment_id),
        static_summary=f"{shipment.shipment_id} · {shipment.warehouse} · "
        f"{sum(item.quantity for item in shipment.lines)} units",
    )


@workflow.defn
class ShipmentWorkflow:
    """A shipment as a child workflow of its order: how orders that started before shipments
    ran inside the order still carry theirs."""

    @workflow.init
    def __init__(self, shipment: ShipmentInput) -> None:
        self._input = shipment
        self._run = ShipmentRun(shipment, self, effects.regular_activity)

    @workflow.signal(dynamic=True)
    def on_signal(self, name: str, args: Sequence[RawValue]) -> None:
        """`carrier_event` and `change` from the order; anything else, or anything that
        cannot be read, is logged and ignored (the order journals what it sends)."""
        try:
            if name == "carrier_event":
                self._run.carrier_event(one_model(args, CarrierEvent))
            elif name == "change":
                self._run.change(one_model(args, ShipmentChange))
            else:
                raise Unreadable("unknown signal; this shipment takes carrier_event and change")
        except Unreadable as why:
            workflow.logger.warning("shipment ignored signal %r: %s", name, why)

    @workflow.query
    def view(self, *_: Any) -> Shipment:
        return self._run.state

    @workflow.run
    async def run(self, shipment: ShipmentInput) -> Shipment:
        state = await self._run.run(waiting=workflow.set_current_details)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return state

    async def progressed(self, progress: ShipmentProgress) -> None:
        await self._order.signal(SHIPMENT_PROGRESSED, progress)

    async def changed(self, result: ShipmentChangeResult) -> None:
        await self._order.signal(SHIPMENT_CHANGED, result)

    @property
    def _order(self) -> workflow.ExternalWorkflowHandle[Any]:
        return workflow.get_external_workflow_handle(self._input.order_workflow_id)
