"""The sandbox payment gateway: real idempotency and ledger semantics, fake card network.

Its ledger lives in the store (`payment_authorizations`, `payment_operations`). Test tokens:
`tok_visa` approves, `tok_declined` is a hard decline, `tok_flaky` fails transiently on the
first attempts of each key, `tok_risk_elevated` / `tok_risk_highest` score high for fraud.
Any other token is declined (`invalid_token`), as Stripe's test mode refuses a token it never
issued: a typo in a test token shows as a decline, not as a card that works.
"""

from __future__ import annotations

import functools
import hashlib
import json
import uuid
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Executable, Row, Table, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.payments import (
    Authorization,
    GatewayUnavailable,
    IdempotencyConflict,
    InvalidPaymentRequest,
    MoneyMovement,
    PaymentDeclined,
    PaymentError,
    RiskAssessment,
)
from store.db import Store
from store.sandbox_tables import GatewayAttempt, PaymentAuthorization, PaymentOperation

RISK_SCORES = {"tok_risk_elevated": 75, "tok_risk_highest": 97}
TEST_TOKENS = ("tok_visa", "tok_declined", "tok_flaky", *RISK_SCORES)


def unknown_token(token: str) -> dict[str, str] | None:
    """The decline for a token the sandbox does not know, or None for a test token."""
    if token in TEST_TOKENS:
        return None
    return {
        "code": "invalid_token",
        "message": f"unknown test token {token}; the sandbox accepts {', '.join(TEST_TOKENS)}",
    }


# The ledger is written with Core statements on a bare connection: the gateway runs in every
# order's path, and the ORM's unit of work cost it more than its own statements (`make bench`).
AUTHORIZATIONS = cast(Table, PaymentAuthorization.__table__)
OPERATIONS = cast(Table, PaymentOperation.__table__)


def _fingerprint(kind: str, params: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps([kind, params], sort_keys=True).encode()).hexdigest()


