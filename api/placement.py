"""Turning an `OrderCreate` into an `OrderInput`: the flow snapshot and catalog prices."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.exceptions import RequestValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import invalid
from api.models import OrderCreate
from domain.addresses import Address
from domain.flows import FlowDefinition
from domain.lines import PricedLine
from domain.order_state import OrderInput
from domain.payment import FraudThresholds
from domain.returns import ConcessionTerms
from store import flows
from store.catalog import items_by_sku
from store.db import Store


async def resolve_flow(
    source: Store | AsyncSession, order_type: str, version: int | None
) -> FlowDefinition:
    """The registry's flow for a new order: the given version, else the type's latest, its
    fragment includes expanded against the registry now."""
    flow = await flows.resolve(source, order_type, version)
    if flow is not None and flow.kind == "fragment":
        raise invalid(
            ("body", "order_type"),
            f"{order_type} is a fragment, included by order types; it takes no orders",
            order_type,
        )
    if flow is not None:
        try:
            return await flows.expand_for_order(source, flow)
        except flows.FlowInvalid as refused:
            raise invalid(
                ("body", "order_type"),
                f"{order_type} v{flow.version} cannot run with the fragments registered now: "
                + "; ".join(refused.errors),
                order_type,
            ) from refused
    if await flows.latest(source, order_type) is None:
        known = ", ".join(await flows.types(source))
        raise invalid(("body", "order_type"), f"unknown order type; known: {known}", order_type)
    usable = [
        v.definition.version for v in await flows.versions(source, order_type) if not v.retired
    ]
    raise invalid(
        ("body", "flow_version"),
        f"order type {order_type} has no version {version}; usable versions: {usable}",
        version,
    )


async def price_order(
    source: Store | AsyncSession,
    order_id: str,
    body: OrderCreate,
    review_sla_s: int = 48 * 3600,
    pickup_window_s: int = 3 * 24 * 3600,
    concessions: ConcessionTerms | None = None,
    fraud: FraudThresholds | None = None,
) -> OrderInput:
    """The workflow input: catalog prices, the flow snapshot, and the order's time limits,
    read in the caller's transaction when `source` is its session."""
    flow = await resolve_flow(source, body.order_type, body.flow_version)
    catalog = await items_by_sku(source, {line.sku for line in body.lines})
    errors = [
        {
            "type": "value_error",
            "loc": ("body", "lines", index, "sku"),
            "msg": "unknown SKU; see GET /catalog",
            "input": line.sku,
        }
        for index, line in enumerate(body.lines)
        if line.sku not in catalog
    ]
    if errors:
        raise RequestValidationError(errors)
    currencies = {catalog[line.sku].currency for line in body.lines}
    if len(currencies) > 1:
        raise invalid(
            ("body", "lines"), f"lines are priced in several currencies: {sorted(currencies)}"
        )
    lines = [
        PricedLine(
            line_id=f"ln_{index + 1}",
            sku=line.sku,
            name=catalog[line.sku].name,
            unit_price_minor=catalog[line.sku].price_minor,
            quantity=line.quantity,
            kind=catalog[line.sku].kind,
            release_date=catalog[line.sku].release_date,
        )
        for index, line in enumerate(body.lines)
    ]
    return OrderInput(
        order_id=order_id,
        customer_id=body.customer_id,
        order_type=body.order_type,
        currency=currencies.pop(),
        lines=lines,
        shipping_address=Address.model_validate(body.shipping_address.model_dump()),
        payment_token=body.payment.token,
        placed_at=datetime.now(UTC),
        flow=flow,
        review_sla_s=review_sla_s,
        pickup_window_s=pickup_window_s,
        concessions=concessions or ConcessionTerms(),
        fraud=fraud or FraudThresholds(),
    )
