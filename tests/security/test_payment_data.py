"""Payment data: only tokens. A card number anywhere in a request (body or query) is a 422
naming the field, without echoing it; afterwards it is nowhere in the store, the journal, the
order's workflow history or the logs (captured at INFO, SQL statements included)."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import inspect, text

from tests.helpers.keys import (
    CARRIER_KEY,
    CUSTOMER_KEY,
    OPERATOR_KEY,
    OTHER_CUSTOMER_KEY,
    WAREHOUSE_KEY,
)
from tests.helpers.orders import order_body, place
from tests.helpers.stack import Stack

pytestmark = pytest.mark.security

VISA = "4111111111111111"
VISA_SPACED = "4111 1111 1111 1111"
MASTERCARD_DASHED = "5555-5555-5555-4444"
AMEX = "378282246310005"
DISCOVER = "6011111111111117"
JCB = "3530111333300000"
SENT = [VISA, VISA_SPACED, MASTERCARD_DASHED, AMEX, DISCOVER, JCB]
# Every form a number could be kept in: as sent, and its digits alone.
FORMS = sorted({*SENT, *(pan.replace(" ", "").replace("-", "") for pan in SENT)})
API_KEYS = [OPERATOR_KEY, CUSTOMER_KEY, OTHER_CUSTOMER_KEY, CARRIER_KEY, WAREHOUSE_KEY]
LOGGERS = ("", "uvicorn", "uvicorn.error", "uvicorn.access", "sqlalchemy.engine")


@pytest.fixture(scope="module")
def captured_logs() -> Iterator[io.StringIO]:
    """Everything the API, the worker and the libraries log while this module runs, at INFO
    (so uvicorn's access lines and SQLAlchemy's statements with their parameters too)."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    handler.setLevel(logging.INFO)
    # The tests' own HTTP client logs each URL it requests, query string and all; that is
    # the caller's log, not the API's.
    handler.addFilter(lambda record: not record.name.startswith(("httpx", "httpcore")))
    saved = {}
    for name in LOGGERS:
        logger = logging.getLogger(name)
        saved[name] = logger.level
        logger.setLevel(logging.INFO)
        if not name or not logger.propagate:  # uvicorn's loggers do not reach the root
            logger.addHandler(handler)
    yield buffer
    for name in LOGGERS:
        logger = logging.getLogger(name)
        logger.removeHandler(handler)
        logger.setLevel(saved[name])


@pytest.fixture(scope="module")
async def alice_order(stack: Stack, captured_logs: io.StringIO) -> str:
    async with stack.http(CUSTOMER_KEY) as http:
        order_id = (await place(http, order_body(customer="cus_alice")))["order_id"]
    # The scans below read what the order wrote: its first journal batch included.
    async with stack.http(OPERATOR_KEY) as http:
        for _ in range(100):
            journal = await http.get(f"/orders/{order_id}/events")
            if journal.status_code == 200 and journal.json()["count"]:
                return order_id
            await asyncio.sleep(0.1)
    raise AssertionError(f"order {order_id} wrote no journal")


def assert_refused(response: httpx.Response, loc: list[Any]) -> None:
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert [entry["loc"] for entry in detail] == [loc], detail
    assert detail[0]["type"] == "value_error"
    assert "card number" in detail[0]["msg"]
    for form in FORMS:
        assert form not in response.text, "the refusal echoes the number"


def with_line2(value: str) -> dict[str, Any]:
    body = order_body(customer="cus_alice")
    body["shipping_address"]["line2"] = value
    return body


async def test_card_number_as_payment_token(stack: Stack, captured_logs: io.StringIO) -> None:
    key = uuid.uuid4().hex
    async with stack.http(CUSTOMER_KEY) as http:
        refused = await http.post(
            "/orders", json=order_body(token=VISA), headers={"Idempotency-Key": key}
        )
        assert_refused(refused, ["body", "payment", "token"])
        # The key was never claimed: the same key with a token places the order.
        placed = await http.post("/orders", json=order_body(), headers={"Idempotency-Key": key})
    assert placed.status_code == 201, placed.text


