"""Undoing steps: reverse the effects `rules.compensation.plan` lists, newest first.

The same plan serves a failure (undo everything), a whole-order cancel and a backtrack
(undo back to a step), and a backtrack's dry run shows exactly the plan the real one runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.inventory import InventoryActivities, ReleaseRequest
    from domain.events import EventType
    from domain.interventions import CompensationAction
    from domain.shipments import ShipmentStatus
    from workflows import activity_options, effects
    from workflows.rules.compensation import CannotUndo, plan
    from workflows.steps import services

if TYPE_CHECKING:
    from workflows.run import OrderRun


async def execute(run: OrderRun, action: CompensationAction) -> None:
    order = run.order
    if action.action == "cancel_shipment":
        shipment = order.shipment(action.target)
        result = await run.shipments.change_shipment(shipment, list(shipment.lines))
        if not result.accepted:
            raise CannotUndo(result.reason or f"shipment {shipment.shipment_id} refused")
        shipment.status = ShipmentStatus.CANCELLED
        run.record(EventType.SHIPMENT_CANCELLED, shipment_id=shipment.shipment_id)
    elif action.action == "refund_payment":
        assert action.amount_minor is not None
        refund_key = run.next_key("refund")
        await effects.refund(
            run.call,
            order_id=order.order_id,
            key=refund_key,
            authorization_id=action.target,
            amount_minor=action.amount_minor,
            summary=f"refund {action.amount_minor} on {action.target}",
        )
        order.payment.refunded_minor += action.amount_minor
        run.record(EventType.PAYMENT_REFUNDED, amount_minor=action.amount_minor, key=refund_key)
    elif action.action == "void_authorization":
        await run.void(action.target)
        order.payment.void()
    elif action.action == "undo_call":
        await services.undo_call(run, run.flow.find(action.step))
    elif action.action == "release_inventory":
        await run.call(
            InventoryActivities.release_inventory,
            ReleaseRequest(reservation_id=action.target, warehouse=action.warehouse),
            summary=f"release reservation in {action.warehouse}",
            **activity_options.INVENTORY,
        )
        allocation = next(
            a
            for a in order.allocations
            if a.reservation_id == action.target and a.warehouse == action.warehouse
        )
        order.release(allocation)
        order.allocations.remove(allocation)
        run.record(
            EventType.INVENTORY_RELEASED, warehouse=action.warehouse, reservation_id=action.target
        )


async def undo(run: OrderRun, step_ids: list[str]) -> list[CompensationAction]:
    """Plan and reverse; each action is journaled by what it did."""
    actions = plan(run.situation(), step_ids)
    for action in actions:
        await execute(run, action)
        run.order.mark(action.step, "compensated")
    return actions
