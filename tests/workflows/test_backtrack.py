"""Backtrack: the dry run's plan, the real run doing exactly that plan, and refusals."""

from __future__ import annotations

from tests.helpers.orders import (
    events,
    intervene,
    order_body,
    place,
    shipments_booked,
    wait_for_status,
    wait_until,
)
from tests.helpers.stack import Stack

TWO_SHIPMENTS = [{"sku": "MUG-CERAMIC", "quantity": 1}, {"sku": "LAMP-DESK", "quantity": 1}]


async def test_backtrack_to_authorize_voids_reauthorizes_with_a_new_key_and_completes(
    slow_stack: Stack,
) -> None:
    async with slow_stack.http() as http:
        placed = await place(http, order_body(lines=TWO_SHIPMENTS))
        order_id = placed["order_id"]
        await wait_until(http, order_id, shipments_booked)
        body = {"to_step": "authorize_payment", "reason": "card replaced"}
        plan = await intervene(http, order_id, "backtrack", body | {"dry_run": True})
        assert placed["flow"] == {"type": "standard", "version": 2}
        assert plan["undo_steps"] == ["fulfill_shipments", "issue_licenses", "authorize_payment"]
        assert plan["rerun_steps"] == ["authorize_payment", "issue_licenses", "fulfill_shipments"]
        assert [a["action"] for a in plan["actions"]] == [
            "cancel_shipment",
            "cancel_shipment",
            "void_authorization",
        ]
        # The dry run changed nothing.
        assert (await http.get(f"/orders/{order_id}")).json()["status"] == "FULFILLING"

        view = await intervene(http, order_id, "backtrack", body)
        assert view["status"] in ("PROCESSING", "FULFILLING")
        done = await wait_for_status(http, order_id, "COMPLETED", "CANCELLED", "FAILED")
        journal = await events(http, order_id)

    assert done["status"] == "COMPLETED"
    backtracked = next(e for e in journal if e["type"] == "BacktrackedTo")
    assert backtracked["data"]["plan"] == plan  # the real run did what the dry run said
    assert backtracked["actor"] == "operator" and backtracked["reason"] == "card replaced"

    authorizations = sorted(
        await slow_stack.gateway.authorizations(order_id), key=lambda a: a.created_at
    )
    assert [a.status for a in authorizations] == ["voided", "authorized"]
    assert authorizations[0].captured_minor == 0
    assert authorizations[1].captured_minor == done["totals"]["total_minor"]
    ledger = await slow_stack.gateway.ledger(order_id)
    keys = [op.idempotency_key for op in ledger if op.kind == "authorize"]
    assert sorted(keys) == [f"{order_id}:authorize_payment:1", f"{order_id}:authorize_payment:2"]
    cancelled = [s for s in done["shipments"] if s["status"] == "CANCELLED"]
    delivered = [s for s in done["shipments"] if s["status"] == "DELIVERED"]
    assert len(cancelled) == 2 and len(delivered) == 2


async def test_backtrack_refusals(slow_stack: Stack) -> None:
    async with slow_stack.http() as http:
        placed = await place(http, order_body(lines=TWO_SHIPMENTS))
        order_id = placed["order_id"]
        refused = await intervene(
            http, order_id, "backtrack", {"to_step": "pack_gift", "reason": "x"}, expect=409
        )
        assert "unknown step 'pack_gift'" in refused["detail"]
        await wait_until(
            http,
            order_id,
            lambda v: any(
                s["status"] in ("DISPATCHED", "IN_TRANSIT", "DELIVERED") for s in v["shipments"]
            ),
        )
        refused = await intervene(
            http,
            order_id,
            "backtrack",
            {"to_step": "authorize_payment", "reason": "x", "dry_run": True},
            expect=409,
        )
        assert "dispatched" in refused["detail"]
        await wait_for_status(http, order_id, "COMPLETED")


async def test_backtrack_to_a_step_not_reached_is_refused(stack: Stack) -> None:
    async with stack.http() as http:
        placed = await place(http, order_body("tok_risk_elevated"))
        order_id = placed["order_id"]
        await wait_until(http, order_id, lambda v: v["status"] == "NEEDS_REVIEW")
        refused = await intervene(
            http,
            order_id,
            "backtrack",
            {"to_step": "authorize_payment", "reason": "x"},
            expect=409,
        )
        assert "not been reached" in refused["detail"]
        # Backtracking to the step in review runs it again.
        plan = await intervene(
            http,
            order_id,
            "backtrack",
            {"to_step": "validate_order", "reason": "recheck", "dry_run": True},
        )
        assert plan["rerun_steps"] == ["validate_order", "check_fraud"]
        assert plan["actions"] == []
        await intervene(http, order_id, "review", {"decision": "cancel"})
