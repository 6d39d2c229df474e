"""Payment activities: fraud scoring, authorize, capture, void, refund through the gateway."""

from __future__ import annotations

from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from adapters.payments import (
    Authorization,
    MoneyMovement,
    PaymentError,
    PaymentGateway,
    RiskAssessment,
)


class RiskRequest(BaseModel):
    order_id: str
    token: str
    amount_minor: int


class AuthorizeRequest(BaseModel):
    order_id: str
    key: str
    token: str
    amount_minor: int
    currency: str


class CaptureRequest(BaseModel):
    order_id: str
    key: str
    authorization_id: str
    amount_minor: int


class VoidRequest(BaseModel):
    order_id: str
    key: str
    authorization_id: str


def _business_error(error: PaymentError) -> ApplicationError:
    # The exception class name is the error type the workflow matches on.
    return ApplicationError(
        str(error),
        {"code": error.code},
        type=type(error).__name__,
        non_retryable=not error.retryable,
    )


class PaymentActivities:
    def __init__(self, gateway: PaymentGateway) -> None:
        self.gateway = gateway

    @activity.defn
    async def assess_fraud_risk(self, request: RiskRequest) -> RiskAssessment:
        return await self.gateway.assess_risk(request.token, request.amount_minor)

    @activity.defn
    async def authorize_payment(self, request: AuthorizeRequest) -> Authorization:
        try:
            return await self.gateway.authorize(
                request.key,
                order_id=request.order_id,
                token=request.token,
                amount_minor=request.amount_minor,
                currency=request.currency,
            )
        except PaymentError as error:
            raise _business_error(error) from error

    @activity.defn
    async def capture_payment(self, request: CaptureRequest) -> MoneyMovement:
        try:
            return await self.gateway.capture(
                request.key,
                order_id=request.order_id,
                authorization_id=request.authorization_id,
                amount_minor=request.amount_minor,
            )
        except PaymentError as error:
            raise _business_error(error) from error

    @activity.defn
    async def void_payment(self, request: VoidRequest) -> MoneyMovement:
        try:
            return await self.gateway.void(
                request.key, order_id=request.order_id, authorization_id=request.authorization_id
            )
        except PaymentError as error:
            raise _business_error(error) from error

    @activity.defn
    async def refund_payment(self, request: CaptureRequest) -> MoneyMovement:
        try:
            return await self.gateway.refund(
                request.key,
                order_id=request.order_id,
                authorization_id=request.authorization_id,
                amount_minor=request.amount_minor,
            )
        except PaymentError as error:
            raise _business_error(error) from error
