"""Per-step settings of a registered flow take effect: retry policy and backtrackable."""

from __future__ import annotations

import uuid

from tests.helpers.orders import intervene, order_body, place, shipments_booked, wait_until
from tests.helpers.stack import Stack


def flow(type_: str, *, authorize: dict, fulfill: dict | None = None) -> dict:
    return {
        "type": type_,
        "steps": [
            {"step": "validate_order"},
            {"step": "reserve_inventory", "on_failure": "review"},
            {"step": "authorize_payment", "on_failure": "compensate"} | authorize,
            {"step": "fulfill_shipments", "on_failure": "review"} | (fulfill or {}),
        ],
    }


async def test_a_step_without_retries_sends_a_transient_failure_to_review(stack: Stack) -> None:
    type_ = f"t_{uuid.uuid4().hex[:8]}"
    definition = flow(
        type_,
        authorize={
            "retry": {"max_attempts": 1, "initial_interval_s": 0.1, "maximum_interval_s": 0.1}
        },
    )
    async with stack.http() as http:
        assert (await http.post("/flows", json=definition)).status_code == 201
        placed = await place(http, order_body("tok_flaky") | {"order_type": type_})
        view = await wait_until(http, placed["order_id"], lambda v: v["review"] is not None)
        # With the default policy tok_flaky succeeds on a later attempt; here one is all.
        assert view["review"]["step"] == "authorize_payment"
        assert view["review"]["kind"] == "step_failed"
        await intervene(http, placed["order_id"], "review", {"decision": "cancel"})


async def test_a_step_marked_not_backtrackable_refuses_backtrack(slow_stack: Stack) -> None:
    type_ = f"t_{uuid.uuid4().hex[:8]}"
    definition = flow(type_, authorize={"backtrackable": False})
    async with slow_stack.http() as http:
        assert (await http.post("/flows", json=definition)).status_code == 201
        placed = await place(http, order_body() | {"order_type": type_})
        await wait_until(http, placed["order_id"], shipments_booked)
        refused = await intervene(
            http,
            placed["order_id"],
            "backtrack",
            {"to_step": "reserve_inventory", "reason": "x", "dry_run": True},
            expect=409,
        )
        assert "authorize_payment is marked not backtrackable" in refused["detail"]
        await intervene(http, placed["order_id"], "cancel", {"reason": "OTHER"})
