"""The store's tables. Alembic migrations in `store/migrations` create them."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from domain.events import JournalEvent
from store.db import utc


class Base(DeclarativeBase):
    pass


class CatalogItem(Base):
    __tablename__ = "catalog_items"

    sku: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    price_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    # physical | digital; the server default fills rows older than the column.
    kind: Mapped[str] = mapped_column(String(16), default="physical", server_default="physical")
    release_date: Mapped[date | None] = mapped_column(Date, nullable=True)  # preorders


class Warehouse(Base):
    __tablename__ = "warehouses"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    # warehouse (ships) | store (pickup); the server default fills rows older than the column.
    kind: Mapped[str] = mapped_column(String(16), default="warehouse", server_default="warehouse")


class StockLevel(Base):
    __tablename__ = "stock_levels"
    __table_args__ = (CheckConstraint("available >= 0", name="stock_not_negative"),)

    sku: Mapped[str] = mapped_column(ForeignKey("catalog_items.sku"), primary_key=True)
    warehouse: Mapped[str] = mapped_column(ForeignKey("warehouses.code"), primary_key=True)
    available: Mapped[int] = mapped_column(Integer)


class Reservation(Base):
    """One reserved quantity of one SKU in one warehouse; `released` once given back."""

    __tablename__ = "reservations"

    reservation_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), primary_key=True)
    warehouse: Mapped[str] = mapped_column(String(32), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(64), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    released: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Order(Base):
    """The API's record of an accepted order: who owns it and which key created it."""

    __tablename__ = "orders"
    __table_args__ = (UniqueConstraint("owner", "idempotency_key", name="orders_idempotency"),)

    order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(64), index=True)
    order_type: Mapped[str] = mapped_column(String(40))
    owner: Mapped[str] = mapped_column(String(80))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class OrderEvent(Base):
    __tablename__ = "order_events"

    order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(120))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    data: Mapped[dict] = mapped_column(JSON)
    # The order's view after this event, on the last event of each written batch: what
    # the read model is rebuilt from.
    snapshot: Mapped[dict | None] = mapped_column(JSON(none_as_null=True), nullable=True)

    def as_event(self) -> JournalEvent:
        return JournalEvent(
            order_id=self.order_id,
            seq=self.seq,
            type=self.type,
            at=utc(self.at),
            actor=self.actor,
            reason=self.reason,
            data=self.data,
        )


class ReservationRelease(Base):
    """A partial release of a reservation (a cancelled line), keyed so a retry is a no-op."""

    __tablename__ = "reservation_releases"

    release_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    reservation_id: Mapped[str] = mapped_column(String(120), index=True)
    warehouse: Mapped[str] = mapped_column(String(32))
    items: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReviewQueueEntry(Base):
    """Projection of the journal: orders waiting for a human decision."""

    __tablename__ = "review_queue"

    order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    step: Mapped[str] = mapped_column(String(60))
    kind: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text)
    since: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    escalated: Mapped[bool] = mapped_column(default=False)


class OrderListEntry(Base):
    """Projection of the journal: one row per order, what the order list filters and shows.

    `seq` is the last journal event applied; an older batch arriving late changes nothing.
    """

    __tablename__ = "order_list"
    __table_args__ = (
        Index("ix_order_list_placed", "placed_at", "order_id"),
        Index("ix_order_list_customer_placed", "customer_id", "placed_at", "order_id"),
        Index("ix_order_list_status_placed", "status", "placed_at", "order_id"),
    )

    order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(64))
    order_type: Mapped[str] = mapped_column(String(40), index=True)
    flow_version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    financial_status: Mapped[str] = mapped_column(String(30))
    fulfillment_status: Mapped[str] = mapped_column(String(30))
    current_step: Mapped[str | None] = mapped_column(String(60), nullable=True)
    needs_review: Mapped[bool] = mapped_column(Boolean, index=True)
    review_escalated: Mapped[bool] = mapped_column(Boolean)
    line_count: Mapped[int] = mapped_column(Integer)
    item_count: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    total_minor: Mapped[int] = mapped_column(BigInteger)
    captured_minor: Mapped[int] = mapped_column(BigInteger)
    refunded_minor: Mapped[int] = mapped_column(BigInteger)
    placed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    seq: Mapped[int] = mapped_column(Integer)
    view: Mapped[dict] = mapped_column(JSON)


class OrderLineBuckets(Base):
    """Projection of the journal: where each line's units are, one row per order line."""

    __tablename__ = "order_line_buckets"

    order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    line_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    pending: Mapped[int] = mapped_column(Integer)
    reserved: Mapped[int] = mapped_column(Integer)
    shipped: Mapped[int] = mapped_column(Integer)
    delivered: Mapped[int] = mapped_column(Integer)
    cancelled: Mapped[int] = mapped_column(Integer)
    returned: Mapped[int] = mapped_column(Integer)
    refunded: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)


class LicenseKey(Base):
    """One license key per digital unit, issued once: (order, line, unit) is the key."""

    __tablename__ = "license_keys"

    order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    line_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    unit: Mapped[int] = mapped_column(Integer, primary_key=True)
    sku: Mapped[str] = mapped_column(String(64))
    license_key: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Notification(Base):
    """The outbox of messages to customers; a retried send finds its row and stops."""

    __tablename__ = "notifications"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(64), index=True)
    customer_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class FlowDefinitionRecord(Base):
    """One registered version of an order type's flow; versions are never edited, only retired."""

    __tablename__ = "flow_definitions"

    type: Mapped[str] = mapped_column(String(40), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    definition: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    retired: Mapped[bool] = mapped_column(Boolean, default=False)
    # "order": takes orders; "fragment": only included by other flows. A type is one or the other.
    kind: Mapped[str] = mapped_column(String(16), default="order", server_default="order")


class Restock(Base):
    """Returned units put back on sale in one warehouse, keyed so a retry adds nothing."""

    __tablename__ = "restocks"

    restock_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    warehouse: Mapped[str] = mapped_column(String(32))
    items: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RewardEntryRecord(Base):
    """The loyalty ledger: one row per key; claw-backs are negative, pending until granted."""

    __tablename__ = "reward_entries"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(64), index=True)
    order_id: Mapped[str] = mapped_column(String(64), index=True)
    line_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    kind: Mapped[str] = mapped_column(String(20))  # awarded | clawed_back
    points: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))  # pending | granted
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    granted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ShopEndpoint(Base):
    """A service of the shop's own that flow steps call (store/endpoints.py); registering a
    name again moves it, so orders that call it by name follow."""

    __tablename__ = "shop_endpoints"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    url: Mapped[str] = mapped_column(String(2048))
    timeout_s: Mapped[float] = mapped_column()
    # Sealed with the payload key when one is set: then `secret_key_id` names that key.
    secret: Mapped[str] = mapped_column(String(1024))
    secret_key_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class JournalOutbox(Base):
    """A journal event still to publish, written in the append's transaction (store/outbox.py);
    the relay (oms/relay.py) deletes it once the broker has acknowledged the event."""

    __tablename__ = "journal_outbox"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    order_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # the append's time


class RelayLease(Base):
    """Which relay publishes the outbox, until when; the others wait for it to lapse."""

    __tablename__ = "relay_lease"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
