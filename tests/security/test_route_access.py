"""Every route refuses the wrong caller: walked from the running API's OpenAPI schema.

For each operation the schema lists: no key, an unknown key and a known key sent with the
wrong scheme are 401; a key of a role the route does not allow is 403; a key of a role it
allows gets past authorization (a 404 for an unknown order, a 422 for a body that fails a
later check, never 401/403). The allowed roles come from `ACCESS` below, which must name every
operation of the schema, so a new route without an entry fails here. And a customer's key
never reaches another customer's order, return, rewards or list.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any

import httpx
import pytest

from oms.config.auth import ROLES
from tests.helpers.keys import (
    CARRIER_KEY,
    CUSTOMER_KEY,
    OPERATOR_KEY,
    OTHER_CUSTOMER_KEY,
    WAREHOUSE_KEY,
)
from tests.helpers.orders import ADDRESS, order_body, place
from tests.helpers.stack import Stack

pytestmark = pytest.mark.security

Route = tuple[str, str]  # (METHOD, path template as in the schema)

ANY_KEY = frozenset(ROLES)
SHOP = frozenset({"operator", "customer"})  # customers: their own orders only
OPERATOR = frozenset({"operator"})

# Who may call each route: the table in docs/api.md, as data.
ACCESS: dict[Route, frozenset[str]] = {
    ("GET", "/orders"): SHOP,
    ("POST", "/orders"): SHOP,
    ("GET", "/orders/{order_id}"): SHOP,
    ("GET", "/orders/{order_id}/events"): SHOP,
    ("GET", "/orders/{order_id}/diagram"): SHOP,
    ("POST", "/orders/{order_id}/cancel"): SHOP,
    ("POST", "/orders/{order_id}/hold"): OPERATOR,
    ("POST", "/orders/{order_id}/release"): OPERATOR,
    ("POST", "/orders/{order_id}/backtrack"): OPERATOR,
    ("POST", "/orders/{order_id}/skip"): OPERATOR,
    ("POST", "/orders/{order_id}/review"): OPERATOR,
    ("POST", "/orders/{order_id}/address"): OPERATOR,
    ("POST", "/orders/{order_id}/pickup"): OPERATOR,
    ("POST", "/orders/{order_id}/returns"): SHOP,
    ("GET", "/orders/{order_id}/returns"): SHOP,
    ("POST", "/orders/{order_id}/appeasements"): OPERATOR,
    ("GET", "/returns/{return_id}"): SHOP,
    ("POST", "/returns/{return_id}/events"): frozenset({"warehouse", "carrier", "operator"}),
    ("POST", "/returns/{return_id}/decision"): OPERATOR,
    ("GET", "/customers/{customer_id}/rewards"): SHOP,
    ("GET", "/reviews"): OPERATOR,
    ("GET", "/stats"): OPERATOR,
    ("GET", "/catalog"): ANY_KEY,
    ("GET", "/flows"): ANY_KEY,
    ("POST", "/flows"): OPERATOR,
    ("GET", "/flows/{flow_type}"): ANY_KEY,
    ("GET", "/flows/{flow_type}/{version}"): ANY_KEY,
    ("GET", "/flows/{flow_type}/{version}/diagram"): ANY_KEY,
    ("GET", "/endpoints"): OPERATOR,
    ("POST", "/endpoints"): OPERATOR,
    ("GET", "/endpoints/{name}"): OPERATOR,
    ("POST", "/shipments/{shipment_id}/events"): frozenset({"carrier", "operator"}),
}

# Routes the walk leaves out, each with the reason.
PUBLIC: dict[Route, str] = {
    ("GET", "/health"): "liveness for load balancers and compose; reports up/down only",
    ("GET", "/metrics"): "Prometheus scrapes without a key; aggregate counters, no order data",
}
OWN_AUTH_PREFIXES: dict[str, str] = {
    "/codec/": "api/middleware/codec.py decides itself: an operator key unless "
    "OMS_CODEC_REQUIRE_KEY=false, and 404 without OMS_PAYLOAD_KEY (tests/codec covers it)",
}
# Served without a key and not part of the schema.
PUBLIC_DOCS: dict[str, str] = {
    "/docs": "the interactive docs page; every call it makes needs a key",
    "/openapi.json": "the schema: route shapes only",
}

# One key per role. The customer is cus_bob, who owns `bob_order`: a 403 for him on his own
# order can only come from his role.
ROLE_KEYS = {
    "operator": OPERATOR_KEY,
    "customer": OTHER_CUSTOMER_KEY,
    "carrier": CARRIER_KEY,
    "warehouse": WAREHOUSE_KEY,
}
UNKNOWN_ORDER = "ord_0000000000000000"

# Valid bodies, so that a refusal made after body validation is reached too.
BODIES: dict[Route, Any] = {
    ("POST", "/orders"): order_body(customer="cus_bob"),
    ("POST", "/orders/{order_id}/cancel"): {"reason": "CUSTOMER", "note": "access check"},
    ("POST", "/orders/{order_id}/hold"): {"reason": "INCORRECT_ADDRESS"},
    ("POST", "/orders/{order_id}/release"): {"reason": "INCORRECT_ADDRESS"},
    ("POST", "/orders/{order_id}/backtrack"): {
        "to_step": "authorize_payment",
        "reason": "access check",
        "dry_run": True,
    },
    ("POST", "/orders/{order_id}/skip"): {"step": "check_fraud", "reason": "access check"},
    ("POST", "/orders/{order_id}/review"): {"decision": "approve"},
    ("POST", "/orders/{order_id}/address"): {"shipping_address": dict(ADDRESS)},
    ("POST", "/orders/{order_id}/pickup"): {"picked_up_by": "Bob"},
    ("POST", "/orders/{order_id}/returns"): {
        "lines": [{"line_id": "ln_1", "quantity": 1}],
        "reason": "access check",
    },
    ("POST", "/orders/{order_id}/appeasements"): {"amount_minor": 100, "reason": "access check"},
    ("POST", "/returns/{return_id}/events"): {
        "status": "received",
        "lines": [{"line_id": "ln_1", "quantity": 1, "condition": "resellable"}],
    },
    ("POST", "/returns/{return_id}/decision"): {"decision": "approve"},
    # Registering a flow would change every later order: this one fails its checks (422).
    ("POST", "/flows"): {"type": "standard", "steps": [{"step": "teleport"}]},
    ("POST", "/shipments/{shipment_id}/events"): {"status": "in_transit"},
    # Registering an endpoint would point orders at it: this host is not allowed (422).
    ("POST", "/endpoints"): {
        "name": "access-check",
        "url": "http://example.com/access-check",
        "secret": "access-check-secret-0",
    },
}
# Where an allowed caller would change something real, it gets a body that passes
# authorization and fails a later check instead (the SKU is unknown: 422, nothing placed).
ALLOWED_BODIES: dict[Route, Any] = {
    ("POST", "/orders"): order_body(
        customer="cus_bob", lines=[{"sku": "NO-SUCH-SKU", "quantity": 1}]
    ),
}

PARAM = re.compile(r"\{(\w+)\}")


def operations(schema: dict[str, Any]) -> dict[Route, dict[str, Any]]:
    return {
        (method.upper(), path): operation
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    }


def own_auth(path: str) -> bool:
    return any(path.startswith(prefix) for prefix in OWN_AUTH_PREFIXES)


def walked(schema: dict[str, Any]) -> list[Route]:
    return sorted(
        route for route in operations(schema) if route not in PUBLIC and not own_auth(route[1])
    )


def fill(path: str, values: dict[str, str]) -> str:
    return PARAM.sub(lambda match: values[match[1]], path)


def bob_values(bob_order: str) -> dict[str, str]:
    """Real ids: cus_bob's order, a return and a shipment of it."""
    return {
        "order_id": bob_order,
        "return_id": f"{bob_order}-1",
        "shipment_id": f"{bob_order}-1",
        "customer_id": "cus_bob",
        "flow_type": "standard",
        "version": "1",
        "name": "no-such-endpoint",
    }


