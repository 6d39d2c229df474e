"""A gateway that misbehaves on purpose, for fault drills (`make chaos`): it wraps a real one,
fails a fraction of calls before they reach it (`GatewayUnavailable`, as a network error) and
loses the reply of a fraction after it has done the work (the caller sees a timeout), which is
what makes idempotency keys necessary. Both are transient: the activity retries with the same
key and the ledger answers from the first result. Switched on by `OMS_GATEWAY_FAULT_RATE` and
`OMS_GATEWAY_LOST_REPLY_RATE`.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from adapters.payments import (
    Authorization,
    GatewayUnavailable,
    MoneyMovement,
    PaymentGateway,
    RiskAssessment,
)

log = logging.getLogger("oms.gateway.faults")
T = TypeVar("T")


class GatewayTimeout(GatewayUnavailable):
    """The gateway did the work; its answer never arrived."""


class FaultyGateway:
    def __init__(
        self,
        inner: PaymentGateway,
        *,
        fault_rate: float,
        lost_reply_rate: float,
        rng: random.Random | None = None,
    ) -> None:
        self.inner = inner
        self.fault_rate = fault_rate
        self.lost_reply_rate = lost_reply_rate
        self.rng = rng or random.Random()
        self.faults = 0
        self.lost_replies = 0

    async def _call(self, name: str, key: str, call: Callable[[], Awaitable[T]]) -> T:
        if self.rng.random() < self.fault_rate:
            self.faults += 1
            log.warning("injected gateway fault: %s %s failed before the gateway", name, key)
            raise GatewayUnavailable(f"injected: {name} did not reach the gateway", "try_again")
        result = await call()
        if self.rng.random() < self.lost_reply_rate:
            self.lost_replies += 1
            log.warning("injected gateway fault: %s %s done, reply lost", name, key)
            raise GatewayTimeout(f"injected: {name} was done but its reply was lost", "timeout")
        return result

    async def assess_risk(self, token: str, amount_minor: int) -> RiskAssessment:
        return await self.inner.assess_risk(token, amount_minor)

    async def authorize(
        self, key: str, *, order_id: str, token: str, amount_minor: int, currency: str
    ) -> Authorization:
        return await self._call(
            "authorize",
            key,
            lambda: self.inner.authorize(
                key, order_id=order_id, token=token, amount_minor=amount_minor, currency=currency
            ),
        )

    async def capture(
        self, key: str, *, order_id: str, authorization_id: str, amount_minor: int
    ) -> MoneyMovement:
        return await self._call(
            "capture",
            key,
            lambda: self.inner.capture(
                key, order_id=order_id, authorization_id=authorization_id, amount_minor=amount_minor
            ),
        )

    async def void(self, key: str, *, order_id: str, authorization_id: str) -> MoneyMovement:
        return await self._call(
            "void",
            key,
            lambda: self.inner.void(key, order_id=order_id, authorization_id=authorization_id),
        )

    async def refund(
        self, key: str, *, order_id: str, authorization_id: str, amount_minor: int
    ) -> MoneyMovement:
        return await self._call(
            "refund",
            key,
            lambda: self.inner.refund(
                key, order_id=order_id, authorization_id=authorization_id, amount_minor=amount_minor
            ),
        )
