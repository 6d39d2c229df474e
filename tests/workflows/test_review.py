"""Manual review: orders that need a human wait in NEEDS_REVIEW and are decided."""

from __future__ import annotations

import asyncio

from adapters.payments import Authorization, IdempotencyConflict
from adapters.sandbox_gateway import SandboxGateway
from store import inventory
from tests.helpers.orders import events, intervene, order_body, place, wait_for_status, wait_until
from tests.helpers.stack import Stack, running_stack


def in_review(view) -> bool:  # noqa: ANN001
    return view["status"] == "NEEDS_REVIEW"


async def test_elevated_risk_waits_in_review_is_listed_and_completes_after_approve(
    stack: Stack,
) -> None:
    async with stack.http() as http:
        placed = await place(http, order_body("tok_risk_elevated"))
        order_id = placed["order_id"]
        view = await wait_until(http, order_id, in_review)
        assert view["review"]["step"] == "check_fraud"
        assert view["review"]["kind"] == "fraud"
        assert await stack.gateway.ledger(order_id) == []  # nothing charged while waiting

        queue = (await http.get("/reviews")).json()
        mine = [r for r in queue["data"] if r["order_id"] == order_id]
        assert len(mine) == 1 and "fraud score" in mine[0]["reason"] and mine[0]["age_s"] >= 0
        since = [r["since"] for r in queue["data"]]
        assert since == sorted(since)  # oldest first

        listed = []
        for _ in range(50):  # Web UI filter NeedsReview=true; visibility lags a little
            listed = [
                w.id
                async for w in stack.client.list_workflows(
                    f'NeedsReview=true AND WorkflowId="order-{order_id}"'
                )
            ]
            if listed:
                break
            await asyncio.sleep(0.2)
        assert listed == [f"order-{order_id}"]

        await intervene(http, order_id, "review", {"decision": "approve", "note": "known buyer"})
        done = await wait_for_status(http, order_id, "COMPLETED", "CANCELLED", "FAILED")
        assert done["status"] == "COMPLETED" and done["review"] is None
        journal = await events(http, order_id)
        decided = [e for e in journal if e["type"] == "ReviewDecided"]
        assert decided[0]["actor"] == "operator" and decided[0]["data"]["decision"] == "approve"
        queue = (await http.get("/reviews")).json()
        assert order_id not in [r["order_id"] for r in queue["data"]]


async def test_review_cancel_ends_cancelled_with_nothing_held(stack: Stack) -> None:
    async with stack.http() as http:
        placed = await place(http, order_body("tok_risk_elevated"))
        order_id = placed["order_id"]
        await wait_until(http, order_id, in_review)
        view = await intervene(http, order_id, "review", {"decision": "cancel", "reason": "FRAUD"})
        assert view["status"] == "CANCELLED" and view["cancel_reason"] == "FRAUD"
        assert view["lines"][0]["buckets"]["cancelled"] == view["lines"][0]["quantity"]
    assert await stack.gateway.ledger(order_id) == []


async def test_out_of_stock_waits_for_review_and_cancel_restores_nothing_taken(
    stack: Stack,
) -> None:
    before = await inventory.available(stack.store, "POSTER-LTD")
    async with stack.http() as http:
        placed = await place(http, order_body(lines=[{"sku": "POSTER-LTD", "quantity": 50}]))
        order_id = placed["order_id"]
        view = await wait_until(http, order_id, in_review)
        assert view["review"]["kind"] == "out_of_stock"
        refused = await intervene(http, order_id, "review", {"decision": "approve"}, expect=409)
        assert "retry" in refused["detail"]
        view = await intervene(
            http, order_id, "review", {"decision": "cancel", "reason": "INVENTORY"}
        )
    assert view["status"] == "CANCELLED" and view["cancel_reason"] == "INVENTORY"
    assert await inventory.available(stack.store, "POSTER-LTD") == before
    assert await stack.gateway.ledger(order_id) == []


async def test_skip_of_the_reviewed_step_continues_and_is_journaled(stack: Stack) -> None:
    async with stack.http() as http:
        placed = await place(http, order_body("tok_risk_elevated"))
        order_id = placed["order_id"]
        await wait_until(http, order_id, in_review)
        refused = await intervene(
            http, order_id, "skip", {"step": "reserve_inventory", "reason": "x"}, expect=409
        )
        assert "not skippable" in refused["detail"]
        refused = await intervene(
            http, order_id, "skip", {"step": "validate_order", "reason": "x"}, expect=409
        )
        assert "already completed" in refused["detail"]
        await intervene(http, order_id, "skip", {"step": "check_fraud", "reason": "VIP"})
        done = await wait_for_status(http, order_id, "COMPLETED", "CANCELLED", "FAILED")
        journal = await events(http, order_id)
    assert done["status"] == "COMPLETED"
    skipped = [e for e in journal if e["type"] == "StepSkipped"]
    assert skipped and skipped[0]["data"]["step"] == "check_fraud"
    assert skipped[0]["actor"] == "operator" and skipped[0]["reason"] == "VIP"