UNKNOWN_VALUES = {
    "order_id": UNKNOWN_ORDER,
    "return_id": f"{UNKNOWN_ORDER}-1",
    "shipment_id": f"{UNKNOWN_ORDER}-1",
    "customer_id": "cus_bob",  # the allowed customer asks for his own rewards
    "flow_type": "standard",
    "version": "1",
    "name": "no-such-endpoint",
}


async def call(
    http: httpx.AsyncClient,
    route: Route,
    values: dict[str, str],
    body: Any = None,
    query: dict[str, str] | None = None,
) -> httpx.Response:
    method, path = route
    if body is None:
        body = BODIES.get(route)
    return await http.request(
        method,
        fill(path, values),
        params=query,
        json=body if method != "GET" else None,
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )


@pytest.fixture(scope="module")
async def schema(stack: Stack) -> dict[str, Any]:
    async with stack.http(None) as http:
        response = await http.get("/openapi.json")
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture(scope="module")
async def bob_order(stack: Stack) -> str:
    """An order of cus_bob, placed by an operator."""
    async with stack.http(OPERATOR_KEY) as http:
        return (await place(http, order_body(customer="cus_bob")))["order_id"]


@pytest.fixture(scope="module")
async def alice_order(stack: Stack) -> str:
    async with stack.http(CUSTOMER_KEY) as http:
        return (await place(http, order_body(customer="cus_alice")))["order_id"]


