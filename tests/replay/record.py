"""Record the replay suite's histories: run named scenarios on a real embedded stack (dev
server, worker, API over HTTP, as the tests run it) and export each order's history and
its shipments' into `tests/histories/`.

    .venv/bin/python -m tests.replay.record                       # every scenario
    .venv/bin/python -m tests.replay.record cancel_whole hold_release
    .venv/bin/python -m tests.replay.record --list

A scenario is an async function `(stack, http) -> order_id` that places an order, drives
it over HTTP and returns once the order is terminal with the status it expects. Add one to
`SCENARIOS` at the bottom; its key is the history's file name prefix.

Existing files are kept: histories recorded by older workflow code are what the suite
guards. `--replace` drops a scenario's older files once its new ones are written.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from oms import history
from tests.helpers.orders import (
    add_released_item,
    intervene,
    journal_types,
    order_body,
    place,
    shipments_booked,
    temporal_signal,
    wait_until,
)
from tests.helpers.stack import TEMPORAL, Stack, running_stack
from tests.replay.flow_scenarios import FLOW_SCENARIOS
from workflows import search_attributes

Scenario = Callable[[Stack, httpx.AsyncClient], Awaitable[str]]

HISTORIES_DIR = Path(__file__).resolve().parent.parent / "histories"
TERMINAL = ("COMPLETED", "CANCELLED", "FAILED")
TWO_SHIPMENTS = [{"sku": "MUG-CERAMIC", "quantity": 2}, {"sku": "LAMP-DESK", "quantity": 1}]
# Each carrier event waits this long, so interventions land while shipments are BOOKED.
CARRIER_DELAY_S = 2.0
# Delivered orders stay open this long for returns before they complete.
RETURN_WINDOW_S = 20
NEW_ADDRESS = {
    "name": "Alice Example",
    "line1": "2 Elm St",
    "city": "Shelbyville",
    "postal_code": "54321",
    "country": "US",
}


# -- helpers ------------------------------------------------------------------------------


async def placed(http: httpx.AsyncClient, body: dict[str, Any]) -> str:
    return (await place(http, body))["order_id"]


def stuck(view: dict[str, Any]) -> bool:
    """A step failed and the order waits for a human: no scenario here expects that."""
    return bool(view.get("review")) and view["review"].get("kind") == "step_failed"


async def reach(
    http: httpx.AsyncClient,
    order_id: str,
    predicate: Callable[[dict[str, Any]], bool],
    timeout: float = 60,
) -> dict[str, Any]:
    """`wait_until`, but a failed step stops the wait at once with its reason."""
    view = await wait_until(http, order_id, lambda v: predicate(v) or stuck(v), timeout)
    if stuck(view) and not predicate(view):
        raise AssertionError(f"{order_id} is stuck: {view['review']['reason']}")
    return view


async def finish(http: httpx.AsyncClient, order_id: str, expected: str) -> str:
    """Wait for a terminal status and insist it is the one the scenario is named for."""
    view = await reach(http, order_id, lambda v: v["status"] in TERMINAL, timeout=120)
    if view["status"] != expected:
        raise AssertionError(f"{order_id} ended {view['status']}, expected {expected}")
    return order_id


def in_review(view: dict[str, Any]) -> bool:
    return view["status"] == "NEEDS_REVIEW"


async def in_review_order(http: httpx.AsyncClient, body: dict[str, Any]) -> str:
    order_id = await placed(http, body)
    await reach(http, order_id, lambda v: in_review(v) and not stuck(v))
    return order_id


async def booked_order(http: httpx.AsyncClient, body: dict[str, Any]) -> str:
    order_id = await placed(http, body)
    await reach(http, order_id, shipments_booked)
    return order_id


# -- scenarios ------------------------------------------------------------------------------


async def standard_completed(stack: Stack, http: httpx.AsyncClient) -> str:
    order_id = await placed(http, order_body("tok_visa", TWO_SHIPMENTS))
    return await finish(http, order_id, "COMPLETED")


async def standard_declined(stack: Stack, http: httpx.AsyncClient) -> str:
    order_id = await placed(http, order_body("tok_declined"))
    return await finish(http, order_id, "CANCELLED")


async def fraud_blocked(stack: Stack, http: httpx.AsyncClient) -> str:
    order_id = await placed(http, order_body("tok_risk_highest"))
    return await finish(http, order_id, "CANCELLED")


async def cancel_whole(stack: Stack, http: httpx.AsyncClient) -> str:
    order_id = await booked_order(http, order_body(lines=TWO_SHIPMENTS))
    await intervene(http, order_id, "cancel", {"reason": "CUSTOMER", "note": "changed mind"})
    return await finish(http, order_id, "CANCELLED")


async def cancel_partial(stack: Stack, http: httpx.AsyncClient) -> str:
    order_id = await booked_order(http, order_body(lines=TWO_SHIPMENTS))
    lines = [{"line_id": "ln_2", "quantity": 1}]
    await intervene(http, order_id, "cancel", {"reason": "INVENTORY", "lines": lines})
    return await finish(http, order_id, "COMPLETED")


async def prepaid_partial_cancel(stack: Stack, http: httpx.AsyncClient) -> str:
    body = order_body(lines=TWO_SHIPMENTS) | {"order_type": "prepaid"}
    order_id = await booked_order(http, body)
    lines = [{"line_id": "ln_2", "quantity": 1}]
    await intervene(http, order_id, "cancel", {"reason": "CUSTOMER", "lines": lines})
    return await finish(http, order_id, "COMPLETED")


async def hold_release(stack: Stack, http: httpx.AsyncClient) -> str:
    order_id = await booked_order(http, order_body(lines=TWO_SHIPMENTS))
    await intervene(http, order_id, "hold", {"reason": "HIGH_RISK_OF_FRAUD"})
    await intervene(http, order_id, "hold", {"reason": "OTHER", "note": "call the customer"})
    # The carrier keeps going while held; release only once everything is delivered.
    await reach(http, order_id, lambda v: all(s["status"] == "DELIVERED" for s in v["shipments"]))
    await intervene(http, order_id, "release", {"reason": "OTHER"})
    await intervene(http, order_id, "release", {})
    return await finish(http, order_id, "COMPLETED")


async def backtrack_authorize(stack: Stack, http: httpx.AsyncClient) -> str:
    order_id = await booked_order(http, order_body(lines=TWO_SHIPMENTS))
    body = {"to_step": "authorize_payment", "reason": "card replaced"}
    await intervene(http, order_id, "backtrack", body | {"dry_run": True})
    await intervene(http, order_id, "backtrack", body)
    return await finish(http, order_id, "COMPLETED")


async def skip_fraud_review(stack: Stack, http: httpx.AsyncClient) -> str:
    order_id = await in_review_order(http, order_body("tok_risk_elevated"))
    await intervene(http, order_id, "skip", {"step": "check_fraud", "reason": "VIP"})
    return await finish(http, order_id, "COMPLETED")


async def review_approve(stack: Stack, http: httpx.AsyncClient) -> str:
    order_id = await in_review_order(http, order_body("tok_risk_elevated"))
    await intervene(http, order_id, "review", {"decision": "approve", "note": "known buyer"})
    return await finish(http, order_id, "COMPLETED")


async def review_retry(stack: Stack, http: httpx.AsyncClient) -> str:
    # The retried fraud check scores the same token again, so it lands in review twice.
    order_id = await in_review_order(http, order_body("tok_risk_elevated"))
    await intervene(http, order_id, "review", {"decision": "retry"})

    async def reviewed_twice() -> bool:
        return (await journal_types(http, order_id)).count("ReviewRequested") >= 2

    deadline = time.monotonic() + 60
    while not await reviewed_twice():
        if time.monotonic() > deadline:
            raise AssertionError(f"{order_id} did not come back to review after retry")
        await asyncio.sleep(0.1)
    await reach(http, order_id, in_review)
    await intervene(http, order_id, "review", {"decision": "cancel", "reason": "FRAUD"})
    return await finish(http, order_id, "CANCELLED")


async def review_cancel(stack: Stack, http: httpx.AsyncClient) -> str:
    order_id = await in_review_order(http, order_body("tok_risk_elevated"))
    await intervene(http, order_id, "review", {"decision": "cancel", "reason": "FRAUD"})
    return await finish(http, order_id, "CANCELLED")


async def out_of_stock_review_cancel(stack: Stack, http: httpx.AsyncClient) -> str:
    body = order_body(lines=[{"sku": "POSTER-LTD", "quantity": 50}])
    order_id = await in_review_order(http, body)
    await intervene(http, order_id, "review", {"decision": "cancel", "reason": "INVENTORY"})
    return await finish(http, order_id, "CANCELLED")


async def address_correction(stack: Stack, http: httpx.AsyncClient) -> str:
    # Review keeps the order before shipments are booked, where the address may change.
    order_id = await in_review_order(http, order_body("tok_risk_elevated"))
    await intervene(http, order_id, "hold", {"reason": "INCORRECT_ADDRESS"})
    await intervene(http, order_id, "review", {"decision": "approve"})
    await intervene(http, order_id, "address", {"shipping_address": NEW_ADDRESS})
    await intervene(http, order_id, "release", {"reason": "INCORRECT_ADDRESS"})
    return await finish(http, order_id, "COMPLETED")


async def signal_malformed(stack: Stack, http: httpx.AsyncClient) -> str:
    order_id = await booked_order(http, order_body())
    await temporal_signal(
        stack.settings.resolved_temporal_address,
        stack.settings.temporal_namespace,
        history.order_workflow_id(order_id),
        "hold",
        '{"reason": 42}',
    )
    deadline = time.monotonic() + 30
    while "InterventionRejected" not in await journal_types(http, order_id):
        if time.monotonic() > deadline:
            raise AssertionError(f"{order_id}: the malformed signal was never journaled")
        await asyncio.sleep(0.1)
    return await finish(http, order_id, "COMPLETED")


async def digital_completed(stack: Stack, http: httpx.AsyncClient) -> str:
    lines = [{"sku": "EBOOK-TEMPORAL", "quantity": 2}]
    order_id = await placed(http, order_body(lines=lines) | {"order_type": "digital"})
    return await finish(http, order_id, "COMPLETED")


async def warranty_add_on(stack: Stack, http: httpx.AsyncClient) -> str:
    lines = [{"sku": "TSHIRT-BLK-M", "quantity": 1}, {"sku": "WARRANTY-2Y", "quantity": 1}]
    order_id = await placed(http, order_body(lines=lines))
    return await finish(http, order_id, "COMPLETED")


async def high_value_approved(stack: Stack, http: httpx.AsyncClient) -> str:
    lines = [{"sku": "HEADPHONES-BT", "quantity": 3}]
    order_id = await placed(http, order_body(lines=lines) | {"order_type": "high_value"})
    await reach(http, order_id, in_review)
    await intervene(http, order_id, "review", {"decision": "approve", "note": "ID checked"})
    return await finish(http, order_id, "COMPLETED")


async def pickup_collected(stack: Stack, http: httpx.AsyncClient) -> str:
    lines = [{"sku": "TSHIRT-BLK-M", "quantity": 1}]
    order_id = await placed(http, order_body(lines=lines) | {"order_type": "pickup"})
    await reach(http, order_id, lambda v: v["current_step"] == "await_pickup")
    await intervene(http, order_id, "pickup", {"picked_up_by": "Alice"})
    return await finish(http, order_id, "COMPLETED")


async def preorder_released(stack: Stack, http: httpx.AsyncClient) -> str:
    """A preorder whose item is already out: authorize, pass the release date, ship."""
    sku = await add_released_item(stack.store)
    body = order_body(lines=[{"sku": sku, "quantity": 1}]) | {"order_type": "preorder"}
    order_id = await placed(http, body)
    return await finish(http, order_id, "COMPLETED")


async def review_skip(stack: Stack, http: httpx.AsyncClient) -> str:
    order_id = await in_review_order(http, order_body("tok_risk_elevated"))
    await intervene(http, order_id, "review", {"decision": "skip", "note": "known customer"})
    return await finish(http, order_id, "COMPLETED")


async def in_return_window(http: httpx.AsyncClient, lines: list[dict[str, Any]]) -> str:
    order_id = await placed(http, order_body("tok_visa", lines))
    await reach(http, order_id, lambda v: v["return_window_closes_at"] is not None)
    return order_id


async def returned(
    http: httpx.AsyncClient, order_id: str, lines: list[dict[str, Any]], condition: str
) -> None:
    """Ask for a return of `lines`, then have the warehouse receive all of it."""
    response = await http.post(
        f"/orders/{order_id}/returns", json={"lines": lines, "reason": "not as expected"}
    )
    response.raise_for_status()
    return_id = response.json()["return_id"]
    await reach(http, order_id, lambda v: v["returns"][-1]["status"] == "AWAITING_RECEIPT")
    received = [
        {"line_id": line["line_id"], "quantity": line["quantity"], "condition": condition}
        for line in lines
    ]
    response = await http.post(
        f"/returns/{return_id}/events", json={"status": "received", "lines": received}
    )
    response.raise_for_status()


async def return_refunded(stack: Stack, http: httpx.AsyncClient) -> str:
    """Delivered, one mug of two returned resellable: restocked and refunded."""
    order_id = await in_return_window(http, TWO_SHIPMENTS)
    await returned(http, order_id, [{"line_id": "ln_1", "quantity": 1}], "resellable")
    return await finish(http, order_id, "COMPLETED")


async def exchange_shipped(stack: Stack, http: httpx.AsyncClient) -> str:
    """A black T-shirt exchanged for a white one: a replacement shipment, no new charge."""
    order_id = await in_return_window(http, [{"sku": "TSHIRT-BLK-M", "quantity": 1}])
    lines = [{"line_id": "ln_1", "quantity": 1, "replacement_sku": "TSHIRT-WHT-M"}]
    await returned(http, order_id, lines, "resellable")
    return await finish(http, order_id, "COMPLETED")


async def appeasement_refunded(stack: Stack, http: httpx.AsyncClient) -> str:
    order_id = await in_return_window(http, TWO_SHIPMENTS)
    response = await http.post(
        f"/orders/{order_id}/appeasements", json={"amount_minor": 500, "reason": "late"}
    )
    response.raise_for_status()
    return await finish(http, order_id, "COMPLETED")


SCENARIOS: dict[str, Scenario] = {
    "standard_completed": standard_completed,
    "standard_declined": standard_declined,
    "fraud_blocked": fraud_blocked,
    "cancel_whole": cancel_whole,
    "cancel_partial": cancel_partial,
    "prepaid_partial_cancel": prepaid_partial_cancel,
    "hold_release": hold_release,
    "backtrack_authorize": backtrack_authorize,
    "skip_fraud_review": skip_fraud_review,
    "review_approve": review_approve,
    "review_retry": review_retry,
    "review_cancel": review_cancel,
    "out_of_stock_review_cancel": out_of_stock_review_cancel,
    "address_correction": address_correction,
    "signal_malformed": signal_malformed,
    "digital_completed": digital_completed,
    "warranty_add_on": warranty_add_on,
    "high_value_approved": high_value_approved,
    "pickup_collected": pickup_collected,
    "preorder_released": preorder_released,
    "review_skip": review_skip,
    "return_refunded": return_refunded,
    "exchange_shipped": exchange_shipped,
    "appeasement_refunded": appeasement_refunded,
    **FLOW_SCENARIOS,  # the flow language: blocks, fragments, call steps
}


# -- running ------------------------------------------------------------------------------


async def run_scenario(
    stack: Stack, name: str, out: Path, replace: bool, slots: asyncio.Semaphore
) -> bool:
    async with slots:
        started = time.monotonic()
        try:
            async with stack.http() as http:
                order_id = await SCENARIOS[name](stack, http)
            workflow_id = history.order_workflow_id(order_id)
            # The order may still be closing its children after its status turned terminal.
            await history.wait_closed(stack.client, workflow_id)
            older = set(out.glob(f"{name}{history.SEPARATOR}*.json"))
            paths = await history.export_order(stack.client, order_id, out, name)
        except Exception as error:  # one failed scenario must not stop the others
            print(f"FAIL {name} ({time.monotonic() - started:.1f} s): {error!r}", flush=True)
            return False
        if replace:
            for stale in older - set(paths):
                stale.unlink()
        files = ", ".join(path.name for path in paths)
        print(f"ok   {name} ({time.monotonic() - started:.1f} s): {files}", flush=True)
        return True


async def record(names: list[str], out: Path, jobs: int, replace: bool) -> int:
    started = time.monotonic()
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=TEMPORAL,
        data_converter=pydantic_data_converter,
        search_attributes=search_attributes.ALL,
        dev_server_extra_args=[
            "--dynamic-config-value",
            "system.forceSearchAttributesCacheRefreshOnRead=true",
        ],
    )
    try:
        with tempfile.TemporaryDirectory(prefix="oms-record-") as data:
            url = f"sqlite:///{Path(data) / 'oms.db'}"
            async with running_stack(
                env, url, carrier_delay_s=CARRIER_DELAY_S, return_window_s=RETURN_WINDOW_S
            ) as stack:
                slots = asyncio.Semaphore(jobs)
                results = await asyncio.gather(
                    *(run_scenario(stack, name, out, replace, slots) for name in names)
                )
    finally:
        await env.shutdown()
    failed = [name for name, ok in zip(names, results, strict=True) if not ok]
    elapsed = time.monotonic() - started
    print(f"{len(names) - len(failed)}/{len(names)} scenarios recorded in {elapsed:.1f} s")
    if failed:
        print(f"failed: {' '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.replay.record",
        description="Record workflow histories for tests/replay on an embedded stack.",
    )
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO", help="default: all")
    parser.add_argument("--list", action="store_true", help="print the scenario names")
    parser.add_argument("--out", type=Path, default=HISTORIES_DIR, metavar="DIR")
    parser.add_argument("--jobs", type=int, default=4, help="scenarios run at once")
    parser.add_argument(
        "--replace", action="store_true", help="drop a scenario's older files after recording"
    )
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(SCENARIOS))
        return 0
    unknown = [name for name in args.scenarios if name not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario {', '.join(unknown)}; known: {', '.join(SCENARIOS)}")
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    names = list(dict.fromkeys(args.scenarios)) or list(SCENARIOS)
    return asyncio.run(record(names, args.out, args.jobs, args.replace))


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # The SDK's Rust threads can abort interpreter teardown (temporalio/sdk-python#300,
    # "PyGILState_Release ... finalizing"); everything is written and shut down by now.
    os._exit(code)
