"""Undoing steps: plan which effects to reverse, in which order, then reverse them.

The same plan serves a failure (undo everything), a whole-order cancel and a backtrack
(undo back to a step), and a backtrack's dry run shows exactly the plan the real one runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.inventory import InventoryActivities, ReleaseRequest
    from activities.payments import CaptureRequest, PaymentActivities
    from domain.interventions import CompensationAction
    from domain.orders import ShipmentStatus
    from workflows import activity_options

if TYPE_CHECKING:
    from workflows.order import OrderWorkflow as OrderRun

OPEN_SHIPMENT = (ShipmentStatus.PENDING, ShipmentStatus.BOOKED)


class CannotUndo(Exception):
    """An effect that cannot be reversed, such as goods that left the warehouse."""


def plan(run: OrderRun, step_ids: list[str]) -> list[CompensationAction]:
    """The actions that undo these steps (newest first); raises CannotUndo."""
    actions: list[CompensationAction] = []
    order = run.order
    for step_id in step_ids:
        compensation = run.flow.steps[run.flow.index_of(step_id)].spec.compensation
        if compensation == "cancel_shipments":
            for shipment in reversed(order.shipments):
                if shipment.has_left:
                    raise CannotUndo(
                        f"shipment {shipment.shipment_id} was dispatched and cannot be undone; "
                        "goods that left go through returns"
                    )
                if shipment.status in OPEN_SHIPMENT:
                    actions.append(
                        CompensationAction(
                            step=step_id,
                            action="cancel_shipment",
                            target=shipment.shipment_id,
                            warehouse=shipment.warehouse,
                            description=f"cancel shipment {shipment.shipment_id} "
                            f"({shipment.status.value.lower()}) from {shipment.warehouse}",
                        )
                    )
        elif compensation in ("refund_payment", "void_authorization"):
            payment = order.payment
            if payment.authorization_id is None or payment.voided:
                continue
            planned = sum(a.amount_minor or 0 for a in actions if a.action == "refund_payment")
            refundable = payment.captured_minor - payment.refunded_minor - planned
            if refundable > 0:
                actions.append(
                    CompensationAction(
                        step=step_id,
                        action="refund_payment",
                        target=payment.authorization_id,
                        amount_minor=refundable,
                        description=f"refund {refundable} captured on {payment.authorization_id}",
                    )
                )
            if compensation == "refund_payment":
                continue
            actions.append(
                CompensationAction(
                    step=step_id,
                    action="void_authorization",
                    target=payment.authorization_id,
                    amount_minor=payment.authorized_minor - payment.captured_minor,
                    description=f"void authorization {payment.authorization_id}",
                )
            )
        elif compensation == "release_inventory":
            for allocation in reversed(order.allocations):
                if run.shipment_left(allocation):
                    continue  # those units are on their way; nothing to give back
                units = sum(item.quantity for item in allocation.lines)
                if units == 0:
                    continue
                actions.append(
                    CompensationAction(
                        step=step_id,
                        action="release_inventory",
                        target=allocation.reservation_id,
                        warehouse=allocation.warehouse,
                        description=f"release {units} units reserved in {allocation.warehouse}",
                    )
                )
    return actions


async def execute(run: OrderRun, action: CompensationAction) -> None:
    order = run.order
    if action.action == "cancel_shipment":
        shipment = order.shipment(action.target)
        result = await run.change_shipment(shipment, list(shipment.lines))
        if not result.accepted:
            raise CannotUndo(result.reason or f"shipment {shipment.shipment_id} refused")
        shipment.status = ShipmentStatus.CANCELLED
        run.record("ShipmentCancelled", shipment_id=shipment.shipment_id)
    elif action.action == "refund_payment":
        assert action.amount_minor is not None
        refund_key = run.next_key("refund")
        await run.call(
            PaymentActivities.refund_payment,
            CaptureRequest(
                order_id=order.order_id,
                key=refund_key,
                authorization_id=action.target,
                amount_minor=action.amount_minor,
            ),
            summary=f"refund {action.amount_minor} on {action.target}",
            **activity_options.PAYMENT,
        )
        order.payment.refunded_minor += action.amount_minor
        run.record("PaymentRefunded", amount_minor=action.amount_minor, key=refund_key)
    elif action.action == "void_authorization":
        await run.void(action.target)
        order.payment.void()
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
        run.record("InventoryReleased", warehouse=action.warehouse, reservation_id=action.target)


async def undo(run: OrderRun, step_ids: list[str]) -> list[CompensationAction]:
    """Plan and reverse; each action is journaled by what it did."""
    actions = plan(run, step_ids)
    for action in actions:
        await execute(run, action)
    return actions
