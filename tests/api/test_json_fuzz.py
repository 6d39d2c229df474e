"""Hypothesis-made JSON text, hostile for the most part, sent as raw bytes to every route that
takes a body, on each store.

The documents are written as text, not serialized from Python values, so that they can hold
what `json.dumps` never writes: NaN and Infinity, numbers past a float, integers of thousands
of digits, lone surrogates (as escapes and as raw UTF-8 bytes), NUL and other control
characters, duplicate keys, nesting thousands of levels deep, strings tens of kilobytes long,
card numbers, cut-off text. Half of them are a route's own valid body with one such value
spliced in; the rest are free-form. Some go with a Content-Type that is not JSON.

Checks on every response:
- never a 5xx;
- a 4xx is JSON whose `detail` is a clear message or a list of errors each with a `loc` list
  and a `msg`, echoing at most 80 characters of any value;
- a body that is not JSON by its Content-Type is a 415 (or a 413, or a 422 for a card number);
- `POST /orders` stores an order only when it answers 201 (no hostile document gets one).

`EXAMPLES` cases per store (200 in all) in about 10 s; `-s` prints the statuses per route.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from store.tables import Order
from tests.helpers.keys import CARRIER_KEY, OPERATOR_KEY, WAREHOUSE_KEY
from tests.helpers.orders import order_body, place
from tests.helpers.stack import Stack

EXAMPLES = 100  # per store
LIMIT = 64 * 1024  # OMS_API_MAX_BODY_BYTES: larger bodies are a 413, tested elsewhere


class Raw(str):
    """JSON text written as it is."""


class Pairs(list):
    """An object as its (key, value) pairs, so that a key can come twice."""


def dump(value: Any) -> str:
    if isinstance(value, Raw):
        return value
    if isinstance(value, Pairs):
        return "{" + ", ".join(f"{json.dumps(k)}: {dump(v)}" for k, v in value) + "}"
    if isinstance(value, dict):
        return dump(Pairs(value.items()))
    if isinstance(value, list):
        return "[" + ", ".join(dump(item) for item in value) + "]"
    return json.dumps(value, allow_nan=True)  # ensure_ascii: control characters as escapes


def with_surrogate(parts: tuple[str, int, str]) -> Raw:
    before, code, after = parts
    return Raw(json.dumps(before)[:-1] + f"\\u{code:04x}" + json.dumps(after)[1:])


def nested(parts: tuple[int, str]) -> Raw:
    depth, opener = parts
    closer = "]" if opener == "[" else "}"
    return Raw(opener * depth + "1" + closer * depth)


HOSTILE = st.one_of(
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "-1e400"]).map(Raw),
    st.integers(19, 6000).map(lambda digits: Raw("-" * (digits % 2) + "7" * digits)),
    st.tuples(st.text(max_size=8), st.integers(0xD800, 0xDFFF), st.text(max_size=8)).map(
        with_surrogate
    ),
    st.just(Raw('"raw \ud800 bytes"')),  # sent as UTF-8 with surrogatepass: ED A0 80
    st.integers(0, 0x1F).map(lambda code: Raw(f'"a\\u{code:04x}b"')),
    st.integers(0, 0x1F).map(lambda code: Raw(f'"raw {chr(code)} control"')),
    st.integers(1_001, 60_000).map(lambda size: "x" * size),  # past every max_length
    st.tuples(st.integers(33, 20_000), st.sampled_from(["[", '{"a": '])).map(nested),
    st.sampled_from(["4111 1111 1111 1111", 4111111111111111, "tok_5555555555554444"]),
    st.just(Pairs([("k", 1), ("k", 2)])),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**18), 10**18),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),  # NUL and other control characters among them, as escapes
)
KEYS = st.one_of(st.sampled_from(["sku", "quantity", "reason", "note", "lines"]), st.text())
FREE = st.recursive(
    st.one_of(SCALARS, HOSTILE),
    lambda children: (
        st.lists(children, max_size=4) | st.lists(st.tuples(KEYS, children), max_size=4).map(Pairs)
    ),
    max_leaves=12,
)

# A body of each route's shape: the splice strategy puts one hostile value into it. None can
# change anything once spoiled; the flow names a step that does not exist and the endpoint a
# host that is not allowed, so that none is ever registered in the session's store.
BODIES: dict[str, Any] = {
    "POST /orders": order_body(),
    "POST /orders/{order_id}/cancel": {"reason": "CUSTOMER", "note": "changed my mind"},
    "POST /orders/{order_id}/hold": {"reason": "OTHER"},
    "POST /orders/{order_id}/release": {"reason": "OTHER"},
    "POST /orders/{order_id}/backtrack": {"to_step": "reserve", "reason": "r", "dry_run": True},
    "POST /orders/{order_id}/skip": {"step": "fraud_check", "reason": "manual"},
    "POST /orders/{order_id}/review": {"decision": "approve"},
    "POST /orders/{order_id}/address": {"shipping_address": order_body()["shipping_address"]},
    "POST /orders/{order_id}/pickup": {"picked_up_by": "Alice"},
    "POST /orders/{order_id}/returns": {
        "lines": [{"line_id": "ln_1", "quantity": 1}],
        "reason": "too small",
    },
    "POST /orders/{order_id}/appeasements": {"amount_minor": 100, "reason": "late"},
    "POST /returns/{return_id}/events": {
        "status": "received",
        "lines": [{"line_id": "ln_1", "quantity": 1, "condition": "resellable"}],
    },
    "POST /returns/{return_id}/decision": {"decision": "approve"},
    "POST /flows": {"type": "fuzz", "steps": [{"step": "no_such_step"}]},
    "POST /shipments/{shipment_id}/events": {"status": "in_transit", "note": "on its way"},
    "POST /endpoints": {
        "name": "fuzz-wrap",
        "url": "http://example.com/fuzz-wrap",
        "timeout_s": 5,
        "secret": "fuzz-secret-0123456789",
    },
}
MEDIA_TYPES = [
    *["application/json"] * 6,
    "application/json; charset=utf-8",
    "application/problem+json",
    "text/plain",
    "application/x-www-form-urlencoded",
    "application/xml",
    None,
]


@st.composite
def spliced(draw: st.DrawFn, route: str) -> Any:
    """The route's body with one value replaced by a hostile one, or one hostile key added."""
    body = json.loads(json.dumps(BODIES[route]))
    container, key = body, None
    while True:
        keys = list(range(len(container))) if isinstance(container, list) else list(container)
        if not keys:
            break
        key = draw(st.sampled_from(keys))
        child = container[key]
        if not isinstance(child, (dict, list)) or not child or draw(st.booleans()):
            break
        container = child
    if isinstance(container, dict) and (key is None or draw(st.booleans())):
        key = draw(KEYS)
    if key is not None:
        container[key] = draw(HOSTILE)
    return body


