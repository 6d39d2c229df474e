"""Derived statuses: computed from line buckets, payment and flow position, never stored."""

from __future__ import annotations

from domain.orders import FinancialStatus, FulfillmentStatus, Order, OrderStatus


def order_status(order: Order) -> OrderStatus:
    if order.outcome is not None:
        return order.outcome
    if order.review is not None:
        return OrderStatus.NEEDS_REVIEW
    if order.holds:
        return OrderStatus.ON_HOLD
    active = sum(line.active_quantity for line in order.lines)
    delivered = sum(line.buckets.delivered + line.buckets.returned for line in order.lines)
    shipped = delivered + sum(line.buckets.shipped for line in order.lines)
    if active and delivered == active:
        return OrderStatus.DELIVERED
    if active and shipped == active:
        return OrderStatus.SHIPPED
    if shipped:
        return OrderStatus.PARTIALLY_SHIPPED
    if order.current_stage == "fulfillment":
        return OrderStatus.FULFILLING
    if order.current_step is None:
        return OrderStatus.RECEIVED
    return OrderStatus.PROCESSING


def financial_status(order: Order) -> FinancialStatus:
    payment = order.payment
    if payment.refunded_minor:
        if payment.refunded_minor >= payment.captured_minor:
            return FinancialStatus.REFUNDED
        return FinancialStatus.PARTIALLY_REFUNDED
    if payment.captured_minor:
        if payment.captured_minor >= order.total_minor:
            return FinancialStatus.PAID
        return FinancialStatus.PARTIALLY_PAID
    if payment.voided:
        return FinancialStatus.VOIDED
    if payment.authorized_minor:
        return FinancialStatus.AUTHORIZED
    return FinancialStatus.PENDING


def fulfillment_status(order: Order) -> FulfillmentStatus:
    active = sum(line.active_quantity for line in order.lines)
    sent = sum(
        line.buckets.shipped + line.buckets.delivered + line.buckets.returned
        for line in order.lines
    )
    if active and sent >= active:
        return FulfillmentStatus.FULFILLED
    if sent:
        return FulfillmentStatus.PARTIALLY_FULFILLED
    return FulfillmentStatus.UNFULFILLED