# --- the tables agree with the schema -----------------------------------------------------


def test_every_route_has_an_access_entry(schema: dict[str, Any]) -> None:
    routes = set(walked(schema))
    missing = sorted(routes - set(ACCESS))
    stale = sorted(set(ACCESS) - routes)
    assert not missing, f"routes without an entry in ACCESS (who may call them?): {missing}"
    assert not stale, f"ACCESS names routes the API no longer has: {stale}"
    assert all(roles and roles <= set(ROLES) for roles in ACCESS.values())
    assert len(routes) >= 28


def test_only_listed_routes_are_public(schema: dict[str, Any]) -> None:
    """A route the schema shows without a security requirement must be listed as public."""
    for route, operation in operations(schema).items():
        secured = bool(operation.get("security"))
        if route in PUBLIC:
            assert not secured, f"{route} is listed as public but asks for a key"
        elif not own_auth(route[1]):
            assert secured, f"{route} takes no API key; add auth or list it in PUBLIC"


def test_every_body_and_path_parameter_is_filled(schema: dict[str, Any]) -> None:
    ops = operations(schema)
    for route in walked(schema):
        if "requestBody" in ops[route]:
            assert route in BODIES, f"{route} takes a body; add a valid one to BODIES"
        for name in PARAM.findall(route[1]):
            assert name in UNKNOWN_VALUES, f"{route}: no value for the path parameter {name}"


async def test_public_routes_answer_without_a_key(stack: Stack, schema: dict[str, Any]) -> None:
    async with stack.http(None) as http:
        for method, path in PUBLIC:
            response = await http.request(method, path)
            assert response.status_code == 200, f"{method} {path}: {response.text}"
        for path in PUBLIC_DOCS:
            response = await http.get(path)
            assert response.status_code == 200, f"GET {path}: {response.status_code}"


