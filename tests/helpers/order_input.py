"""Workflow inputs built without the API or a store: the flows as seeded, an `OrderInput`
priced as `api.placement.price_order` prices one, and `placed()`, an order of two mugs and
a lamp for tests of what its view shows."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import NamedTuple

from domain.addresses import Address
from domain.flows import FlowDefinition
from domain.lines import ItemKind, PricedLine
from domain.order_state import OrderInput, place
from domain.orders import Order
from domain.returns import ConcessionTerms

FLOWS = Path(__file__).resolve().parents[2] / "store" / "seed" / "flows"

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ADDRESS = {"name": "Ada", "line1": "1 Main St", "city": "Springfield", "postal_code": "1"}


def seed_flow(order_type: str, version: int = 1) -> FlowDefinition:
    """A flow definition as the store seeds it (`store/seed/flows/{type}.v{version}.json`)."""
    text = (FLOWS / f"{order_type}.v{version}.json").read_text()
    return FlowDefinition.model_validate(json.loads(text))


class Item(NamedTuple):
    """A line of `order_input`: a catalog item at its catalog price, and how many of it."""

    sku: str
    unit_price_minor: int
    quantity: int = 1
    kind: ItemKind = "physical"


def order_input(
    order_id: str,
    flow: FlowDefinition,
    lines: list[Item],
    *,
    token: str = "tok_visa",
    customer_id: str = "cus_alice",
    review_sla_s: int = 48 * 3600,
    concessions: ConcessionTerms | None = None,
) -> OrderInput:
    """What `price_order` starts an order with: lines numbered `ln_1`, `ln_2`, ... at the
    given catalog prices, the flow's snapshot, the order's time limits."""
    return OrderInput(
        order_id=order_id,
        customer_id=customer_id,
        order_type=flow.type,
        currency="USD",
        lines=[
            PricedLine(
                line_id=f"ln_{index + 1}",
                sku=sku,
                name=sku.lower(),
                unit_price_minor=price,
                quantity=quantity,
                kind=kind,
            )
            for index, (sku, price, quantity, kind) in enumerate(lines)
        ],
        shipping_address=Address.model_validate(ADDRESS | {"country": "US"}),
        payment_token=token,
        placed_at=datetime.now(UTC),
        flow=flow,
        review_sla_s=review_sla_s,
        concessions=concessions or ConcessionTerms(),
    )


def placed(release_date: date | None = None) -> Order:
    """Two mugs (12.00 each) and a lamp (39.00): 63.00."""
    return place(
        OrderInput(
            order_id="ord_view",
            customer_id="cus_view",
            order_type="standard",
            currency="USD",
            lines=[
                PricedLine(
                    line_id="ln_1", sku="MUG", name="mug", unit_price_minor=1200, quantity=2
                ),
                PricedLine(
                    line_id="ln_2",
                    sku="LAMP",
                    name="lamp",
                    unit_price_minor=3900,
                    quantity=1,
                    release_date=release_date,
                ),
            ],
            shipping_address=ADDRESS | {"country": "US"},
            payment_token="tok_visa",
            placed_at=NOW,
            flow=seed_flow("standard", 2),
        )
    )
