"""Real parts for the tests: a Temporal dev server, SQLite and PostgreSQL stores, the worker
and the API over real HTTP, all on free ports so they run beside `make run`."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
import uvicorn
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from adapters.carrier import Carrier, SimulatedCarrier
from adapters.carrier_simulator import CarrierSimulator, carrier_key
from adapters.sandbox_gateway import SandboxGateway
from api.main import create_app
from oms.config.settings import Settings
from oms.config.temporal import connect
from store.catalog import seed_catalog
from store.db import Store
from store.migrate import upgrade
from workers import replay
from workers.main import build_worker
from workflows import search_attributes

VENV_BIN = Path(__file__).resolve().parent.parent / ".venv" / "bin"
TEMPORAL = shutil.which("temporal", path=str(VENV_BIN)) or shutil.which("temporal")
TEST_SERVER = shutil.which("temporal-test-server", path=str(VENV_BIN))
PG_ADMIN_URL = os.environ.get(
    "OMS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)

OPERATOR_KEY = "test-operator-key"
CUSTOMER_KEY = "test-customer-key"
OTHER_CUSTOMER_KEY = "test-other-customer-key"
CARRIER_KEY = "test-carrier-key"
WAREHOUSE_KEY = "test-warehouse-key"
API_KEYS = (
    f"{OPERATOR_KEY}:operator,{CUSTOMER_KEY}:customer:cus_alice,"
    f"{OTHER_CUSTOMER_KEY}:customer:cus_bob,{CARRIER_KEY}:carrier,{WAREHOUSE_KEY}:warehouse"
)

STORE_BACKENDS_RUN: set[str] = set()


def strict_replayer() -> Replayer:
    """The replayer of the replay suite and of `oms history replay`: stricter than the
    worker, so a recorded path that reads the clock, draws a random number or does I/O fails
    (workers.replay)."""
    return replay.strict_replayer()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_answers() -> bool:
    try:
        with psycopg.connect(PG_ADMIN_URL.replace("+psycopg", ""), connect_timeout=2):
            return True
    except psycopg.Error:
        return False


# The dev server's Web UI, on a free port so it runs beside `make run`'s :8233.
TEMPORAL_UI_PORT = free_port()
TEMPORAL_UI_URL = f"http://127.0.0.1:{TEMPORAL_UI_PORT}"


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=TEMPORAL,
        ui=True,
        ui_port=TEMPORAL_UI_PORT,
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
def temporal_ui_url(temporal_env: WorkflowEnvironment) -> str:
    """The Web UI of `temporal_env`'s dev server."""
    return TEMPORAL_UI_URL


@pytest.fixture
async def own_store(tmp_path: Path) -> AsyncIterator[Store]:
    """A SQLite store of the test's own, migrated and empty: for tests that look at every
    row of a table, or hold its write lock."""
    url = f"sqlite:///{tmp_path / 'oms.db'}"
    await asyncio.to_thread(upgrade, url)
    store = Store(url)
    yield store
    await store.close()


async def new_store(url: str) -> Store:
    await asyncio.to_thread(upgrade, url)
    store = Store(url)
    await seed_catalog(store)
    return store


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


@dataclass
class Stack:
    """A running OMS: API over real HTTP, a worker, a store and the Temporal client."""

    settings: Settings
    client: Client
    store: Store
    gateway: SandboxGateway
    base_url: str

    def http(self, key: str | None = OPERATOR_KEY) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=30)


def stack_settings(database_url: str, temporal_address: str, **overrides) -> Settings:  # noqa: ANN003
    port = free_port()
    values = {
        "api_port": port,
        "database_url": database_url,
        "temporal_address": temporal_address,
        "task_queue": f"orders-{uuid.uuid4().hex[:8]}",
        "carrier_delay_s": 0.3,
        # Orders complete a second after delivery unless a test needs a real return window.
        "return_window_s": 1,
        "api_keys": API_KEYS,
    } | overrides
    return Settings(**values)


@contextlib.asynccontextmanager
async def serve_api(settings: Settings) -> AsyncIterator[str]:
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=settings.api_port, log_level="warning"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{settings.api_port}"
    finally:
        server.should_exit = True
        await task


@contextlib.asynccontextmanager
async def simulated_carrier(settings: Settings, store: Store, base_url: str) -> AsyncIterator[None]:
    """The carrier simulator `oms run` starts as a process, here a task posting to the API."""
    simulator = CarrierSimulator(store, base_url, carrier_key(settings), settings.carrier_delay_s)
    task = asyncio.create_task(simulator.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@contextlib.asynccontextmanager
async def running_stack(
    temporal_env: WorkflowEnvironment,
    database_url: str,
    *,
    worker: bool = True,
    make_gateway: Callable[[Store], SandboxGateway] = SandboxGateway,
    make_carrier: Callable[[Store, float], Carrier] = SimulatedCarrier,
    **overrides,
) -> AsyncIterator[Stack]:
    settings = stack_settings(
        database_url, temporal_env.client.service_client.config.target_host, **overrides
    )
    store = await new_store(database_url)
    client = temporal_env.client
    if settings.payload_key is not None or settings.worker_metrics_port is not None:
        # Encrypted payloads (OMS_PAYLOAD_KEY): the worker's client carries the codec too;
        # with a metrics port it exports the SDK's metrics, as the worker process does.
        client = await connect(settings, worker=True)
    async with serve_api(settings) as base_url, simulated_carrier(settings, store, base_url):
        gateway = make_gateway(store)
        stack = Stack(settings, client, store, gateway, base_url)
        if worker:
            carrier = make_carrier(store, settings.carrier_delay_s)
            async with build_worker(client, store, settings, gateway, carrier):
                yield stack
        else:
            yield stack
    await store.close()


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