@st.composite
def cases(draw: st.DrawFn, routes: list[str]) -> tuple[str, bytes, str | None]:
    route = draw(st.sampled_from(routes))
    document = draw(st.one_of(spliced(route), FREE))
    text = dump(document)
    if draw(st.integers(0, 9)) == 0:
        text = text[: draw(st.integers(0, len(text)))]  # cut off: not JSON
    body = text.encode("utf-8", "surrogatepass")
    assume(0 < len(body) <= LIMIT - 1024)
    return route, body, draw(st.sampled_from(MEDIA_TYPES))


def key_for(route: str) -> str:
    if route.startswith("POST /shipments/"):
        return CARRIER_KEY
    if route == "POST /returns/{return_id}/events":
        return WAREHOUSE_KEY
    return OPERATOR_KEY


def check_answer(where: str, response: httpx.Response, media_type: str | None) -> None:
    assert response.status_code < 500, f"{where}\n{response.text[:500]}"
    json_type = media_type is not None and re.match(r"application/(.+\+)?json", media_type)
    if not json_type:
        assert response.status_code in (413, 415, 422), where
    if response.status_code < 400:
        return
    try:
        detail = response.json()["detail"]
    except (ValueError, KeyError):
        raise AssertionError(f"{where}: no JSON detail in {response.text[:300]!r}") from None
    if isinstance(detail, str):
        assert detail.strip(), where
        return
    assert isinstance(detail, list) and detail, f"{where}: {detail!r}"
    for error in detail:
        if isinstance(error, str):  # POST /flows lists its reasons, each naming its step
            continue
        assert isinstance(error["loc"], list) and isinstance(error["msg"], str), where
        assert len(str(error.get("input", ""))) <= 80, f"{where}: echoes {error['input'][:90]!r}"


def fuzz(stack: Stack, routes: dict[str, str], count_orders: Callable[[], int]) -> Counter:
    seen: Counter = Counter()
    with httpx.Client(base_url=stack.base_url, timeout=30) as http:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=cases(list(routes)))
        def send(case: tuple[str, bytes, str | None]) -> None:
            route, body, media_type = case
            headers = {"Authorization": f"Bearer {key_for(route)}"}
            if media_type:
                headers["Content-Type"] = media_type
            places = route == "POST /orders"
            if places:
                headers["Idempotency-Key"] = uuid.uuid4().hex
                before = count_orders()
            response = http.post(routes[route], content=body, headers=headers)
            seen[(route, response.status_code)] += 1
            where = f"{route} ({media_type}) {response.status_code}: {body[:200]!r}"
            check_answer(where, response, media_type)
            if places:
                added = count_orders() - before
                assert added == (1 if response.status_code == 201 else 0), where
                assert response.status_code != 201, f"{where}: a hostile order was placed"

        send()
    return seen


async def live_routes(stack: Stack) -> dict[str, str]:
    """Every route that takes a body, from the API's own schema, with ids that exist."""
    async with stack.http() as http:
        order_id = (await place(http))["order_id"]
        schema = (await http.get("/openapi.json")).json()
    ids = {"order_id": order_id, "return_id": f"{order_id}-1", "shipment_id": f"{order_id}-1"}
    routes = {}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if "requestBody" in operation:
                routes[f"{method.upper()} {path}"] = re.sub(r"{(\w+)}", lambda m: ids[m[1]], path)
    assert set(routes) == set(BODIES), "a route with a body has no valid body to splice into"
    return routes


async def test_hostile_json_on_every_route_is_never_a_5xx(either_stack: Stack) -> None:
    stack = either_stack
    routes = await live_routes(stack)
    loop = asyncio.get_running_loop()

    async def orders_stored() -> int:
        async with stack.store.read() as session:
            return await session.scalar(select(func.count()).select_from(Order))

    def count_orders() -> int:
        return asyncio.run_coroutine_threadsafe(orders_stored(), loop).result(30)

    started = time.monotonic()
    # Sent from a thread: the API and the worker run on this loop.
    seen = await asyncio.to_thread(fuzz, stack, routes, count_orders)
    total = sum(seen.values())
    print(f"\njson fuzz: {total} cases in {time.monotonic() - started:.1f} s")
    for (route, status), n in sorted(seen.items()):
        print(f"  {n:4d}  {route} -> {status}")
    assert total >= EXAMPLES
