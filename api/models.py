"""Request and response bodies of the API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.addresses import Address
from domain.events import JournalEvent
from domain.flows import FlowDefinition

# Flow versions are 32-bit integers in the store: a larger one can name no flow (a 422).
MAX_FLOW_VERSION = 2**31 - 1


class Strict(BaseModel):
    # Unknown fields are refused, so a client-sent `price` is a 422 naming the field.
    model_config = ConfigDict(extra="forbid")


class LineCreate(Strict):
    sku: str = Field(min_length=1, max_length=64)
    quantity: int = Field(gt=0, le=1000, description="1 to 1000 units")


class PaymentCreate(Strict):
    token: str = Field(
        pattern=r"^tok_[A-Za-z0-9_]{2,60}$", description="a gateway token such as tok_visa"
    )


class AddressCreate(Address):
    model_config = ConfigDict(extra="forbid")


class OrderCreate(Strict):
    customer_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")
    lines: list[LineCreate] = Field(min_length=1, max_length=100)
    shipping_address: AddressCreate
    payment: PaymentCreate
    order_type: str = Field("standard", max_length=40)
    flow_version: int | None = Field(
        None,
        ge=1,
        le=MAX_FLOW_VERSION,
        description="run this version of the order type's flow; default: the latest",
    )


class OrderEventsPublic(BaseModel):
    data: list[JournalEvent]
    count: int


class Price(BaseModel):
    amount_minor: int
    currency: str


class CatalogItemPublic(BaseModel):
    sku: str
    name: str
    kind: Literal["physical", "digital"]
    release_date: date | None = Field(None, description="a preorder ships from this day on")
    price: Price
    stock: dict[str, int] = Field(description="per warehouse: what can ship; none if digital")
    pickup_stock: dict[str, int] = Field(description="per store: what can be picked up")


class CatalogPublic(BaseModel):
    data: list[CatalogItemPublic]
    count: int


class Health(BaseModel):
    status: str
    api: str
    temporal: str
    store: str
    broker: str = "not configured"  # NATS JetStream, when OMS_NATS_URL names one


class FlowVersionPublic(FlowDefinition):
    created_at: datetime
    retired: bool = Field(description="a retired version takes no new orders")


class FlowsPublic(BaseModel):
    data: list[FlowVersionPublic]
    count: int


class FlowDiagram(BaseModel):
    mermaid: str = Field(description="a Mermaid `flowchart TD`")
