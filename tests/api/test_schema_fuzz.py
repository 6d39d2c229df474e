"""Schemathesis against the API's own OpenAPI schema, over real HTTP, on a running stack.

Every operation in `/openapi.json` is called with cases generated from its schema: valid
ones (positive) and ones that break the schema in one place (negative). Operations with
path parameters are also called on live objects: an order waiting in NEEDS_REVIEW, a
delivered order inside its return window, its returns (one awaiting receipt, one in
review), the `standard` flow, a customer with orders, an endpoint. The stack is built as the `stack`
fixture is, with a store of its own, so that fuzzed flows and orders cannot reach other
tests, and with a long return window so the delivered order keeps taking returns.

Checks on every response:
- never a 5xx;
- a 4xx answers JSON with a `detail` saying what was wrong: a non-empty message, or a
  list of errors each with a `loc` and a non-empty `msg` (or, from `POST /flows`, a list
  of reasons each naming its step);
- `POST /orders` adds a row to the store's `orders` table only when it answers 201 (its
  cases get real SKUs where they have string ones, so that some do get through).

About 2,000 cases (`EXAMPLES` per operation and pass: 50 or 75 per operation) in 20–50 s;
run with `-s` to see the count and the statuses per operation.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import Case, GenerationMode

from tests.helpers.keys import OPERATOR_KEY
from tests.helpers.orders import order_body, place, wait_until
from tests.helpers.stack import Stack, running_stack

EXAMPLES = 25  # per operation and pass
AUTH = {"Authorization": f"Bearer {OPERATOR_KEY}"}


@pytest.fixture(scope="module")
async def fuzz_stack(temporal_env, tmp_path_factory) -> AsyncIterator[Stack]:  # noqa: ANN001
    url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'oms.db'}"
    async with running_stack(temporal_env, url, return_window_s=900) as running:
        yield running


async def live_objects(stack: Stack) -> dict[str, dict[str, Any]]:
    """Path parameters naming things that exist, per operation path."""
    async with stack.http() as http:
        review = (await place(http, order_body("tok_risk_elevated")))["order_id"]
        eight = order_body(lines=[{"sku": "TSHIRT-BLK-M", "quantity": 8}])
        delivered = (await place(http, eight))["order_id"]
        await wait_until(http, review, lambda view: view["status"] == "NEEDS_REVIEW")
        view = await wait_until(http, delivered, lambda v: v["return_window_closes_at"])
        returns = []
        for quantity in (1, 6):  # 1 900 is approved at once; 11 400 waits for a decision
            response = await http.post(
                f"/orders/{delivered}/returns",
                json={"lines": [{"line_id": "ln_1", "quantity": quantity}], "reason": "fuzz"},
            )
            assert response.status_code == 201, response.text
            returns.append(response.json()["return_id"])
        await wait_until(
            http,
            delivered,
            lambda v: [r["status"] for r in v["returns"]] == ["AWAITING_RECEIPT", "NEEDS_REVIEW"],
        )
        endpoint = {"name": "fuzz-wrap", "url": "http://127.0.0.1:9/wrap", "secret": "f" * 16}
        assert (await http.post("/endpoints", json=endpoint)).status_code == 201
    common = {
        "flow_type": "standard",
        "version": 1,
        "customer_id": "cus_alice",
        "shipment_id": view["shipments"][0]["shipment_id"],
        "return_id": returns[0],
        "name": "fuzz-wrap",
    }
    by_path: dict[str, dict[str, Any]] = {}
    for path in ("returns", "appeasements", "events"):
        by_path[f"/orders/{{order_id}}/{path}"] = common | {"order_id": delivered}
    by_path["/returns/{return_id}/decision"] = common | {"return_id": returns[1]}
    by_path["*"] = common | {"order_id": review}
    return by_path


def real_skus(body: Any) -> None:
    """Generated SKUs name nothing in the catalog; swap in real ones where the body has a
    `lines[].sku`, so that some placements get through and the 201 path is fuzzed too."""
    lines = body.get("lines") if isinstance(body, dict) else None
    for index, line in enumerate(lines if isinstance(lines, list) else []):
        if isinstance(line, dict) and isinstance(line.get("sku"), str):
            line["sku"] = ("TSHIRT-BLK-M", "MUG-CERAMIC")[index % 2]


def orders_in_store(database: str) -> int:
    with sqlite3.connect(database, timeout=10) as connection:
        return connection.execute("SELECT count(*) FROM orders").fetchone()[0]


def check_detail(where: str, response: Any) -> None:
    try:
        body = response.json()
    except ValueError:
        raise AssertionError(f"{where}: {response.status_code} without a JSON body") from None
    assert isinstance(body, dict) and body.get("detail"), f"{where}: no detail in {body!r}"
    detail = body["detail"]
    if isinstance(detail, list):
        for error in detail:
            if isinstance(error, str):  # POST /flows lists its reasons, each naming its step
                assert error.strip(), f"{where}: empty reason in {detail!r}"
                continue
            assert isinstance(error, dict) and error.get("msg"), f"{where}: bare error {error!r}"
            assert "loc" in error, f"{where}: error without loc {error!r}"
    else:
        assert isinstance(detail, str) and detail.strip(), f"{where}: detail {detail!r}"


@dataclass
class Target:
    """Where the cases go, and what they found."""

    base_url: str
    database: str  # the stack's SQLite file, to count the `orders` rows
    session: requests.Session = field(default_factory=requests.Session)
    statuses: dict[str, Counter] = field(default_factory=dict)  # per operation

    def send(self, label: str, mode: GenerationMode, case: Case) -> None:
        places_order = label == "POST /orders"
        if places_order:
            real_skus(case.body)
        before = orders_in_store(self.database) if places_order else 0
        response = case.call(base_url=self.base_url, session=self.session, headers=AUTH, timeout=30)
        self.statuses.setdefault(label, Counter())[response.status_code] += 1
        where = f"{label} ({mode.value}) {response.status_code}\n{case.as_curl_command()}"
        assert response.status_code < 500, f"{where}\n{response.content[:500]!r}"
        if 400 <= response.status_code < 500:
            check_detail(where, response)
        if places_order:
            added = orders_in_store(self.database) - before
            allowed = 1 if response.status_code == 201 else 0
            assert added == allowed, f"{where}: {added} orders added"

    def run_pass(
        self, operation: Any, mode: GenerationMode, path_parameters: dict[str, Any] | None
    ) -> None:
        label = f"{operation.method.upper()} {operation.path}"

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
        def cases(case: Case) -> None:
            self.send(label, mode, case)

        cases()


def fuzz(schema: Any, target: Target, live: dict[str, dict[str, Any]]) -> None:
    """Every operation, in every pass that applies to it; all failures reported together."""
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        passes: list[tuple[GenerationMode, dict[str, Any] | None]] = [
            (GenerationMode.POSITIVE, None)
        ]
        if names := re.findall(r"{(\w+)}", operation.path):
            known = live.get(operation.path, live["*"])
            fixed = {name: known[name] for name in names}
            passes += [(GenerationMode.POSITIVE, fixed), (GenerationMode.NEGATIVE, fixed)]
        elif any(len(part) for part in (operation.query, operation.headers, operation.body)):
            passes.append((GenerationMode.NEGATIVE, None))  # else there is nothing to break
        for mode, path_parameters in passes:
            try:
                target.run_pass(operation, mode, path_parameters)
            except Exception as error:
                failures.append(f"{operation.method.upper()} {operation.path}: {error}")
    target.session.close()
    assert not failures, "\n\n".join(failures)


async def test_no_route_answers_5xx_and_every_4xx_says_why(fuzz_stack: Stack) -> None:
    live = await live_objects(fuzz_stack)
    async with fuzz_stack.http() as http:
        raw = (await http.get("/openapi.json")).json()
    schema = schemathesis.openapi.from_dict(raw)
    database = fuzz_stack.settings.resolved_database_url.removeprefix("sqlite:///")
    started = time.monotonic()
    # The cases are sent from a thread: the API and the worker run on this loop.
    target = Target(fuzz_stack.base_url, database)
    try:
        await asyncio.to_thread(fuzz, schema, target, live)
    finally:
        tried = target.statuses
        total = sum(sum(statuses.values()) for statuses in tried.values())
        took = time.monotonic() - started
        print(f"\nschema fuzz: {total} cases over {len(tried)} operations in {took:.1f} s")
        for label, statuses in sorted(tried.items()):
            seen = ", ".join(f"{status}×{n}" for status, n in sorted(statuses.items()))
            print(f"  {sum(statuses.values()):4d}  {label}: {seen}")
    assert len(tried) == len(list(schema.get_all_operations()))


async def test_a_flow_version_beyond_the_store_is_a_422_not_a_500(fuzz_stack: Stack) -> None:
    """Found by the fuzz: a version past 64 bits overflowed SQLite (a 500, OverflowError)."""
    database = fuzz_stack.settings.resolved_database_url.removeprefix("sqlite:///")
    before = orders_in_store(database)
    async with fuzz_stack.http() as http:
        placed = await http.post(
            "/orders",
            json=order_body() | {"flow_version": 2**63},
            headers={"Idempotency-Key": "fuzz-flow-version"},
        )
        flow = await http.get(f"/flows/standard/{2**63}")
        diagram = await http.get(f"/flows/standard/{2**31}/diagram")
    assert placed.status_code == 422, placed.text
    assert placed.json()["detail"][0]["loc"] == ["body", "flow_version"]
    assert orders_in_store(database) == before
    for response in (flow, diagram):
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["loc"] == ["path", "version"]
