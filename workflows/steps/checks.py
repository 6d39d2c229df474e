"""Steps that judge an order: validation, fraud scoring, manual approval."""

from __future__ import annotations

from typing import TYPE_CHECKING

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.payments import PaymentActivities, RiskRequest
    from domain.events import EventType
    from domain.flows import FlowStep
    from domain.statuses import CancelReason
    from workflows import activity_options
    from workflows.steps.failures import ApprovalRequired, StepFailed

if TYPE_CHECKING:
    from workflows.run import OrderRun


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
    # Every kind of item needs a step of this flow that can hand it over.
    steps = {flow_step.step for flow_step in run.flow.walk()}
    can_deliver = {
        "physical": bool(steps & {"fulfill_shipments", "await_pickup"}),
        "digital": "issue_licenses" in steps,
    }
    for line in order.lines:
        if not can_deliver[line.kind]:
            problems.append(
                f"line {line.line_id}: {line.kind} item {line.sku} cannot be delivered by "
                f"the {run.flow.type} flow"
            )
    if problems:
        raise StepFailed("; ".join(problems))
    run.record(EventType.ORDER_VALIDATED, lines=len(order.lines), total_minor=order.total_minor)


async def check_fraud(run: OrderRun, step: FlowStep) -> None:
    risk = await run.call(
        PaymentActivities.assess_fraud_risk,
        RiskRequest(
            order_id=run.order.order_id, token=run.payment_token, amount_minor=run.order.total_minor
        ),
        summary="score the payment for fraud",
        local=True,
        **run.activity_options(step, activity_options.PAYMENT),
    )
    run.record(EventType.FRAUD_CHECKED, score=risk.score, reason=risk.reason)
    thresholds = run.order_input.fraud  # pinned when the order was placed
    if risk.score >= thresholds.block_score:
        raise StepFailed(
            f"fraud score {risk.score} blocks the order",
            kind="fraud",
            cancel_reason=CancelReason.FRAUD,
            final=True,
        )
    if risk.score >= thresholds.review_score:
        raise StepFailed(
            f"fraud score {risk.score} needs a manual review",
            needs_review=True,
            kind="fraud",
            cancel_reason=CancelReason.FRAUD,
        )


async def manual_approval(run: OrderRun, step: FlowStep) -> None:
    """Every order of the flow waits for a person; `review` with `approve` lets it go on."""
    raise ApprovalRequired(
        f"{run.order.order_type} orders need a manual approval before money moves"
    )