async def test_review_refused_when_not_in_review_and_for_customers(stack: Stack) -> None:
    from tests.helpers.keys import CUSTOMER_KEY

    async with stack.http() as http:
        placed = await place(http, order_body())
        order_id = placed["order_id"]
        await wait_for_status(http, order_id, "COMPLETED")
        refused = await intervene(http, order_id, "review", {"decision": "approve"}, expect=409)
        assert "COMPLETED" in refused["detail"]
    async with stack.http(CUSTOMER_KEY) as customer:
        await intervene(customer, order_id, "review", {"decision": "approve"}, expect=403)


async def test_partial_cancel_before_reservation_lowers_what_is_authorized(stack: Stack) -> None:
    lines = [{"sku": "TSHIRT-WHT-M", "quantity": 3}, {"sku": "HOODIE-GRY-L", "quantity": 1}]
    async with stack.http() as http:
        placed = await place(http, order_body("tok_risk_elevated", lines))
        order_id = placed["order_id"]
        await wait_until(http, order_id, in_review)
        view = await intervene(
            http,
            order_id,
            "cancel",
            {"reason": "CUSTOMER", "lines": [{"line_id": "ln_1", "quantity": 2}]},
        )
        assert view["status"] == "NEEDS_REVIEW"
        assert view["lines"][0]["buckets"]["cancelled"] == 2
        assert view["lines"][0]["buckets"]["pending"] == 1
        assert view["totals"]["total_minor"] == 1900 + 4900
        await intervene(http, order_id, "review", {"decision": "approve"})
        done = await wait_for_status(http, order_id, "COMPLETED", "CANCELLED", "FAILED")
    assert done["status"] == "COMPLETED"
    authorizations = await stack.gateway.authorizations(order_id)
    assert [a.amount_minor for a in authorizations] == [1900 + 4900]
    assert authorizations[0].captured_minor == 1900 + 4900


async def test_whole_cancel_while_in_review_through_the_cancel_route(stack: Stack) -> None:
    async with stack.http() as http:
        placed = await place(http, order_body("tok_risk_elevated"))
        order_id = placed["order_id"]
        await wait_until(http, order_id, in_review)
        view = await intervene(http, order_id, "cancel", {"reason": "STAFF"})
        assert view["status"] == "CANCELLED" and view["review"] is None
        refused = await intervene(http, order_id, "cancel", {"reason": "STAFF"}, expect=409)
        assert "CANCELLED" in refused["detail"]
        queue = (await http.get("/reviews")).json()
    assert order_id not in [r["order_id"] for r in queue["data"]]


async def test_declined_prepaid_order_waits_for_review_and_cancel_releases_its_stock(
    stack: Stack,
) -> None:
    before = sum((await inventory.available(stack.store, "BACKPACK-20L")).values())
    body = order_body("tok_declined", [{"sku": "BACKPACK-20L", "quantity": 2}])
    async with stack.http() as http:
        placed = await place(http, body | {"order_type": "prepaid"})
        order_id = placed["order_id"]
        view = await wait_until(http, order_id, in_review)
        assert view["review"]["kind"] == "declined"
        assert view["lines"][0]["buckets"]["reserved"] == 2  # held while a human decides
        held = await inventory.available(stack.store, "BACKPACK-20L")
        assert sum(held.values()) == before - 2
        view = await intervene(http, order_id, "review", {"decision": "cancel"})
    assert view["status"] == "CANCELLED" and view["cancel_reason"] == "PAYMENT_DECLINED"
    assert sum((await inventory.available(stack.store, "BACKPACK-20L")).values()) == before


class BrokenOnceGateway(SandboxGateway):
    """Refuses the first authorization with an error nobody classified, then works."""

    def __init__(self, store) -> None:  # noqa: ANN001
        super().__init__(store)
        self.broken = True

    async def authorize(self, key: str, **request) -> Authorization:  # noqa: ANN003
        if self.broken:
            self.broken = False
            raise IdempotencyConflict("gateway misconfigured", "misconfigured")
        return await super().authorize(key, **request)


async def test_non_retryable_step_error_waits_for_review_and_retry_uses_a_new_epoch(
    temporal_env, sqlite_url
) -> None:
    async with running_stack(temporal_env, sqlite_url, make_gateway=BrokenOnceGateway) as stack:
        async with stack.http() as http:
            placed = await place(http, order_body())
            order_id = placed["order_id"]
            view = await wait_until(http, order_id, in_review)
            assert view["review"]["step"] == "authorize_payment"
            assert view["review"]["kind"] == "step_failed"
            assert "misconfigured" in view["review"]["reason"]
            await intervene(http, order_id, "review", {"decision": "retry"})
            done = await wait_for_status(http, order_id, "COMPLETED", "CANCELLED", "FAILED")
        assert done["status"] == "COMPLETED"
        ledger = await stack.gateway.ledger(order_id)
        assert [op.idempotency_key for op in ledger if op.kind == "authorize"] == [
            f"{order_id}:authorize_payment:2"
        ]
