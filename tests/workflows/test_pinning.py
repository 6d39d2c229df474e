"""An order keeps the flow version it started with, whatever is registered meanwhile."""

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
from tests.helpers.stack import running_stack

WITH_APPROVAL = {
    "type": "standard",
    "description": "standard, with a person approving every order before it ships",
    "steps": [
        {"step": "validate_order", "on_failure": "fail"},
        {"step": "check_fraud", "on_failure": "compensate"},
        {"step": "reserve_inventory", "on_failure": "review"},
        {"step": "authorize_payment", "on_failure": "compensate"},
        {"step": "manual_approval"},
        {"step": "fulfill_shipments", "on_failure": "review"},
    ],
}


def steps_run(journal: list[dict]) -> list[str]:
    placed = next(e for e in journal if e["type"] == "OrderPlaced")
    return [step["step"] for step in placed["data"]["flow"]["steps"]]


async def test_waiting_order_finishes_on_its_version_and_new_orders_use_the_new_one(
    temporal_env,
    tmp_path,  # noqa: ANN001
) -> None:
    url = f"sqlite:///{tmp_path / 'oms.db'}"
    async with running_stack(temporal_env, url, carrier_delay_s=2.0) as stack:
        async with stack.http() as http:
            old = await place(http, order_body() | {"flow_version": 1})
            assert old["flow"] == {"type": "standard", "version": 1}
            await wait_until(http, old["order_id"], shipments_booked)

            response = await http.post("/flows", json=WITH_APPROVAL)
            assert response.status_code == 201, response.text
            registered = response.json()["version"]
            assert registered > 2

            new = await place(http, order_body())
            assert new["flow"] == {"type": "standard", "version": registered}

            finished = await wait_for_status(http, old["order_id"], "COMPLETED", "FAILED")
            assert finished["status"] == "COMPLETED"
            assert finished["flow"] == {"type": "standard", "version": 1}
            old_journal = await events(http, old["order_id"])

            waiting = await wait_until(http, new["order_id"], lambda v: v["review"] is not None)
            assert waiting["review"]["step"] == "manual_approval"
            await intervene(http, new["order_id"], "review", {"decision": "approve"})
            done = await wait_for_status(http, new["order_id"], "COMPLETED", "FAILED")
            new_journal = await events(http, new["order_id"])

    assert done["flow"] == {"type": "standard", "version": registered}
    assert "manual_approval" not in steps_run(old_journal)
    assert steps_run(new_journal) == [step["step"] for step in WITH_APPROVAL["steps"]]
    assert "ReviewRequested" not in [e["type"] for e in old_journal]
    assert "ReviewRequested" in [e["type"] for e in new_journal]
