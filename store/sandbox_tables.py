"""The sandbox adapters' own records: what a real card network or carrier would keep on its
side (authorizations and the gateway's keyed ledger, the carrier's bookings and return
labels). The OMS reads them only through the adapters."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from store.tables import Base


class PaymentAuthorization(Base):
    """The sandbox gateway's view of one authorization and the money moved against it."""

    __tablename__ = "payment_authorizations"

    authorization_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(64), index=True)
    token: Mapped[str] = mapped_column(String(80))
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    captured_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(20))  # authorized | voided | captured
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PaymentOperation(Base):
    """The ledger: one row per gateway request, keyed by its idempotency key."""

    __tablename__ = "payment_operations"

    idempotency_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # authorize | capture | void | refund
    request_hash: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[str] = mapped_column(String(64), index=True)
    authorization_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    outcome: Mapped[str] = mapped_column(String(20))  # succeeded | declined
    response: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class GatewayAttempt(Base):
    """How often the sandbox gateway has seen a key; drives `tok_flaky`'s transient failures."""

    __tablename__ = "gateway_attempts"

    idempotency_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer)


class CarrierShipment(Base):
    """The carrier's side of a booked shipment; the simulated carrier advances these rows."""

    __tablename__ = "carrier_shipments"

    shipment_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(64), index=True)
    warehouse: Mapped[str] = mapped_column(String(32))
    tracking_number: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))  # booked | dispatched | delivered | cancelled
    next_event_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CarrierReturnLabel(Base):
    """The carrier's side of a return: a prepaid label, issued once per return id."""

    __tablename__ = "carrier_return_labels"

    return_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(64), index=True)
    warehouse: Mapped[str] = mapped_column(String(32))
    tracking_number: Mapped[str] = mapped_column(String(64))
    label_url: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
