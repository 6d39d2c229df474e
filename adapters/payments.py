"""The payment gateway interface, Stripe-like: authorize, capture, void, refund.

Every call carries an idempotency key. The same key with the same request returns the
first result; the same key with a different request is an `IdempotencyConflict`.
"""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel


class PaymentError(Exception):
    retryable = False

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


class PaymentDeclined(PaymentError):
    """The issuer said no. Retrying the same request will not change that."""


class IdempotencyConflict(PaymentError):
    """The key was used before for a different request."""


class InvalidPaymentRequest(PaymentError):
    """The request breaks a rule: capture above the authorization, refund above captures."""


class GatewayUnavailable(PaymentError):
    """A transient failure; the same request with the same key may be retried."""

    retryable = True


class Authorization(BaseModel):
    authorization_id: str
    amount_minor: int
    currency: str


class MoneyMovement(BaseModel):
    """The result of a capture, void or refund against an authorization."""

    operation_id: str
    authorization_id: str
    amount_minor: int
    currency: str


class RiskAssessment(BaseModel):
    score: int  # 0 (safe) .. 100 (certain fraud)
    reason: str


class PaymentGateway(Protocol):
    async def assess_risk(self, token: str, amount_minor: int) -> RiskAssessment: ...

    async def authorize(
        self, key: str, *, order_id: str, token: str, amount_minor: int, currency: str
    ) -> Authorization: ...

    async def capture(
        self, key: str, *, order_id: str, authorization_id: str, amount_minor: int
    ) -> MoneyMovement: ...

    async def void(self, key: str, *, order_id: str, authorization_id: str) -> MoneyMovement: ...

    async def refund(
        self, key: str, *, order_id: str, authorization_id: str, amount_minor: int
    ) -> MoneyMovement: ...
