"""Request and response bodies of the API."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from domain.events import JournalEvent
from domain.orders import Address


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


class OrderEventsPublic(BaseModel):
    data: list[JournalEvent]
    count: int


class Price(BaseModel):
    amount_minor: int
    currency: str


class CatalogItemPublic(BaseModel):
    sku: str
    name: str
    price: Price
    stock: dict[str, int]


class CatalogPublic(BaseModel):
    data: list[CatalogItemPublic]
    count: int


class Health(BaseModel):
    status: str
    api: str
    temporal: str
    store: str
