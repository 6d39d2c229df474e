"""Every movement of an order's money, one function each: authorize, capture, refund, void.

The workflows (the order, its shipments, its returns) call these and never the payment
activities themselves; each function builds its gateway request and its idempotency key
(`keys`) in one place. `call` is how the caller runs an activity: the order's own `call`
(its local-activity lane) or `regular_activity` for a child workflow.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.payments import (
        AuthorizeRequest,
        CaptureRequest,
        PaymentActivities,
        VoidRequest,
    )
    from adapters.payments import Authorization, MoneyMovement
    from workflows.activity_options import PAYMENT

Call = Callable[..., Awaitable[Any]]


async def regular_activity(
    activity: Any, arg: Any, *, summary: str, local: bool = False, **options: Any
) -> Any:
    """How a child workflow runs its activities: always as regular ones."""
    return await workflow.execute_activity_method(activity, arg, summary=summary, **options)


class keys:  # noqa: N801 - a namespace of the key rules, read as `keys.step(...)`
    """The idempotency keys of money movements. The same key twice is the same movement:
    keys come from the order, the step and its epoch, or a counter the order keeps, never
    from an attempt number."""

    @staticmethod
    def step(order_id: str, step_id: str, epoch: int) -> str:
        return f"{order_id}:{step_id}:{epoch}"

    @staticmethod
    def counted(order_id: str, purpose: str, count: int) -> str:
        return f"{order_id}:{purpose}:{count}"

    @staticmethod
    def void(authorization_id: str) -> str:
        return f"{authorization_id}:void"

    @staticmethod
    def return_refund(return_id: str) -> str:
        return f"{return_id}:refund"


async def authorize(
    call: Call,
    *,
    order_id: str,
    key: str,
    token: str,
    amount_minor: int,
    currency: str,
    summary: str,
    local: bool = False,
    options: dict[str, Any] = PAYMENT,
) -> Authorization:
    request = AuthorizeRequest(
        order_id=order_id, key=key, token=token, amount_minor=amount_minor, currency=currency
    )
    authorization: Authorization = await call(
        PaymentActivities.authorize_payment, request, summary=summary, local=local, **options
    )
    return authorization


async def capture(
    call: Call,
    *,
    order_id: str,
    key: str,
    authorization_id: str,
    amount_minor: int,
    summary: str,
    local: bool = False,
    options: dict[str, Any] = PAYMENT,
) -> MoneyMovement:
    request = CaptureRequest(
        order_id=order_id, key=key, authorization_id=authorization_id, amount_minor=amount_minor
    )
    captured: MoneyMovement = await call(
        PaymentActivities.capture_payment, request, summary=summary, local=local, **options
    )
    return captured


async def refund(
    call: Call,
    *,
    order_id: str,
    key: str,
    authorization_id: str,
    amount_minor: int,
    summary: str,
) -> MoneyMovement:
    """A refund is never local: what it answers depends on the order of messages, so it is
    recorded before it runs (docs/decisions on the local-activity lane)."""
    request = CaptureRequest(
        order_id=order_id, key=key, authorization_id=authorization_id, amount_minor=amount_minor
    )
    refunded: MoneyMovement = await call(
        PaymentActivities.refund_payment, request, summary=summary, **PAYMENT
    )
    return refunded


async def void(call: Call, *, order_id: str, authorization_id: str) -> MoneyMovement:
    request = VoidRequest(
        order_id=order_id, key=keys.void(authorization_id), authorization_id=authorization_id
    )
    voided: MoneyMovement = await call(
        PaymentActivities.void_payment, request, summary=f"void {authorization_id}", **PAYMENT
    )
    return voided
