"""Which effects undo a set of steps, newest first; raises `CannotUndo` for goods that left."""

from __future__ import annotations

from domain.interventions import CompensationAction
from domain.shipments import ShipmentStatus
from workflows.rules.state import FlowState

OPEN_SHIPMENT = (ShipmentStatus.PENDING, ShipmentStatus.BOOKED)


class CannotUndo(Exception):
    """An effect that cannot be reversed, such as goods that left the warehouse."""


def plan(run: FlowState, step_ids: list[str]) -> list[CompensationAction]:
    """The actions that undo these steps (newest first); raises CannotUndo."""
    actions: list[CompensationAction] = []
    order = run.order
    for step_id in step_ids:
        step = run.flow.find(step_id)
        if step.kind == "parallel":
            continue  # a block's own steps are undone each by its own rule
        compensation = step.spec.compensation
        if step.kind == "call":
            if compensation is not None:
                actions.append(
                    CompensationAction(
                        step=step_id,
                        action="undo_call",
                        target=compensation,
                        description=f"ask {compensation} to undo {step_id}",
                    )
                )
        elif compensation == "cancel_shipments":
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
                if run.order.shipment_left(allocation):
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
