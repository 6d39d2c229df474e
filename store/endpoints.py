"""The endpoint registry: the shop's own services that flow steps call, by name, in
`shop_endpoints`. Registering a name again updates its URL, timeout and secret, so a service
that moves takes the orders that call it along. Secrets are sealed with the payload key when
one is set (`store.sealed`), kept as given otherwise."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import cast

from pydantic import SecretStr
from sqlalchemy import Table, select

from domain.endpoints import NAME_PATTERN, Endpoint, EndpointPublic, fingerprint
from store.db import Store
from store.sealed import SecretBox, SecretUnreadable, open_secret
from store.tables import ShopEndpoint

SHOP_ENDPOINTS = cast(Table, ShopEndpoint.__table__)


def _context(name: str) -> str:
    return f"endpoint {name}"


async def register_endpoint(
    store: Store, endpoint: Endpoint, box: SecretBox | None = None
) -> Endpoint:
    """Insert the endpoint, or update the one of that name; `box` seals its secret."""
    secret, key_id = endpoint.secret.get_secret_value(), None
    if box is not None:
        secret, key_id = box.seal(secret, _context(endpoint.name))
    now = datetime.now(UTC)
    row = {
        "name": endpoint.name,
        "url": endpoint.url,
        "timeout_s": endpoint.timeout_s,
        "secret": secret,
        "secret_key_id": key_id,
        "created_at": now,
        "updated_at": now,
    }
    insert = store.insert(SHOP_ENDPOINTS).values(row)
    upsert = insert.on_conflict_do_update(
        index_elements=[SHOP_ENDPOINTS.c.name],
        set_={
            column: insert.excluded[column]
            for column in ("url", "timeout_s", "secret", "secret_key_id", "updated_at")
        },
    )
    async with store.connection() as connection:
        await connection.execute(upsert)
    return endpoint


def _endpoint(row: ShopEndpoint, box: SecretBox | None) -> Endpoint:
    secret = open_secret(box, row.secret, row.secret_key_id, _context(row.name))
    return Endpoint(name=row.name, url=row.url, timeout_s=row.timeout_s, secret=SecretStr(secret))


async def get_endpoint(store: Store, name: str, box: SecretBox | None = None) -> Endpoint | None:
    """The endpoint of that name, its secret opened; None when there is none.
    A sealed secret this process cannot open raises `store.sealed.SecretUnreadable`."""
    if not re.fullmatch(NAME_PATTERN, name):
        return None  # never registered; and PostgreSQL refuses some strings outright (NUL)
    async with store.read() as session:
        row = await session.get(ShopEndpoint, name)
    return _endpoint(row, box) if row is not None else None


async def list_endpoints(store: Store, box: SecretBox | None = None) -> list[Endpoint]:
    """Every endpoint, by name, secrets opened (`SecretUnreadable` when one cannot be)."""
    async with store.read() as session:
        rows = await session.scalars(select(ShopEndpoint).order_by(ShopEndpoint.name))
        return [_endpoint(row, box) for row in rows]


async def public_endpoints(
    store: Store, box: SecretBox | None = None, name: str | None = None
) -> list[EndpointPublic]:
    """Every endpoint (or the one named) as the API shows it, by name. A secret this process
    cannot open has no fingerprint rather than hiding the endpoint."""
    query = select(ShopEndpoint).order_by(ShopEndpoint.name)
    if name is not None:
        if not re.fullmatch(NAME_PATTERN, name):
            return []
        query = query.where(ShopEndpoint.name == name)
    async with store.read() as session:
        rows = list(await session.scalars(query))
    public = []
    for row in rows:
        try:
            secret = open_secret(box, row.secret, row.secret_key_id, _context(row.name))
        except SecretUnreadable:
            secret = None
        public.append(
            EndpointPublic(
                name=row.name,
                url=row.url,
                timeout_s=row.timeout_s,
                secret_fingerprint=fingerprint(secret) if secret is not None else None,
            )
        )
    return public


async def endpoint_urls(store: Store) -> dict[str, str]:
    """Every endpoint's URL by name, for checks that need no secret (a flow naming one)."""
    async with store.read() as session:
        rows = await session.execute(select(ShopEndpoint.name, ShopEndpoint.url))
        return {row.name: row.url for row in rows}
