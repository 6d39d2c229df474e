"""The endpoint registry on each backend: registering, moving an endpoint by registering its
name again, reading it back, and secrets sealed with the payload key when one is set."""

from __future__ import annotations

import base64
import os
import uuid
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, delete, inspect

from domain.endpoints import Endpoint, fingerprint
from oms.config.codec import parse_key
from store.db import Store
from store.endpoints import (
    endpoint_urls,
    get_endpoint,
    list_endpoints,
    public_endpoints,
    register_endpoint,
)
from store.migrate import alembic_config, upgrade
from store.sealed import SecretBox, SecretUnreadable
from store.tables import ShopEndpoint

SECRET = "a-secret-of-the-shop-77"


def a_key(key_id: str) -> str:
    return f"{key_id}:{base64.b64encode(os.urandom(32)).decode()}"


def box(key: str, *old: str) -> SecretBox:
    return SecretBox(parse_key(key), [parse_key(each) for each in old])


def new_endpoint(url: str = "http://127.0.0.1:9100/wrap", **changes: object) -> Endpoint:
    values = {"name": f"e-{uuid.uuid4().hex[:10]}", "url": url, "secret": SECRET}
    return Endpoint(**(values | changes))  # type: ignore[arg-type]


async def forget(store: Store, name: str) -> None:
    """Sealed rows go once checked: the store is shared, and other tests list every row."""
    async with store.transaction() as session:
        await session.execute(delete(ShopEndpoint).where(ShopEndpoint.name == name))


async def stored_secret(store: Store, name: str) -> tuple[str, str | None]:
    async with store.read() as session:
        row = await session.get(ShopEndpoint, name)
        assert row is not None
        return row.secret, row.secret_key_id


async def test_an_endpoint_is_registered_and_read_back(any_store: Store) -> None:
    endpoint = new_endpoint(timeout_s=2.5)
    assert await register_endpoint(any_store, endpoint) == endpoint
    found = await get_endpoint(any_store, endpoint.name)
    assert found == endpoint and found.secret.get_secret_value() == SECRET
    assert await stored_secret(any_store, endpoint.name) == (SECRET, None)  # no key: as given
    assert endpoint in await list_endpoints(any_store)
    assert (await endpoint_urls(any_store))[endpoint.name] == endpoint.url
    assert await get_endpoint(any_store, "no-such-endpoint") is None
    assert await get_endpoint(any_store, "nul\x00name") is None  # PostgreSQL refuses NUL


async def test_registering_a_name_again_moves_the_endpoint(any_store: Store) -> None:
    first = new_endpoint()
    await register_endpoint(any_store, first)
    async with any_store.read() as session:
        created = (await session.get(ShopEndpoint, first.name)).created_at  # type: ignore[union-attr]
    moved = new_endpoint(
        "https://localhost:9443/v2/wrap", name=first.name, timeout_s=30, secret="moved-secret-0000"
    )
    await register_endpoint(any_store, moved)
    assert await get_endpoint(any_store, first.name) == moved
    assert [e.name for e in await list_endpoints(any_store)].count(first.name) == 1
    async with any_store.read() as session:
        row = await session.get(ShopEndpoint, first.name)
        assert row is not None and row.created_at == created and row.updated_at >= created


async def test_the_lists_are_by_name(any_store: Store) -> None:
    for _ in range(3):
        await register_endpoint(any_store, new_endpoint())
    names = [endpoint.name for endpoint in await public_endpoints(any_store)]
    assert len(names) >= 3 and names == sorted(names)
    assert [endpoint.name for endpoint in await list_endpoints(any_store)] == names


async def test_with_a_payload_key_the_secret_is_sealed_at_rest(any_store: Store) -> None:
    key = a_key("2026-12")
    endpoint = new_endpoint()
    await register_endpoint(any_store, endpoint, box(key))
    stored, key_id = await stored_secret(any_store, endpoint.name)
    assert key_id == "2026-12" and SECRET not in stored
    assert await get_endpoint(any_store, endpoint.name, box(key)) == endpoint
    # Rotated: the new key seals, the old one still opens.
    assert await get_endpoint(any_store, endpoint.name, box(a_key("2027-01"), key)) == endpoint
    with pytest.raises(SecretUnreadable, match="no OMS_PAYLOAD_KEY") as unread:
        await get_endpoint(any_store, endpoint.name)
    with pytest.raises(SecretUnreadable, match="'2026-12', which is not configured") as unread:
        await get_endpoint(any_store, endpoint.name, box(a_key("other")))
    with pytest.raises(SecretUnreadable, match="wrong key") as unread:
        await get_endpoint(any_store, endpoint.name, box(a_key("2026-12")))
    assert SECRET not in str(unread.value)
    assert (await endpoint_urls(any_store))[endpoint.name] == endpoint.url  # needs no key
    # Shown without a fingerprint where the key is missing, rather than not at all.
    [keyless] = await public_endpoints(any_store, name=endpoint.name)
    [keyed] = await public_endpoints(any_store, box(key), name=endpoint.name)
    assert (keyless.secret_fingerprint, keyed.secret_fingerprint) == (None, fingerprint(SECRET))
    await forget(any_store, endpoint.name)


async def test_a_sealed_secret_is_bound_to_its_endpoint(any_store: Store) -> None:
    key = a_key("k1")
    first, second = new_endpoint(), new_endpoint(secret="second-secret-0000")
    for endpoint in (first, second):
        await register_endpoint(any_store, endpoint, box(key))
    sealed, key_id = await stored_secret(any_store, first.name)
    async with any_store.transaction() as session:
        row = await session.get(ShopEndpoint, second.name)
        assert row is not None
        row.secret, row.secret_key_id = sealed, key_id  # the first's secret, copied over
    with pytest.raises(SecretUnreadable):
        await get_endpoint(any_store, second.name, box(key))
    for endpoint in (first, second):
        await forget(any_store, endpoint.name)


def test_the_migration_adds_and_drops_the_table(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'oms.db'}"
    upgrade(url)
    config = alembic_config(url)
    before = ScriptDirectory.from_config(config).get_revision("0008").down_revision
    assert isinstance(before, str)

    def tables() -> set[str]:
        engine = create_engine(url)
        try:
            return set(inspect(engine).get_table_names())
        finally:
            engine.dispose()

    assert "shop_endpoints" in tables()
    command.downgrade(config, before)
    assert "shop_endpoints" not in tables()
    command.upgrade(config, "head")
    assert "shop_endpoints" in tables()
