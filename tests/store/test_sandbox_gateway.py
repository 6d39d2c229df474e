"""The sandbox gateway's idempotency and ledger rules, on both backends."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from adapters.payments import (
    GatewayUnavailable,
    IdempotencyConflict,
    InvalidPaymentRequest,
    PaymentDeclined,
)
from adapters.sandbox_gateway import SandboxGateway
from store.db import Store


def uid(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:16]}"


@pytest.fixture
def gateway(any_store: Store) -> SandboxGateway:
    return SandboxGateway(any_store, flaky_failures=2)


async def authorize(gateway: SandboxGateway, order_id: str, amount: int = 1000) -> str:
    auth = await gateway.authorize(
        uid("auth"), order_id=order_id, token="tok_visa", amount_minor=amount, currency="USD"
    )
    return auth.authorization_id


async def capture(gateway: SandboxGateway, order_id: str, auth_id: str, amount: int):  # noqa: ANN201
    return await gateway.capture(
        uid("cap"), order_id=order_id, authorization_id=auth_id, amount_minor=amount
    )


async def refund(gateway: SandboxGateway, order_id: str, auth_id: str, amount: int):  # noqa: ANN201
    return await gateway.refund(
        uid("ref"), order_id=order_id, authorization_id=auth_id, amount_minor=amount
    )


async def test_partial_captures_sum_to_the_authorized_amount(gateway: SandboxGateway) -> None:
    order_id = uid("ord")
    auth_id = await authorize(gateway, order_id, 1000)
    first = await capture(gateway, order_id, auth_id, 400)
    second = await capture(gateway, order_id, auth_id, 600)
    assert (first.amount_minor, second.amount_minor) == (400, 600)
    assert first.operation_id != second.operation_id

    [auth] = await gateway.authorizations(order_id)
    assert (auth.amount_minor, auth.captured_minor, auth.status) == (1000, 1000, "authorized")
    ledger = await gateway.ledger(order_id)
    assert sorted((op.kind, op.amount_minor) for op in ledger) == [
        ("authorize", 1000),
        ("capture", 400),
        ("capture", 600),
    ]


async def test_capture_above_the_uncaptured_remainder_is_refused(
    gateway: SandboxGateway,
) -> None:
    order_id = uid("ord")
    auth_id = await authorize(gateway, order_id, 1000)
    await capture(gateway, order_id, auth_id, 400)
    with pytest.raises(InvalidPaymentRequest) as raised:
        await capture(gateway, order_id, auth_id, 601)
    assert raised.value.code == "amount_too_large"

    # The refused request moved no money and left no ledger row; the remainder is intact.
    [auth] = await gateway.authorizations(order_id)
    assert auth.captured_minor == 400
    assert [op.kind for op in await gateway.ledger(order_id)].count("capture") == 1
    assert (await capture(gateway, order_id, auth_id, 600)).amount_minor == 600


async def test_same_key_same_request_replays_the_authorization(gateway: SandboxGateway) -> None:
    order_id, key = uid("ord"), uid("key")
    request = {"order_id": order_id, "token": "tok_visa", "amount_minor": 1500, "currency": "USD"}
    first = await gateway.authorize(key, **request)
    second = await gateway.authorize(key, **request)
    assert second == first
    assert [op.kind for op in await gateway.ledger(order_id)] == ["authorize"]
    assert len(await gateway.authorizations(order_id)) == 1


async def test_same_key_with_a_different_amount_is_a_conflict(gateway: SandboxGateway) -> None:
    order_id, key = uid("ord"), uid("key")
    await gateway.authorize(
        key, order_id=order_id, token="tok_visa", amount_minor=1500, currency="USD"
    )
    with pytest.raises(IdempotencyConflict):
        await gateway.authorize(
            key, order_id=order_id, token="tok_visa", amount_minor=1600, currency="USD"
        )
    [op] = await gateway.ledger(order_id)
    assert op.amount_minor == 1500
    assert len(await gateway.authorizations(order_id)) == 1


async def test_a_key_used_for_an_authorization_cannot_capture(gateway: SandboxGateway) -> None:
    order_id, key = uid("ord"), uid("key")
    auth = await gateway.authorize(
        key, order_id=order_id, token="tok_visa", amount_minor=1000, currency="USD"
    )
    with pytest.raises(IdempotencyConflict):
        await gateway.capture(
            key, order_id=order_id, authorization_id=auth.authorization_id, amount_minor=1000
        )
    [row] = await gateway.authorizations(order_id)
    assert row.captured_minor == 0


async def test_a_decline_is_final_and_recorded_once(gateway: SandboxGateway) -> None:
    order_id, key = uid("ord"), uid("key")
    request = {
        "order_id": order_id,
        "token": "tok_declined",
        "amount_minor": 900,
        "currency": "USD",
    }
    with pytest.raises(PaymentDeclined) as first:
        await gateway.authorize(key, **request)
    assert first.value.code == "card_declined"
    assert not first.value.retryable
    with pytest.raises(PaymentDeclined):
        await gateway.authorize(key, **request)

    [op] = await gateway.ledger(order_id)
    assert (op.kind, op.outcome, op.amount_minor) == ("authorize", "declined", 900)
    assert await gateway.authorizations(order_id) == []


async def test_an_unknown_token_is_declined_naming_the_tokens_it_knows(
    gateway: SandboxGateway,
) -> None:
    order_id = uid("ord")
    request = {"order_id": order_id, "amount_minor": 900, "currency": "USD"}
    with pytest.raises(PaymentDeclined) as refused:
        await gateway.authorize(uid("key"), token="tok_unknown_xyz", **request)
    assert refused.value.code == "invalid_token" and not refused.value.retryable
    assert str(refused.value).startswith("unknown test token tok_unknown_xyz; the sandbox accepts")
    assert "tok_visa" in str(refused.value) and "tok_declined" in str(refused.value)
    [op] = await gateway.ledger(order_id)
    assert (op.outcome, op.response["code"]) == ("declined", "invalid_token")
    assert await gateway.authorizations(order_id) == []
    # Every named test token that approves still does.
    for token in ("tok_visa", "tok_risk_elevated", "tok_risk_highest"):
        approved = await gateway.authorize(uid("key"), token=token, **request)
        assert approved.amount_minor == 900


@pytest.mark.parametrize("failures", [1, 2, 3])
async def test_flaky_token_fails_transiently_then_approves_once(
    any_store: Store, failures: int
) -> None:
    gateway = SandboxGateway(any_store, flaky_failures=failures)
    order_id, key = uid("ord"), uid("key")
    request = {"order_id": order_id, "token": "tok_flaky", "amount_minor": 700, "currency": "USD"}
    for _ in range(failures):
        with pytest.raises(GatewayUnavailable) as raised:
            await gateway.authorize(key, **request)
        assert raised.value.retryable
        assert await gateway.ledger(order_id) == []
    approved = await gateway.authorize(key, **request)
    assert approved.amount_minor == 700
    # Later retries of the same key replay the approval instead of failing again.
    assert await gateway.authorize(key, **request) == approved

    [op] = await gateway.ledger(order_id)
    assert (op.kind, op.outcome, op.authorization_id) == (
        "authorize",
        "succeeded",
        approved.authorization_id,
    )
    assert len(await gateway.authorizations(order_id)) == 1


async def test_flaky_failures_are_counted_per_key(gateway: SandboxGateway) -> None:
    order_id = uid("ord")
    request = {"order_id": order_id, "token": "tok_flaky", "amount_minor": 700, "currency": "USD"}
    with pytest.raises(GatewayUnavailable):
        await gateway.authorize(uid("key"), **request)
    # A fresh key starts its own count and is not approved early.
    with pytest.raises(GatewayUnavailable):
        await gateway.authorize(uid("key"), **request)


async def test_concurrent_first_attempts_of_a_flaky_key_count_each_other(
    any_store: Store,
) -> None:
    gateway = SandboxGateway(any_store, flaky_failures=2)
    order_id, key = uid("ord"), uid("key")
    request = {"order_id": order_id, "token": "tok_flaky", "amount_minor": 700, "currency": "USD"}
    results = await asyncio.gather(
        *(gateway.authorize(key, **request) for _ in range(5)), return_exceptions=True
    )
    failures = [r for r in results if isinstance(r, GatewayUnavailable)]
    approvals = {r.authorization_id for r in results if not isinstance(r, Exception)}
    assert len(failures) == 2, results  # exactly the configured transient failures
    assert len(approvals) == 1 and len(await gateway.authorizations(order_id)) == 1


async def test_void_after_partial_capture_stops_further_captures(
    gateway: SandboxGateway,
) -> None:
    order_id = uid("ord")
    auth_id = await authorize(gateway, order_id, 1000)
    await capture(gateway, order_id, auth_id, 300)
    void_key = uid("void")
    voided = await gateway.void(void_key, order_id=order_id, authorization_id=auth_id)
    assert voided.amount_minor == 700  # the uncaptured remainder is released

    with pytest.raises(InvalidPaymentRequest) as raised:
        await capture(gateway, order_id, auth_id, 100)
    assert raised.value.code == "authorization_voided"
    [auth] = await gateway.authorizations(order_id)
    assert (auth.status, auth.captured_minor) == ("voided", 300)

    assert await gateway.void(void_key, order_id=order_id, authorization_id=auth_id) == voided
    again = await gateway.void(uid("void"), order_id=order_id, authorization_id=auth_id)
    assert again.amount_minor == 0


async def test_refund_is_limited_to_what_was_captured(gateway: SandboxGateway) -> None:
    order_id = uid("ord")
    auth_id = await authorize(gateway, order_id, 1000)
    with pytest.raises(InvalidPaymentRequest):
        await refund(gateway, order_id, auth_id, 1)  # nothing captured yet
    await capture(gateway, order_id, auth_id, 800)

    assert (await refund(gateway, order_id, auth_id, 300)).amount_minor == 300
    with pytest.raises(InvalidPaymentRequest) as raised:
        await refund(gateway, order_id, auth_id, 501)
    assert raised.value.code == "amount_too_large"
    assert (await refund(gateway, order_id, auth_id, 500)).amount_minor == 500
    with pytest.raises(InvalidPaymentRequest):
        await refund(gateway, order_id, auth_id, 1)

    [auth] = await gateway.authorizations(order_id)
    assert (auth.captured_minor, auth.refunded_minor) == (800, 800)
    refunds = [op.amount_minor for op in await gateway.ledger(order_id) if op.kind == "refund"]
    assert sorted(refunds) == [300, 500]


async def test_operations_on_an_unknown_authorization_are_refused(
    gateway: SandboxGateway,
) -> None:
    order_id = uid("ord")
    with pytest.raises(InvalidPaymentRequest) as raised:
        await capture(gateway, order_id, "auth_missing", 100)
    assert raised.value.code == "unknown_authorization"
    assert await gateway.ledger(order_id) == []


async def test_concurrent_same_key_authorizations_create_one(gateway: SandboxGateway) -> None:
    order_id, key = uid("ord"), uid("key")
    request = {"order_id": order_id, "token": "tok_visa", "amount_minor": 2500, "currency": "USD"}
    results = await asyncio.gather(*(gateway.authorize(key, **request) for _ in range(5)))
    assert len({r.authorization_id for r in results}) == 1
    [auth] = await gateway.authorizations(order_id)
    assert auth.authorization_id == results[0].authorization_id
    assert [op.kind for op in await gateway.ledger(order_id)] == ["authorize"]


async def test_concurrent_captures_never_exceed_the_authorization(
    gateway: SandboxGateway,
) -> None:
    order_id = uid("ord")
    auth_id = await authorize(gateway, order_id, 1000)
    results = await asyncio.gather(
        *(capture(gateway, order_id, auth_id, 300) for _ in range(5)), return_exceptions=True
    )
    captured = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(captured) == 3, results
    assert all(isinstance(e, InvalidPaymentRequest) for e in refused), refused
    [auth] = await gateway.authorizations(order_id)
    assert auth.captured_minor == 900