# --- the walk ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer not-a-real-key-123", f"Basic {OPERATOR_KEY}", f"Bearer {OPERATOR_KEY}x"],
    ids=["no-header", "unknown-key", "wrong-scheme", "near-miss-key"],
)
async def test_every_route_needs_a_valid_key(
    stack: Stack, schema: dict[str, Any], bob_order: str, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    answers = {}
    async with httpx.AsyncClient(base_url=stack.base_url, headers=headers, timeout=30) as http:
        for route in walked(schema):
            response = await call(http, route, bob_values(bob_order))
            answers[route] = response.status_code
            if response.status_code == 401:
                assert response.headers["www-authenticate"] == "Bearer"
    wrong = {route: code for route, code in answers.items() if code != 401}
    assert not wrong, f"answered without a valid key: {wrong}"
    assert len(answers) == len(ACCESS)


async def test_every_route_refuses_the_roles_it_does_not_allow(
    stack: Stack, schema: dict[str, Any], bob_order: str
) -> None:
    answers: dict[tuple[Route, str], int] = {}
    for role, key in ROLE_KEYS.items():
        async with stack.http(key) as http:
            for route in walked(schema):
                if role not in ACCESS[route]:
                    response = await call(http, route, bob_values(bob_order))
                    answers[(route, role)] = response.status_code
    wrong = {case: code for case, code in answers.items() if code != 403}
    assert not wrong, f"expected 403 for a role the route does not allow: {wrong}"
    assert answers, "the table allows every role everywhere"


async def test_every_route_lets_the_roles_it_allows_through(
    stack: Stack, schema: dict[str, Any]
) -> None:
    """Against unknown ids (and bodies that fail later), so nothing changes: an allowed
    caller gets past authorization, and only then is told the order does not exist."""
    answers: dict[tuple[Route, str], int] = {}
    for role, key in ROLE_KEYS.items():
        async with stack.http(key) as http:
            for route in walked(schema):
                if role in ACCESS[route]:
                    body = ALLOWED_BODIES.get(route)
                    response = await call(http, route, UNKNOWN_VALUES, body)
                    answers[(route, role)] = response.status_code
    wrong = {case: code for case, code in answers.items() if code in (401, 403) or code >= 500}
    assert not wrong, f"an allowed role was refused (or failed): {wrong}"
    assert len(answers) == sum(len(roles) for roles in ACCESS.values())


# --- one customer never reaches another's data ---------------------------------------------


OWNED_IDS = {"order_id", "return_id", "customer_id"}


def owned_ids(operation: dict[str, Any]) -> dict[str, str]:
    """The order, return or customer ids an operation takes: {name: "path" | "query"}."""
    return {p["name"]: p["in"] for p in operation.get("parameters", []) if p["name"] in OWNED_IDS}


async def test_a_customer_never_reaches_another_customers_data(
    stack: Stack, schema: dict[str, Any], bob_order: str
) -> None:
    ops = operations(schema)
    cases = [route for route in walked(schema) if owned_ids(ops[route])]
    values = bob_values(bob_order)
    answers: dict[str, int] = {}
    async with stack.http(CUSTOMER_KEY) as http:
        for route in cases:
            where = owned_ids(ops[route])
            query = {name: values[name] for name, place in where.items() if place == "query"}
            response = await call(http, route, values, query=query)
            answers[" ".join(route)] = response.status_code
        # What else these routes take: the live read; placing an order in cus_bob's name.
        extra = {
            "GET /orders/{bob}?consistent=true": await http.get(
                f"/orders/{bob_order}", params={"consistent": "true"}
            ),
            "POST /orders for cus_bob": await http.post(
                "/orders",
                json=order_body(customer="cus_bob"),
                headers={"Idempotency-Key": uuid.uuid4().hex},
            ),
        }
    answers |= {name: response.status_code for name, response in extra.items()}
    leaked = {case: code for case, code in answers.items() if code not in (403, 404)}
    assert not leaked, f"cus_alice's key reached cus_bob's data: {leaked}"
    assert answers["GET /orders"] == 403  # ?customer_id=cus_bob
    assert answers["POST /orders for cus_bob"] == 403
    # Every route with an order, return or customer id in the schema was tried.
    assert len(cases) >= 17, cases


async def listed(http: httpx.AsyncClient, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Every page of `GET /orders` with `params`."""
    rows: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(100):
        paging = {"limit": 200} | ({"cursor": cursor} if cursor else {})
        page = await http.get("/orders", params=params | paging)
        assert page.status_code == 200, page.text
        rows += page.json()["data"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return rows
    raise AssertionError("the order list never ended")


async def test_a_customers_order_list_holds_only_her_orders(
    stack: Stack, bob_order: str, alice_order: str
) -> None:
    async with stack.http(OPERATOR_KEY) as http:
        # Both orders are in the read model (written with their first journal batch).
        for _ in range(100):
            ids = {row["order_id"] for row in await listed(http, {})}
            if {bob_order, alice_order} <= ids:
                break
            await asyncio.sleep(0.1)
        assert {bob_order, alice_order} <= ids
    async with stack.http(CUSTOMER_KEY) as http:
        for params in ({}, {"customer_id": "cus_alice"}, {"order_type": "standard"}):
            rows = await listed(http, params)
            assert {row["customer_id"] for row in rows} == {"cus_alice"}, params
            assert alice_order in {row["order_id"] for row in rows}, params
            assert bob_order not in {row["order_id"] for row in rows}, params
