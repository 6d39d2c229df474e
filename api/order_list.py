"""The order list: filtered, paged with an opaque cursor, answered from the projection.

Customers see their own orders only; operators see everyone's and may filter by customer.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, field_validator

from api.deps import ShopPrincipal, StoreDep, invalid
from domain.statuses import FinancialStatus, FulfillmentStatus, OrderStatus
from store import order_list
from store.db import utc
from store.order_list import OrderFilter, Position

router = APIRouter(prefix="/orders", tags=["orders"])


class OrderSummary(BaseModel):
    order_id: str
    customer_id: str
    order_type: str
    flow_version: int
    status: OrderStatus
    financial_status: FinancialStatus
    fulfillment_status: FulfillmentStatus
    current_step: str | None
    needs_review: bool
    review_escalated: bool
    line_count: int
    item_count: int
    currency: str
    total_minor: int
    captured_minor: int
    refunded_minor: int
    placed_at: datetime
    updated_at: datetime

    @field_validator("placed_at", "updated_at")
    @classmethod
    def _in_utc(cls, moment: datetime) -> datetime:
        return utc(moment)  # SQLite gives its timestamps back without their zone


class OrderPage(BaseModel):
    data: list[OrderSummary]
    count: int
    next_cursor: str | None = None


def encode_cursor(position: Position) -> str:
    raw = json.dumps([position.placed_at.isoformat(), position.order_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> Position:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        placed_at, order_id = json.loads(raw)
        return Position(placed_at=datetime.fromisoformat(placed_at), order_id=str(order_id))
    except (binascii.Error, ValueError, TypeError) as error:
        raise invalid(
            ("query", "cursor"), "not a cursor this API handed out (next_cursor)", cursor
        ) from error


@router.get("", response_model=OrderPage)
async def list_orders(
    principal: ShopPrincipal,
    store: StoreDep,
    status_: Annotated[
        list[OrderStatus] | None,
        Query(alias="status", description="repeat for several: status=ON_HOLD&status=NEEDS_REVIEW"),
    ] = None,
    customer_id: Annotated[str | None, Query(max_length=64)] = None,
    order_type: Annotated[str | None, Query(max_length=40)] = None,
    created_at_min: Annotated[datetime | None, Query(description="placed at or after")] = None,
    created_at_max: Annotated[datetime | None, Query(description="placed before")] = None,
    needs_review: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> OrderPage:
    if principal.role == "customer":
        if customer_id not in (None, principal.customer_id):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "customers list their own orders only")
        customer_id = principal.customer_id
    for name, moment in (("created_at_min", created_at_min), ("created_at_max", created_at_max)):
        if moment is not None and moment.tzinfo is None:
            raise invalid(("query", name), "give a time zone, e.g. 2026-11-24T10:00:00Z", moment)
    if created_at_min and created_at_max and utc(created_at_min) >= utc(created_at_max):
        raise invalid(("query", "created_at_max"), "must be after created_at_min", created_at_max)
    where = OrderFilter(
        statuses=[s.value for s in status_ or []],
        customer_id=customer_id,
        order_type=order_type,
        placed_from=created_at_min,
        placed_to=created_at_max,
        needs_review=needs_review,
    )
    after = decode_cursor(cursor) if cursor else None
    rows, more = await order_list.page(store, where, limit, after)
    data = [OrderSummary.model_validate(row, from_attributes=True) for row in rows]
    return OrderPage(data=data, count=len(data), next_cursor=encode_cursor(more) if more else None)
