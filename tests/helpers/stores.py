"""Stores for the tests: migrated and seeded SQLite or PostgreSQL, and which backends ran."""

from __future__ import annotations

import asyncio
import os

import psycopg

from store.catalog import seed_catalog
from store.db import Store
from store.migrate import upgrade

PG_ADMIN_URL = os.environ.get(
    "OMS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)

# The store backends the run's tests used; the terminal summary names them.
STORE_BACKENDS_RUN: set[str] = set()


def postgres_answers() -> bool:
    try:
        with psycopg.connect(PG_ADMIN_URL.replace("+psycopg", ""), connect_timeout=2):
            return True
    except psycopg.Error:
        return False


async def new_store(url: str) -> Store:
    """The store at `url`, migrated, with the seed catalog."""
    await asyncio.to_thread(upgrade, url)
    store = Store(url)
    await seed_catalog(store)
    return store