async def test_card_number_in_the_address(stack: Stack, captured_logs: io.StringIO) -> None:
    async with stack.http(CUSTOMER_KEY) as http:
        response = await http.post(
            "/orders",
            json=with_line2(f"card {VISA_SPACED} exp 12/30"),
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
    assert_refused(response, ["body", "shipping_address", "line2"])


async def test_card_number_in_a_cancel_note(stack: Stack, alice_order: str) -> None:
    async with stack.http(CUSTOMER_KEY) as http:
        response = await http.post(
            f"/orders/{alice_order}/cancel",
            json={"reason": "CUSTOMER", "note": f"refund to {MASTERCARD_DASHED} please"},
        )
    assert_refused(response, ["body", "note"])


async def test_card_number_in_a_return_reason(stack: Stack, alice_order: str) -> None:
    async with stack.http(CUSTOMER_KEY) as http:
        response = await http.post(
            f"/orders/{alice_order}/returns",
            json={"lines": [{"line_id": "ln_1", "quantity": 1}], "reason": AMEX},
        )
    assert_refused(response, ["body", "reason"])


async def test_card_number_in_the_query_string(stack: Stack, captured_logs: io.StringIO) -> None:
    async with stack.http(OPERATOR_KEY) as http:
        response = await http.get("/orders", params={"order_type": DISCOVER})
    assert_refused(response, ["query", "order_type"])


async def test_card_number_anywhere_else(stack: Stack, alice_order: str) -> None:
    """The check is one middleware, not per route: a carrier note, a number-typed field,
    a body that is not JSON at all."""
    async with stack.http(CARRIER_KEY) as http:
        note = await http.post(
            f"/shipments/{alice_order}-1/events", json={"status": "in_transit", "note": JCB}
        )
    assert_refused(note, ["body", "note"])
    async with stack.http(OPERATOR_KEY) as http:
        number = await http.post(
            f"/orders/{alice_order}/appeasements",
            json={"amount_minor": int(VISA), "reason": "goodwill"},
        )
        raw = await http.post(
            f"/orders/{alice_order}/hold",
            content=f"reason=OTHER card={VISA}".encode(),
            headers={"Content-Type": "text/plain"},
        )
    assert_refused(number, ["body", "amount_minor"])
    assert_refused(raw, ["body"])


async def test_payment_token_must_look_like_a_token(stack: Stack) -> None:
    async with stack.http(CUSTOMER_KEY) as http:
        for token in ("visa", "card_4111", "tok_", "tok_../../x"):
            response = await http.post(
                "/orders", json=order_body(token=token), headers={"Idempotency-Key": token}
            )
            assert response.status_code == 422, response.text
            assert response.json()["detail"][0]["loc"] == ["body", "payment", "token"]


# --- afterwards: nowhere ---------------------------------------------------------------------


def found_in(text_value: str) -> list[str]:
    return [form for form in FORMS if form in text_value]


async def store_contents(stack: Stack) -> dict[str, list[str]]:
    """Every table, every column, every row, as text (JSON values serialized)."""

    def read(connection) -> dict[str, list[str]]:  # noqa: ANN001
        inspector = inspect(connection)
        contents: dict[str, list[str]] = {}
        for table in inspector.get_table_names():
            columns = [column["name"] for column in inspector.get_columns(table)]
            quoted = ", ".join(f'"{name}"' for name in columns)
            rows = connection.execute(text(f'SELECT {quoted} FROM "{table}"')).all()
            contents[table] = [
                json.dumps(value, default=str) if not isinstance(value, str) else value
                for row in rows
                for value in row
                if value is not None
            ]
        return contents

    async with stack.store.engine.connect() as connection:
        return await connection.run_sync(read)


def payload_texts(node: Any) -> Iterator[str]:
    """Every payload's data in a history as JSON, decoded from base64."""
    if isinstance(node, dict):
        if isinstance(node.get("data"), str) and "metadata" in node:
            try:
                yield base64.b64decode(node["data"]).decode("utf-8", errors="replace")
            except ValueError:
                yield node["data"]
        for value in node.values():
            yield from payload_texts(value)
    elif isinstance(node, list):
        for value in node:
            yield from payload_texts(value)


async def test_the_numbers_are_stored_journaled_and_logged_nowhere(
    stack: Stack, alice_order: str, captured_logs: io.StringIO
) -> None:
    contents = await store_contents(stack)
    assert {"orders", "order_events", "order_list", "payment_authorizations"} <= set(contents)
    everything = "\n".join(value for values in contents.values() for value in values)
    assert alice_order in everything, "the scan reads nothing"
    leaks = {
        table: forms for table, values in contents.items() if (forms := found_in("\n".join(values)))
    }
    assert not leaks, f"card numbers in the store: {leaks}"

    async with stack.http(OPERATOR_KEY) as http:
        journal = await http.get(f"/orders/{alice_order}/events")
    assert journal.status_code == 200 and journal.json()["count"] >= 1
    assert not found_in(journal.text), "card number in the journal"

    history = await stack.client.get_workflow_handle(f"order-{alice_order}").fetch_history()
    decoded = "\n".join(payload_texts(history.to_json_dict()))
    assert alice_order in decoded, "the history's payloads were not read"
    assert not found_in(decoded + history.to_json()), "card number in the workflow history"

    logs = captured_logs.getvalue()
    assert "card number in body.payment.token" in logs, "the refusals were not logged"
    assert "uvicorn.access" in logs and "/orders?order_type=" in logs, "no access log captured"
    assert "INSERT INTO" in logs, "no SQL statements captured"
    assert not found_in(logs), "card number in the logs"
    assert not [key for key in API_KEYS if key in logs], "an API key in the logs"
