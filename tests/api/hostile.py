"""What the hostile-input tests share: an order as JSON text with raw values spliced in, and
the checks that a refusal names its field and started nothing."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
from sqlalchemy import func, select

from store.tables import Order
from tests.helpers.orders import ADDRESS, order_body
from tests.helpers.stack import Stack

JSON = {"Content-Type": "application/json"}


def fresh_customer() -> str:
    return f"cus_hostile_{uuid.uuid4().hex[:12]}"


def order_text(customer: str, **raw: str) -> bytes:
    """A valid order as JSON text, with the raw JSON text of `raw` spliced in as the value of
    the placeholders `@name@` (so that NaN, bad escapes and duplicates can be sent)."""
    body = order_body(customer=customer)
    body["lines"][0]["quantity"] = "@quantity@"
    for field in ADDRESS:
        body["shipping_address"][field] = f"@{field}@"
    text = json.dumps(body)
    defaults = {"quantity": "1"} | {f: json.dumps(v) for f, v in ADDRESS.items()}
    for name, value in (defaults | raw).items():
        text = text.replace(f'"@{name}@"', value)
    return text.encode()


async def post_order(
    stack: Stack, content: bytes, headers: dict[str, str] | None = None
) -> httpx.Response:
    async with stack.http() as http:
        return await http.post(
            "/orders",
            content=content,
            headers={"Idempotency-Key": uuid.uuid4().hex} | (JSON if headers is None else headers),
        )


async def assert_nothing_started(stack: Stack, customer: str) -> None:
    async with stack.store.read() as session:
        rows = await session.scalar(
            select(func.count()).select_from(Order).where(Order.customer_id == customer)
        )
    assert rows == 0, f"{rows} orders stored for {customer}"
    runs = await stack.client.count_workflows(f"CustomerId = '{customer}'")
    assert runs.count == 0, f"{runs.count} workflows started for {customer}"
    async with stack.http() as http:
        listed = await http.get("/orders", params={"customer_id": customer})
    assert listed.status_code == 200 and listed.json()["data"] == [], listed.text


def refused_at(response: httpx.Response, loc: list[Any], kind: str | None = None) -> dict:
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    matching = [e for e in detail if e["loc"] == loc and (kind is None or e["type"] == kind)]
    assert matching, f"nothing refused at {loc}: {detail}"
    assert all(len(str(e.get("input", ""))) <= 80 for e in detail), detail
    return matching[0]
