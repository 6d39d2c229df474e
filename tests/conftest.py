"""Fixtures for the tests' real parts: a Temporal dev server and the time-skipping test
server, SQLite and PostgreSQL stores, and the OMS running over real HTTP. The code they use
lives in `tests/helpers/`."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from store.db import Store
from store.migrate import upgrade
from tests.helpers.stack import TEMPORAL, TEST_SERVER, Stack, free_port, running_stack
from tests.helpers.stores import PG_ADMIN_URL, STORE_BACKENDS_RUN, new_store, postgres_answers
from workflows import search_attributes


@pytest.fixture(scope="session")
def temporal_ui_port() -> int:
    """The dev server's Web UI, on a free port so it runs beside `make run`'s :8233."""
    return free_port()


@pytest.fixture(scope="session")
async def temporal_env(temporal_ui_port: int) -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=TEMPORAL,
        ui=True,
        ui_port=temporal_ui_port,
        data_converter=pydantic_data_converter,
        search_attributes=search_attributes.ALL,
        dev_server_extra_args=[
            "--dynamic-config-value",
            "system.forceSearchAttributesCacheRefreshOnRead=true",
        ],
    )
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
def temporal_ui_url(temporal_env: WorkflowEnvironment, temporal_ui_port: int) -> str:
    """The Web UI of `temporal_env`'s dev server."""
    return f"http://127.0.0.1:{temporal_ui_port}"


@pytest.fixture
async def own_store(tmp_path: Path) -> AsyncIterator[Store]:
    """A SQLite store of the test's own, migrated and empty: for tests that look at every
    row of a table, or hold its write lock."""
    url = f"sqlite:///{tmp_path / 'oms.db'}"
    await asyncio.to_thread(upgrade, url)
    store = Store(url)
    yield store
    await store.close()


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('store') / 'oms.db'}"


@pytest.fixture(scope="session")
def postgresql_url() -> Iterator[str]:
    """A fresh database on the local PostgreSQL, dropped afterwards."""
    if not postgres_answers():
        pytest.skip("PostgreSQL does not answer at 127.0.0.1:5432")
    name = f"oms_test_{uuid.uuid4().hex[:10]}"
    admin = PG_ADMIN_URL.replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
async def any_store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    """The store on each backend the machine has; the summary says which ran.
    The URL fixtures are synchronous so that `getfixturevalue` works inside the loop."""
    url = request.getfixturevalue(f"{request.param}_url")
    store = await new_store(url)
    STORE_BACKENDS_RUN.add(request.param)
    yield store
    await store.close()


def pytest_terminal_summary(terminalreporter) -> None:  # noqa: ANN001
    ran = ", ".join(sorted(STORE_BACKENDS_RUN)) or "none"
    terminalreporter.write_line(f"store tests ran against: {ran}")


@pytest.fixture(scope="session")
async def stack(temporal_env: WorkflowEnvironment, sqlite_url: str) -> AsyncIterator[Stack]:
    async with running_stack(temporal_env, sqlite_url) as running:
        yield running


@pytest.fixture(scope="session")
async def slow_stack(temporal_env: WorkflowEnvironment, tmp_path_factory) -> AsyncIterator[Stack]:  # noqa: ANN001
    """A stack whose carrier takes 3 s per event, so orders wait in FULFILLING long enough
    for an intervention to land before dispatch."""
    url = f"sqlite:///{tmp_path_factory.mktemp('slow') / 'oms.db'}"
    async with running_stack(temporal_env, url, carrier_delay_s=3.0) as running:
        yield running


@pytest.fixture(scope="session")
async def skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server, for timers measured in days. It cannot list search
    attributes, so they are added outright rather than through the launcher's helper."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=TEST_SERVER, data_converter=pydantic_data_converter
    )
    await env.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=env.client.namespace,
            search_attributes={
                key.name: IndexedValueType.Value(
                    f"INDEXED_VALUE_TYPE_{key.indexed_value_type.name}"
                )
                for key in search_attributes.ALL
            },
        )
    )
    yield env
    await env.shutdown()
