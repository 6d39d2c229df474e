"""What an order's statuses can be, and why a cancelled order was cancelled.

`OrderStatus`, `FinancialStatus` and `FulfillmentStatus` are never set by hand: they are
derived from the order in `domain.view`.
"""

from __future__ import annotations

from enum import StrEnum


class OrderStatus(StrEnum):
    RECEIVED = "RECEIVED"
    PROCESSING = "PROCESSING"
    ON_HOLD = "ON_HOLD"
    NEEDS_REVIEW = "NEEDS_REVIEW"
    FULFILLING = "FULFILLING"
    PARTIALLY_SHIPPED = "PARTIALLY_SHIPPED"
    SHIPPED = "SHIPPED"
    DELIVERED = "DELIVERED"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"


TERMINAL_STATUSES = frozenset({OrderStatus.COMPLETED, OrderStatus.CANCELLED, OrderStatus.FAILED})


class FinancialStatus(StrEnum):
    PENDING = "PENDING"
    AUTHORIZED = "AUTHORIZED"
    PARTIALLY_PAID = "PARTIALLY_PAID"
    PAID = "PAID"
    PARTIALLY_REFUNDED = "PARTIALLY_REFUNDED"
    REFUNDED = "REFUNDED"
    VOIDED = "VOIDED"
    NOT_CHARGED = "NOT_CHARGED"  # ended without ever taking or holding money


class FulfillmentStatus(StrEnum):
    UNFULFILLED = "UNFULFILLED"
    PARTIALLY_FULFILLED = "PARTIALLY_FULFILLED"
    FULFILLED = "FULFILLED"


class CancelReason(StrEnum):
    """Shopify's cancel reasons, plus PAYMENT_DECLINED for the automatic decline path."""

    CUSTOMER = "CUSTOMER"
    FRAUD = "FRAUD"
    INVENTORY = "INVENTORY"
    DECLINED = "DECLINED"
    STAFF = "STAFF"
    OTHER = "OTHER"
    PAYMENT_DECLINED = "PAYMENT_DECLINED"
