"""Steps that move money: authorize, capture, and keep an authorization alive."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from domain.events import EventType
    from domain.flows import FlowStep
    from domain.statuses import CancelReason
    from workflows import activity_options, effects
    from workflows.steps.failures import StepFailed, business_message, error_type

if TYPE_CHECKING:
    from workflows.run import OrderRun


AUTHORIZATION_LIFETIME = timedelta(days=7)
RENEW_BEFORE_EXPIRY = timedelta(days=1)


async def authorize_payment(run: OrderRun, step: FlowStep) -> None:
    await authorize(run, step, run.key(step), local=True)


async def authorize(run: OrderRun, step: FlowStep, key: str, *, local: bool = False) -> None:
    """Authorize the order's total under `key`; a decline is a business failure."""
    order = run.order
    try:
        authorization = await effects.authorize(
            run.call,
            order_id=order.order_id,
            key=key,
            token=run.payment_token,
            amount_minor=order.total_minor,
            currency=order.currency,
            summary=f"authorize {order.total_minor} {order.currency}",
            local=local,
            options=run.activity_options(step, activity_options.PAYMENT),
        )
    except ActivityError as error:
        if error_type(error) == "PaymentDeclined":
            run.record(EventType.PAYMENT_DECLINED, message=business_message(error))
            raise StepFailed(
                business_message(error),
                kind="declined",
                cancel_reason=CancelReason.PAYMENT_DECLINED,
            ) from error
        raise
    order.payment.authorization_id = authorization.authorization_id
    order.payment.authorized_minor = authorization.amount_minor
    order.payment.authorized_at = workflow.now()
    order.payment.voided = False
    run.record(
        EventType.PAYMENT_AUTHORIZED,
        authorization_id=authorization.authorization_id,
        amount_minor=authorization.amount_minor,
        key=key,
    )


async def capture(
    run: OrderRun, step: FlowStep, key: str, amount_minor: int, *, local: bool = False
) -> None:
    """Capture part or all of the authorization under `key`."""
    order = run.order
    payment = order.payment
    if payment.authorization_id is None or payment.voided:
        raise StepFailed("no authorization to capture against")
    captured = await effects.capture(
        run.call,
        order_id=order.order_id,
        key=key,
        authorization_id=payment.authorization_id,
        amount_minor=amount_minor,
        summary=f"capture {amount_minor} {order.currency}",
        local=local,
        options=run.activity_options(step, activity_options.PAYMENT),
    )
    payment.captured_minor += captured.amount_minor
    run.record(EventType.PAYMENT_CAPTURED, amount_minor=captured.amount_minor, key=key)


async def capture_payment(run: OrderRun, step: FlowStep) -> None:
    """Capture the whole order at once (Shopify's automatic capture at checkout)."""
    due = run.order.total_minor - run.order.payment.captured_minor
    if due > 0:
        await capture(run, step, run.key(step), due, local=True)


async def await_release(run: OrderRun, step: FlowStep) -> None:
    """Wait (a durable timer) for the latest release date among the order's items, renewing
    the authorization a day before each 7-day expiry so the money is there on release day."""
    dates = [line.release_date for line in run.order.lines if line.release_date]
    if not dates:
        return
    release_at = datetime.combine(max(dates), time.min, tzinfo=UTC)
    run.set_details(f"awaiting release on {max(dates).isoformat()}")
    while workflow.now() < release_at:
        payment = run.order.payment
        renew_at = (payment.authorized_at or workflow.now()) + (
            AUTHORIZATION_LIFETIME - RENEW_BEFORE_EXPIRY
        )
        wake = min(release_at, renew_at)
        await run.wait(lambda: False, timeout=(wake - workflow.now()).total_seconds())
        if workflow.now() >= release_at:
            break
        if workflow.now() >= renew_at:
            old = payment.authorization_id
            await authorize(run, step, run.next_key("reauthorize"))
            if old is not None:
                await run.void(old, reason="renewed before expiry")
    run.record(EventType.RELEASE_DATE_REACHED, release_date=max(dates).isoformat())
