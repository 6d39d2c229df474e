"""Input that used to make the API answer 500 (or take what the store cannot hold) is refused
at the edge with a 4xx naming the field, echoes nothing, starts nothing, and leaves the
connection usable: deep nesting, NaN, lone surrogates, NUL, duplicate keys, huge integers,
bodies that are not JSON."""

from __future__ import annotations

import asyncio
import json
import uuid
from urllib.parse import urlsplit

import pytest

from tests.api.hostile import (
    JSON,
    assert_nothing_started,
    fresh_customer,
    order_text,
    post_order,
    refused_at,
)
from tests.helpers.keys import OPERATOR_KEY
from tests.helpers.orders import order_body, place
from tests.helpers.stack import Stack

# --- finding 2: nesting deep enough to exhaust the parser's stack -------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 10_000 + b"]" * 10_000,
        b'{"a":' * 5_000 + b"1" + b"}" * 5_000,
        b'{"customer_id": "cus_x", "lines": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
    ],
    ids=["arrays", "objects", "inside-an-order"],
)
async def test_deep_nesting_is_422_not_500(stack: Stack, body: bytes) -> None:
    response = await post_order(stack, body)
    error = refused_at(response, ["body"], "json_too_deep")
    assert "32 levels" in error["msg"]
    assert len(response.content) < 300  # nothing of the body comes back


async def test_deep_nesting_inside_an_otherwise_valid_order(stack: Stack) -> None:
    customer = fresh_customer()
    deep = "[" * 2_000 + "]" * 2_000
    response = await post_order(stack, order_text(customer, line1=deep))
    refused_at(response, ["body"], "json_too_deep")
    await assert_nothing_started(stack, customer)


# --- finding 3: NaN and the other numbers JSON does not have --------------------------------


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
async def test_non_finite_quantity_is_422_naming_it(stack: Stack, number: str) -> None:
    customer = fresh_customer()
    response = await post_order(stack, order_text(customer, quantity=number))
    error = refused_at(response, ["body", "lines", 0, "quantity"], "finite_number")
    assert "finite" in error["msg"]
    await assert_nothing_started(stack, customer)


@pytest.mark.parametrize("digits", [19, 40, 5_000])
async def test_huge_integers_are_422_naming_the_field(stack: Stack, digits: int) -> None:
    customer = fresh_customer()
    response = await post_order(stack, order_text(customer, quantity="9" * digits))
    error = refused_at(response, ["body", "lines", 0, "quantity"], "int_too_large")
    assert f"{digits} digits" in error["msg"]
    assert "9" * 19 not in response.text
    await assert_nothing_started(stack, customer)


# --- finding 4: a lone surrogate ------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [b'"a\\ud800"', b'"\\udfff z"', b'"a\xed\xa0\x80"'],  # escaped, and as raw UTF-8 bytes
    ids=["escape-high", "escape-low", "raw-bytes"],
)
async def test_lone_surrogate_is_422_naming_the_field(stack: Stack, name: bytes) -> None:
    customer = fresh_customer()
    body = order_text(customer, name='"NAME"').replace(b'"NAME"', name)
    response = await post_order(stack, body)
    error = refused_at(response, ["body", "shipping_address", "name"], "string_character")
    assert "lone surrogate" in error["msg"]
    await assert_nothing_started(stack, customer)


async def test_a_surrogate_in_a_key_is_named_escaped(stack: Stack) -> None:
    body = order_body(customer=fresh_customer())
    text = json.dumps(body)[:-1] + ', "x\\ud800": 1}'
    response = await post_order(stack, text.encode())
    refused_at(response, ["body", "x\\ud800"], "string_character")


async def test_a_valid_surrogate_pair_is_an_ordinary_character(stack: Stack) -> None:
    customer = fresh_customer()
    response = await post_order(stack, order_text(customer, name='"Alice \\ud83d\\ude00"'))
    assert response.status_code == 201, response.text


# --- finding 5: NUL and other control characters, on both stores ----------------------------


@pytest.mark.parametrize("char", ["\\u0000", "\\u0007", "\\u001b"])
async def test_control_characters_in_an_address_are_422_on_either_store(
    either_stack: Stack, char: str
) -> None:
    customer = fresh_customer()
    response = await post_order(either_stack, order_text(customer, line1=f'"1 Main{char} St"'))
    error = refused_at(response, ["body", "shipping_address", "line1"], "string_character")
    assert "U+00" in error["msg"]
    await assert_nothing_started(either_stack, customer)


async def test_tabs_and_newlines_are_still_text(stack: Stack) -> None:
    customer = fresh_customer()
    response = await post_order(stack, order_text(customer, line1='"1 Main St\\n\\tBack door"'))
    assert response.status_code == 201, response.text


async def test_nul_in_a_query_value_is_422_on_either_store(either_stack: Stack) -> None:
    async with either_stack.http() as http:
        response = await http.get("/orders?customer_id=cus%00x")
    refused_at(response, ["query", "customer_id"], "string_character")


