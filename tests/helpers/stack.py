"""A running OMS for the tests: the API over real HTTP, a worker, the carrier simulator and
the store, on free ports so it runs beside `make run`; and the `temporal` binaries."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from adapters.carrier import Carrier, SimulatedCarrier
from adapters.carrier_simulator import CarrierSimulator, carrier_key
from adapters.sandbox_gateway import SandboxGateway
from api.main import create_app
from oms.config.settings import Settings
from oms.config.temporal import connect
from store.db import Store
from tests.helpers.keys import API_KEYS, OPERATOR_KEY
from tests.helpers.stores import new_store
from workers.main import build_worker

VENV_BIN = Path(__file__).resolve().parents[2] / ".venv" / "bin"
TEMPORAL = shutil.which("temporal", path=str(VENV_BIN)) or shutil.which("temporal")
TEST_SERVER = shutil.which("temporal-test-server", path=str(VENV_BIN))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
