"""The facts about an order that a flow step's `when` condition reads."""

from __future__ import annotations

from typing import Any

from domain.orders import Order


def order_facts(order: Order) -> dict[str, Any]:
    """The order's own facts, and what its call steps answered as `facts.<name>`."""
    return {
        **{f"facts.{name}": value for name, value in order.facts.items()},
        "total_minor": order.total_minor,
        "line_count": len(order.lines),
        "item_count": sum(line.active_quantity for line in order.lines),
        "country": order.shipping_address.country,
        "customer_id": order.customer_id,
        "order_type": order.order_type,
    }