@pytest.mark.parametrize(
    "path", ["/orders/ord_%00", "/flows/standard%00/1", "/customers/cus%00/rewards"]
)
async def test_nul_in_a_path_is_422_on_either_store(either_stack: Stack, path: str) -> None:
    """PostgreSQL refused the id inside the route's query: a 500."""
    async with either_stack.http() as http:
        response = await http.get(path)
    refused_at(response, ["path"], "string_character")


async def test_nul_in_an_address_correction_is_422(stack: Stack) -> None:
    async with stack.http() as http:
        order_id = (await place(http))["order_id"]
        response = await http.post(
            f"/orders/{order_id}/address",
            content=b'{"shipping_address": {"name": "A", "line1": "x\\u0000", "city": "C",'
            b' "postal_code": "1", "country": "US"}}',
            headers=JSON,
        )
    refused_at(response, ["body", "shipping_address", "line1"])


# --- duplicate keys and bad syntax -----------------------------------------------------------


async def test_duplicate_keys_are_422_naming_the_key(stack: Stack) -> None:
    customer = fresh_customer()
    body = order_text(customer)[:-1] + b', "customer_id": "cus_alice"}'
    response = await post_order(stack, body)
    refused_at(response, ["body", "customer_id"], "duplicate_key")
    await assert_nothing_started(stack, customer)


async def test_invalid_json_is_422_with_the_position_and_no_echo(stack: Stack) -> None:
    secret = "private-" + "y" * 500
    response = await post_order(stack, f'{{"customer_id": "{secret}", "lines": [1,}}'.encode())
    error = refused_at(response, ["body"], "json_invalid")
    assert "line 1 column" in error["msg"]
    assert "private-" not in response.text


# --- finding 8: bodies that are not JSON ----------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "named"),
    [
        ("text/plain", "text/plain"),
        ("text/plain; charset=utf-8", "text/plain"),
        ("application/x-www-form-urlencoded", "application/x-www-form-urlencoded"),
        ("application/xml", "application/xml"),
        (None, "no Content-Type"),
    ],
)
async def test_a_body_that_is_not_json_is_415_without_echo(
    stack: Stack, content_type: str | None, named: str
) -> None:
    customer = fresh_customer()
    body = json.dumps(order_body(customer=customer)).encode()
    headers = {"Content-Type": content_type} if content_type else {}
    response = await post_order(stack, body, headers)
    assert "content-type" not in response.request.headers or content_type
    assert response.status_code == 415, response.text
    assert response.json() == {"detail": f"the request body must be application/json (got {named})"}
    assert customer not in response.text
    await assert_nothing_started(stack, customer)


async def test_json_media_types_with_parameters_are_accepted(stack: Stack) -> None:
    customer = fresh_customer()
    for content_type in ("application/json; charset=utf-8", "Application/JSON"):
        response = await post_order(
            stack,
            json.dumps(order_body(customer=customer)).encode(),
            {"Content-Type": content_type},
        )
        assert response.status_code == 201, response.text


# --- every 422 is encodable and short -------------------------------------------------------


async def test_a_long_value_is_echoed_at_most_80_characters(stack: Stack) -> None:
    customer = "c" * 5_000
    response = await post_order(stack, json.dumps(order_body(customer=customer)).encode())
    error = refused_at(response, ["body", "customer_id"])
    assert len(error["input"]) <= 80
    assert "c" * 81 not in response.text


# --- the connection goes on after a refusal ----------------------------------------------------


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str, body: bytes, **headers
) -> tuple[int, dict[str, str], bytes]:
    """One request and its whole response, over an open connection."""
    lines = [
        f"POST {path} HTTP/1.1",
        "Host: oms",
        f"Authorization: Bearer {OPERATOR_KEY}",
        f"Content-Length: {len(body)}",
        *(f"{name.replace('_', '-')}: {value}" for name, value in headers.items()),
    ]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    await writer.drain()
    head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)).decode("latin-1")
    status_line, *fields = head.strip().split("\r\n")
    found = {k.lower(): v.strip() for k, v in (f.split(":", 1) for f in fields)}
    content = await reader.readexactly(int(found["content-length"]))
    return int(status_line.split()[1]), found, content


async def test_the_connection_serves_the_next_request_after_each_refusal(stack: Stack) -> None:
    customer = fresh_customer()
    url = urlsplit(stack.base_url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    refusals = [
        (b"[" * 10_000 + b"]" * 10_000, "application/json", 422),
        (order_text(customer, quantity="NaN"), "application/json", 422),
        (order_text(customer, name='"a\\ud800"'), "application/json", 422),
        (order_text(customer, line1='"a\\u0000"'), "application/json", 422),
        (b"not json at all", "text/plain", 415),
    ]
    try:
        for body, content_type, expected in refusals:
            status, found, _ = await exchange(
                reader, writer, "/orders", body, Content_Type=content_type, Idempotency_Key="k"
            )
            assert status == expected
            assert found.get("connection") != "close"
        body = json.dumps(order_body(customer=customer)).encode()
        status, _, content = await exchange(
            reader,
            writer,
            "/orders",
            body,
            Content_Type="application/json",
            Idempotency_Key=uuid.uuid4().hex,
        )
        assert status == 201, content
    finally:
        writer.close()