class SandboxGateway:
    def __init__(self, store: Store, *, flaky_failures: int = 2) -> None:
        self.store = store
        self.flaky_failures = flaky_failures

    async def assess_risk(self, token: str, amount_minor: int) -> RiskAssessment:
        score = RISK_SCORES.get(token, 10)
        return RiskAssessment(score=score, reason=f"sandbox score for {token}")

    async def authorize(
        self, key: str, *, order_id: str, token: str, amount_minor: int, currency: str
    ) -> Authorization:
        params = {"order_id": order_id, "token": token, "amount": amount_minor, "cur": currency}
        if token == "tok_flaky":
            await self._fail_first_attempts(key)

        async def apply(connection: AsyncConnection) -> tuple[str, dict]:
            if amount_minor <= 0:
                raise InvalidPaymentRequest("amount must be positive", "invalid_amount")
            if token == "tok_declined":
                return "declined", {"code": "card_declined", "message": "the card was declined"}
            if (refusal := unknown_token(token)) is not None:
                return "declined", refusal
            authorization_id = f"auth_{uuid.uuid4().hex[:20]}"
            await connection.execute(
                _insert(self.store.dialect, PaymentAuthorization),
                {
                    "authorization_id": authorization_id,
                    "order_id": order_id,
                    "token": token,
                    "currency": currency,
                    "amount_minor": amount_minor,
                    "captured_minor": 0,
                    "refunded_minor": 0,
                    "status": "authorized",
                    "created_at": datetime.now(UTC),
                },
            )
            return "succeeded", {
                "authorization_id": authorization_id,
                "amount_minor": amount_minor,
                "currency": currency,
            }

        response = await self._once(
            key, "authorize", params, order_id, None, amount_minor, currency, apply
        )
        return Authorization.model_validate(response)

    async def capture(
        self, key: str, *, order_id: str, authorization_id: str, amount_minor: int
    ) -> MoneyMovement:
        params = {"authorization_id": authorization_id, "amount": amount_minor}

        async def apply(connection: AsyncConnection) -> tuple[str, dict]:
            auth = await self._authorization(connection, authorization_id)
            if auth.status == "voided":
                raise InvalidPaymentRequest("authorization was voided", "authorization_voided")
            if amount_minor <= 0 or auth.captured_minor + amount_minor > auth.amount_minor:
                raise InvalidPaymentRequest(
                    f"capture of {amount_minor} exceeds the uncaptured "
                    f"{auth.amount_minor - auth.captured_minor}",
                    "amount_too_large",
                )
            await _change(connection, auth, captured_minor=auth.captured_minor + amount_minor)
            return "succeeded", self._movement(key, auth, amount_minor)

        return await self._movement_op(
            key, "capture", params, order_id, authorization_id, amount_minor, apply
        )

    async def void(self, key: str, *, order_id: str, authorization_id: str) -> MoneyMovement:
        params = {"authorization_id": authorization_id}

        async def apply(connection: AsyncConnection) -> tuple[str, dict]:
            auth = await self._authorization(connection, authorization_id)
            released = 0 if auth.status == "voided" else auth.amount_minor - auth.captured_minor
            # The uncaptured remainder is released; no more captures.
            await _change(connection, auth, status="voided")
            return "succeeded", self._movement(key, auth, released)

        return await self._movement_op(key, "void", params, order_id, authorization_id, None, apply)

    async def refund(
        self, key: str, *, order_id: str, authorization_id: str, amount_minor: int
    ) -> MoneyMovement:
        params = {"authorization_id": authorization_id, "amount": amount_minor}

        async def apply(connection: AsyncConnection) -> tuple[str, dict]:
            auth = await self._authorization(connection, authorization_id)
            refundable = auth.captured_minor - auth.refunded_minor
            if amount_minor <= 0 or amount_minor > refundable:
                raise InvalidPaymentRequest(
                    f"refund of {amount_minor} exceeds the refundable {refundable}",
                    "amount_too_large",
                )
            await _change(connection, auth, refunded_minor=auth.refunded_minor + amount_minor)
            return "succeeded", self._movement(key, auth, amount_minor)

        return await self._movement_op(
            key, "refund", params, order_id, authorization_id, amount_minor, apply
        )

    async def ledger(self, order_id: str) -> list[PaymentOperation]:
        """Every operation the gateway performed for an order, oldest first."""
        async with self.store.read() as session:
            rows = await session.scalars(
                select(PaymentOperation)
                .where(PaymentOperation.order_id == order_id)
                .order_by(PaymentOperation.created_at, PaymentOperation.idempotency_key)
            )
            return list(rows)

    async def authorizations(self, order_id: str) -> list[PaymentAuthorization]:
        async with self.store.read() as session:
            rows = await session.scalars(
                select(PaymentAuthorization).where(PaymentAuthorization.order_id == order_id)
            )
            return list(rows)

    # -- internals ---------------------------------------------------------------------------

    async def _movement_op(self, key, kind, params, order_id, authorization_id, amount, apply):  # noqa: ANN001, ANN202
        response = await self._once(
            key, kind, params, order_id, authorization_id, amount, None, apply
        )
        return MoneyMovement.model_validate(response)

    @staticmethod
    def _movement(key: str, auth: Row, amount: int) -> dict:
        return {
            "operation_id": f"op_{hashlib.sha256(key.encode()).hexdigest()[:20]}",
            "authorization_id": auth.authorization_id,
            "amount_minor": amount,
            "currency": auth.currency,
        }

    @staticmethod
    async def _authorization(connection: AsyncConnection, authorization_id: str) -> Row:
        """The authorization's row, locked against other changes until the transaction ends
        (`FOR UPDATE` on PostgreSQL; SQLite has one writer at a time)."""
        auth = (
            await connection.execute(
                select(AUTHORIZATIONS)
                .where(AUTHORIZATIONS.c.authorization_id == authorization_id)
                .with_for_update()
            )
        ).first()
        if auth is None:
            raise InvalidPaymentRequest(
                f"no authorization {authorization_id}", "unknown_authorization"
            )
        return auth

    async def _once(self, key, kind, params, order_id, authorization_id, amount, currency, apply):  # noqa: ANN001, ANN202
        """Run `apply` at most once per key; replay its stored outcome for the same request."""
        request_hash = _fingerprint(kind, params)
        for _ in range(3):
            try:
                async with self.store.connection() as connection:
                    existing = (
                        await connection.execute(
                            select(OPERATIONS).where(OPERATIONS.c.idempotency_key == key)
                        )
                    ).first()
                    if existing is None:
                        outcome, response = await apply(connection)
                        await connection.execute(
                            _insert(self.store.dialect, PaymentOperation),
                            {
                                "idempotency_key": key,
                                "kind": kind,
                                "request_hash": request_hash,
                                "order_id": order_id,
                                "authorization_id": response.get(
                                    "authorization_id", authorization_id
                                ),
                                "amount_minor": response.get("amount_minor", amount or 0),
                                "currency": response.get("currency", currency or ""),
                                "outcome": outcome,
                                "response": response,
                                "created_at": datetime.now(UTC),
                            },
                        )
                        break
            except IntegrityError:
                continue  # a concurrent call with the same key won; read what it stored
            if existing.request_hash != request_hash or existing.kind != kind:
                raise IdempotencyConflict(
                    f"idempotency key {key!r} was used for a different request",
                    "idempotency_key_reused",
                )
            outcome, response = existing.outcome, existing.response
            break
        else:
            raise GatewayUnavailable("could not record the operation", "conflict")
        if outcome == "declined":
            raise PaymentDeclined(response["message"], response["code"])
        return response

    async def _fail_first_attempts(self, key: str) -> None:
        async with self.store.connection() as connection:
            done = await connection.scalar(
                select(OPERATIONS.c.idempotency_key).where(OPERATIONS.c.idempotency_key == key)
            )
            if done is not None:
                return
            # One atomic upsert, so concurrent first attempts count each other.
            count = await connection.scalar(
                self.store.insert(GatewayAttempt)
                .values(idempotency_key=key, attempts=1)
                .on_conflict_do_update(
                    index_elements=[GatewayAttempt.idempotency_key],
                    set_={"attempts": GatewayAttempt.attempts + 1},
                )
                .returning(GatewayAttempt.attempts)
            )
        if count <= self.flaky_failures:
            raise GatewayUnavailable(
                f"sandbox: transient failure {count} of {self.flaky_failures}", "try_again"
            )


@functools.cache
def _insert(dialect: str, model: type[PaymentAuthorization | PaymentOperation]) -> Executable:
    """A ledger row's insert, its values passed as parameters so it is compiled once."""
    return Store.insert_for(dialect, model.__table__)


async def _change(connection: AsyncConnection, auth: Row, **values: object) -> None:
    await connection.execute(
        update(AUTHORIZATIONS)
        .where(AUTHORIZATIONS.c.authorization_id == auth.authorization_id)
        .values(**values)
    )


__all__ = ["SandboxGateway", "PaymentError"]
