"""The step registry: what each step named in a flow does, and how it is undone.

A step runs against the `OrderRun` (the order workflow's state) and raises `StepFailed`
for a business failure; the interpreter decides what a failure means from the flow.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from activities.inventory import InventoryActivities, ReleaseRequest, ReserveRequest
    from activities.payments import (
        AuthorizeRequest,
        PaymentActivities,
        RiskRequest,
        VoidRequest,
    )
    from domain.flows import STEP_SPECS, FlowStep
    from domain.orders import AllocatedLine, CancelReason
    from workflows import activity_options
    from workflows.shipment import ShipmentInput, ShipmentWorkflow, shipment_workflow_id

if TYPE_CHECKING:
    from workflows.order import OrderRun

FRAUD_REVIEW_SCORE = 60
FRAUD_BLOCK_SCORE = 90


class StepFailed(Exception):
    """A business failure of a step: declined, out of stock, fraud, exhausted retries."""

    def __init__(
        self, message: str, *, cancel_reason: CancelReason | None = None, needs_review: bool = False
    ) -> None:
        super().__init__(message)
        self.cancel_reason = cancel_reason
        self.needs_review = needs_review


def error_type(error: BaseException) -> str | None:
    cause = error.cause if isinstance(error, ActivityError | ChildWorkflowError) else error
    return cause.type if isinstance(cause, ApplicationError) else None


def error_message(error: BaseException) -> str:
    cause = getattr(error, "cause", None)
    return str(cause or error)


async def validate_order(run: OrderRun, step: FlowStep) -> None:
    order = run.order
    problems = [
        f"line {line.line_id}: quantity must be positive"
        for line in order.lines
        if line.quantity <= 0
    ]
    if not order.lines:
        problems.append("the order has no lines")
    if order.total_minor <= 0:
        problems.append("the order total must be positive")
    if problems:
        raise StepFailed("; ".join(problems))
    run.record("OrderValidated", lines=len(order.lines), total_minor=order.total_minor)


async def check_fraud(run: OrderRun, step: FlowStep) -> None:
    risk = await workflow.execute_activity_method(
        PaymentActivities.assess_fraud_risk,
        RiskRequest(
            order_id=run.order.order_id, token=run.payment_token, amount_minor=run.order.total_minor
        ),
        summary="score the payment for fraud",
        **activity_options.PAYMENT,
    )
    run.record("FraudChecked", score=risk.score, reason=risk.reason)
    if risk.score >= FRAUD_BLOCK_SCORE:
        raise StepFailed(
            f"fraud score {risk.score} blocks the order", cancel_reason=CancelReason.FRAUD
        )
    if risk.score >= FRAUD_REVIEW_SCORE:
        raise StepFailed(
            f"fraud score {risk.score} needs a manual review",
            needs_review=True,
            cancel_reason=CancelReason.FRAUD,
        )


async def reserve_inventory(run: OrderRun, step: FlowStep) -> None:
    order = run.order
    wanted = [
        AllocatedLine(line_id=line.line_id, sku=line.sku, quantity=line.buckets.pending)
        for line in order.lines
        if line.buckets.pending
    ]
    try:
        allocations = await workflow.execute_activity_method(
            InventoryActivities.reserve_inventory,
            ReserveRequest(order_id=order.order_id, reservation_id=run.key(step), lines=wanted),
            summary=f"reserve {sum(item.quantity for item in wanted)} units",
            **activity_options.INVENTORY,
        )
    except ActivityError as error:
        if error_type(error) == "OutOfStock":
            raise StepFailed(error_message(error), cancel_reason=CancelReason.INVENTORY) from error
        raise
    order.reserve(allocations)
    run.record(
        "InventoryReserved",
        allocations=[allocation.model_dump(mode="json") for allocation in allocations],
    )


async def release_inventory(run: OrderRun) -> None:
    kept = []
    for allocation in run.order.allocations:
        if any(
            shipment.warehouse == allocation.warehouse and shipment.has_left
            for shipment in run.order.shipments
        ):
            kept.append(allocation)  # those units left the warehouse; nothing to give back
            continue
        await workflow.execute_activity_method(
            InventoryActivities.release_inventory,
            ReleaseRequest(
                reservation_id=allocation.reservation_id, warehouse=allocation.warehouse
            ),
            summary=f"release reservation in {allocation.warehouse}",
            **activity_options.INVENTORY,
        )
        run.order.release(allocation)
        run.record(
            "InventoryReleased",
            warehouse=allocation.warehouse,
            reservation_id=allocation.reservation_id,
        )
    run.order.allocations = kept


async def authorize_payment(run: OrderRun, step: FlowStep) -> None:
    order = run.order
    try:
        authorization = await workflow.execute_activity_method(
            PaymentActivities.authorize_payment,
            AuthorizeRequest(
                order_id=order.order_id,
                key=run.key(step),
                token=run.payment_token,
                amount_minor=order.total_minor,
                currency=order.currency,
            ),
            summary=f"authorize {order.total_minor} {order.currency}",
            **activity_options.PAYMENT,
        )
    except ActivityError as error:
        if error_type(error) == "PaymentDeclined":
            run.record("PaymentDeclined", message=error_message(error))
            raise StepFailed(
                error_message(error), cancel_reason=CancelReason.PAYMENT_DECLINED
            ) from error
        raise
    order.payment.authorization_id = authorization.authorization_id
    order.payment.authorized_minor = authorization.amount_minor
    order.payment.voided = False
    run.record(
        "PaymentAuthorized",
        authorization_id=authorization.authorization_id,
        amount_minor=authorization.amount_minor,
        key=run.key(step),
    )


async def void_authorization(run: OrderRun) -> None:
    payment = run.order.payment
    if payment.authorization_id is None or payment.voided:
        return
    voided = await workflow.execute_activity_method(
        PaymentActivities.void_payment,
        VoidRequest(
            order_id=run.order.order_id,
            key=f"{payment.authorization_id}:void",
            authorization_id=payment.authorization_id,
        ),
        summary=f"void {payment.authorization_id}",
        **activity_options.PAYMENT,
    )
    payment.voided = True
    run.record(
        "PaymentVoided",
        authorization_id=payment.authorization_id,
        released_minor=voided.amount_minor,
    )


async def fulfill_shipments(run: OrderRun, step: FlowStep) -> None:
    order = run.order
    if order.payment.authorization_id is None:
        raise StepFailed("no authorization to capture against")
    started = []
    for allocation in order.allocations:
        shipment = run.open_shipment(allocation)
        handle = await workflow.start_child_workflow(
            ShipmentWorkflow.run,
            ShipmentInput(
                order_id=order.order_id,
                order_workflow_id=workflow.info().workflow_id,
                shipment_id=shipment.shipment_id,
                warehouse=shipment.warehouse,
                lines=shipment.lines,
                address=order.shipping_address,
                amount_minor=order.amount_for(shipment.lines),
                authorization_id=order.payment.authorization_id,
                capture_key=f"{run.key(step)}:capture:{shipment.shipment_id}",
            ),
            id=shipment_workflow_id(shipment.shipment_id),
            static_summary=f"{shipment.shipment_id} · {shipment.warehouse} · "
            f"{sum(item.quantity for item in shipment.lines)} units",
        )
        started.append(handle)
    run.set_details("awaiting carrier")
    results = await asyncio.gather(*started, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise StepFailed(f"shipment failed: {error_message(result)}") from result
        run.apply_shipment(result)


async def cancel_shipments(run: OrderRun) -> None:
    """Shipments in this flow finish before the step completes; nothing is left to cancel."""


@dataclass(frozen=True)
class StepImpl:
    run: Callable[[OrderRun, FlowStep], Awaitable[None]]
    compensate: Callable[[OrderRun], Awaitable[None]] | None = None


COMPENSATIONS: dict[str, Callable[[OrderRun], Awaitable[None]]] = {
    "release_inventory": release_inventory,
    "void_authorization": void_authorization,
    "cancel_shipments": cancel_shipments,
}

STEPS: dict[str, StepImpl] = {
    "validate_order": StepImpl(validate_order),
    "check_fraud": StepImpl(check_fraud),
    "reserve_inventory": StepImpl(reserve_inventory, COMPENSATIONS["release_inventory"]),
    "authorize_payment": StepImpl(authorize_payment, COMPENSATIONS["void_authorization"]),
    "fulfill_shipments": StepImpl(fulfill_shipments, COMPENSATIONS["cancel_shipments"]),
}

# The pure registry in domain/ and these implementations must name the same steps.
assert set(STEPS) == set(STEP_SPECS), "step registry and STEP_SPECS disagree"
assert all(
    (STEP_SPECS[name].compensation is None) == (impl.compensate is None)
    for name, impl in STEPS.items()
)
