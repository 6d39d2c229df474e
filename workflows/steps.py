"""The step registry: what each step named in a flow does, and how it is undone.

A step runs against the `OrderRun` (the order workflow's state) and raises `StepFailed`
for a business failure; the interpreter decides what a failure means from the flow.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from activities.inventory import InventoryActivities, ReserveRequest
    from activities.payments import (
        AuthorizeRequest,
        CaptureRequest,
        PaymentActivities,
        RiskRequest,
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
    """A business failure of a step: declined, out of stock, fraud, a failed shipment.

    `kind` names it for the review queue; `needs_review` sends it to a human whatever the
    flow says (the fraud review band); `final` ends the order whatever the flow says."""

    def __init__(
        self,
        message: str,
        *,
        kind: str = "step_failed",
        cancel_reason: CancelReason | None = None,
        needs_review: bool = False,
        final: bool = False,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.cancel_reason = cancel_reason
        self.needs_review = needs_review
        self.final = final


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
            f"fraud score {risk.score} blocks the order",
            kind="fraud",
            cancel_reason=CancelReason.FRAUD,
            final=True,
        )
    if risk.score >= FRAUD_REVIEW_SCORE:
        raise StepFailed(
            f"fraud score {risk.score} needs a manual review",
            needs_review=True,
            kind="fraud",
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
            raise StepFailed(
                error_message(error), kind="out_of_stock", cancel_reason=CancelReason.INVENTORY
            ) from error
        raise
    order.reserve(allocations)
    run.record(
        "InventoryReserved",
        allocations=[allocation.model_dump(mode="json") for allocation in allocations],
    )


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
                error_message(error), kind="declined", cancel_reason=CancelReason.PAYMENT_DECLINED
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


async def capture_payment(run: OrderRun, step: FlowStep) -> None:
    """Capture the whole order at once (Shopify's automatic capture at checkout)."""
    order = run.order
    payment = order.payment
    due = order.total_minor - payment.captured_minor
    if payment.authorization_id is None or payment.voided:
        raise StepFailed("no authorization to capture against")
    if due <= 0:
        return
    captured = await workflow.execute_activity_method(
        PaymentActivities.capture_payment,
        CaptureRequest(
            order_id=order.order_id,
            key=run.key(step),
            authorization_id=payment.authorization_id,
            amount_minor=due,
        ),
        summary=f"capture {due} {order.currency}",
        **activity_options.PAYMENT,
    )
    payment.captured_minor += captured.amount_minor
    run.record("PaymentCaptured", amount_minor=captured.amount_minor, key=run.key(step))


async def fulfill_shipments(run: OrderRun, step: FlowStep) -> None:
    """One child shipment per allocation; done when every shipment is delivered or cancelled.
    Waiting here is a safe point: interventions are applied while the carrier works."""
    order = run.order
    authorization_id = order.payment.authorization_id
    if authorization_id is None or order.payment.voided:
        raise StepFailed("no authorization to capture against")
    prices = {line.line_id: line.unit_price_minor for line in order.lines}
    for allocation in order.allocations:
        if run.shipment_for(allocation) is not None or not any(
            i.quantity for i in allocation.lines
        ):
            continue  # shipped already in an earlier epoch, or nothing left to send
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
                unit_prices={item.line_id: prices[item.line_id] for item in shipment.lines},
                # Shipments capture their lines on dispatch unless the flow captured already.
                capture_on_dispatch=order.payment.captured_minor == 0,
                authorization_id=authorization_id,
                capture_key=f"{run.key(step)}:capture:{shipment.shipment_id}",
            ),
            id=shipment_workflow_id(shipment.shipment_id),
            static_summary=f"{shipment.shipment_id} · {shipment.warehouse} · "
            f"{sum(item.quantity for item in shipment.lines)} units",
        )
        run.watch_shipment(shipment.shipment_id, handle)
    run.set_details("awaiting carrier")
    await run.wait(run.shipments_settled)
    if failures := run.shipment_failures():
        raise StepFailed("; ".join(failures))


STEPS: dict[str, Callable[[OrderRun, FlowStep], Awaitable[None]]] = {
    "validate_order": validate_order,
    "check_fraud": check_fraud,
    "reserve_inventory": reserve_inventory,
    "authorize_payment": authorize_payment,
    "capture_payment": capture_payment,
    "fulfill_shipments": fulfill_shipments,
}

# The pure registry in domain/ and these implementations must name the same steps.
assert set(STEPS) == set(STEP_SPECS), "step registry and STEP_SPECS disagree"
