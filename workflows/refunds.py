"""Money given back: a voided authorization, refunds capped by what the order may still give
back, and appeasements (goodwill without a return)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.events import EventType
    from domain.interventions import AppeasementRequest
    from domain.returns import Appeasement
    from workflows import effects

if TYPE_CHECKING:
    from workflows.run import OrderRun


async def void(run: OrderRun, authorization_id: str, *, reason: str | None = None) -> None:
    """Void an authorization: the order's own when it is undone, or a renewed one."""
    voided = await effects.void(
        run.call, order_id=run.order.order_id, authorization_id=authorization_id
    )
    run.record(
        EventType.PAYMENT_VOIDED,
        reason=reason,
        authorization_id=authorization_id,
        released_minor=voided.amount_minor,
    )


async def refund(run: OrderRun, key: str, amount: int, reason: str) -> int:
    """Refund to the original payment, capped by what the order may still give back."""
    order = run.order
    amount = min(amount, order.refundable_minor)
    if amount <= 0 or order.payment.authorization_id is None:
        return 0
    refunded = await effects.refund(
        run.call,
        order_id=order.order_id,
        key=key,
        authorization_id=order.payment.authorization_id,
        amount_minor=amount,
        summary=f"refund {amount}: {reason}",
    )
    order.payment.refunded_minor += refunded.amount_minor
    run.record(
        EventType.REFUND_ISSUED,
        amount_minor=refunded.amount_minor,
        refund_id=refunded.operation_id,
        reason=reason,
    )
    return refunded.amount_minor


async def appease(run: OrderRun, request: AppeasementRequest, actor: str) -> dict[str, Any]:
    number = run.state.counters.get("appeasement", 0) + 1
    run.state.counters["appeasement"] = number
    appeasement_id = f"{run.order.order_id}-A{number}"
    run.record(
        EventType.APPEASEMENT_REQUESTED,
        actor=actor,
        reason=request.reason,
        appeasement_id=appeasement_id,
        amount_minor=request.amount_minor,
    )
    # Checked again just before this, so the whole amount is refundable.
    refunded = await refund(run, f"{appeasement_id}:refund", request.amount_minor, "appeasement")
    appeasement = Appeasement(
        appeasement_id=appeasement_id,
        amount_minor=refunded,
        reason=request.reason,
        actor=actor,
        at=workflow.now(),
    )
    run.order.appeasements.append(appeasement)
    run.record(
        EventType.APPEASEMENT_ISSUED,
        actor=actor,
        reason=request.reason,
        appeasement_id=appeasement_id,
        amount_minor=refunded,
    )
    return appeasement.model_dump(mode="json")
