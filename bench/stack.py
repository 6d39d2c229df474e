"""The benchmark's own embedded stack, started as `oms run` starts it (`oms.supervisor`): the
Temporal dev server, the broker (nats-server), the API under uvicorn, the simulated carrier,
the journal's relay and the workers, each a subprocess on free ports with a fresh temporary
data directory and a log of its own. The workers are processes of their own so that their
memory can be read and a profiler attached.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from adapters.carrier_simulator import with_carrier_key
from oms.config.settings import Settings
from oms.processes import free_port, wait_for_port
from oms.processes import rss_kb as process_rss_kb
from oms.relay import relay_command
from oms.supervisor import (
    CARRIER_COMMAND,
    WORKER_COMMAND,
    Supervisor,
    ensure_search_attributes,
    worker_names,
)
from store.db import sync_url

OPERATOR_KEY = "bench-operator-key"
# Settings the benchmark decides for itself; anything else OMS_* (the worker tuning, the
# log format) is passed through from the environment it runs in.
OWN_SETTINGS = (
    "OMS_TEMPORAL_ADDRESS",
    "OMS_DATABASE_URL",
    "OMS_API_URL",
    "OMS_API_KEY",
    "OMS_API_KEYS",
    "OMS_API_HOST",
    "OMS_CARRIER",
    "OMS_WORKER_METRICS_HOST",
    "OMS_WORKER_METRICS_PORT",
    "OMS_WORKER_VERSIONING",
    "OMS_OTEL_TRACING",
    "OMS_NATS_URL",
    "OMS_NATS_USER",
    "OMS_NATS_PASSWORD",
    "OMS_RELAY_METRICS_HOST",
    "OMS_RELAY_METRICS_PORT",
)


class BenchError(Exception):
    """The run itself broke (a process died, something never became ready)."""


def rss_kb(pid: int) -> int:
    """Resident memory of a process (`oms.processes.rss_kb`); none is a broken run."""
    try:
        return process_rss_kb(pid)
    except ProcessLookupError as error:
        raise BenchError(str(error)) from None


class BenchStack(Supervisor):
    """The stack's processes (`Supervisor`), each logging to `<root>/logs/<name>.log`."""

    logs: Path

    def __init__(self, keep_data: bool = False, database_url: str | None = None) -> None:
        self.keep_data = keep_data
        self.root = Path(tempfile.mkdtemp(prefix="oms-bench-"))
        logs = self.root / "logs"
        logs.mkdir()
        super().__init__(logs=logs, cwd=Path(__file__).resolve().parent.parent, grace_s=20)
        self.temporal_port = free_port()
        self.ui_port = free_port()
        self.api_port = free_port()
        self.nats_port = free_port()
        self.relay_metrics_port = free_port()
        self.env = {key: value for key, value in os.environ.items() if key not in OWN_SETTINGS}
        self.env.update(
            OMS_DATA_DIR=str(self.root),
            OMS_TEMPORAL_PORT=str(self.temporal_port),
            OMS_UI_PORT=str(self.ui_port),
            OMS_API_PORT=str(self.api_port),
            OMS_RELAY_METRICS_PORT=str(self.relay_metrics_port),
            OMS_API_KEYS=with_carrier_key(f"{OPERATOR_KEY}:operator"),
            OMS_TASK_QUEUE="orders",
            PYTHONUNBUFFERED="1",
            OMS_DATABASE_URL=database_url or f"sqlite:///{self.root / 'oms.db'}",
        )
        self.client: Client | None = None

    # -- settings as the processes see them ------------------------------------------------

    def settings(self, **env: str) -> Settings:
        values: dict[str, Any] = {
            key[len("OMS_") :].lower(): value
            for key, value in (self.env | env).items()
            if key.startswith("OMS_")
        }
        return Settings(**values)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def temporal_address(self) -> str:
        return f"127.0.0.1:{self.temporal_port}"

    # -- processes ---------------------------------------------------------------------------

    def check_alive(self) -> None:
        if (exited := self.exited()) is not None:
            name, process = exited
            raise BenchError(
                f"{name} exited with code {process.returncode}:\n{self.log_tail(name)}"
            )

    async def start_server(self) -> None:
        """The dev server on this stack's ports. One that exits while starting is started once
        more on fresh ports: it binds ports of its own choosing besides ours (HTTP, metrics,
        its internal services), and in some dozens of runs one start ended in a Go panic."""
        for attempt in (1, 2):
            settings = self.settings()
            try:
                await asyncio.to_thread(self.start_dev_server, settings, self.env, 60)
                break
            except SystemExit as error:
                # A Go panic's message comes first in the log, its stack last.
                failure = f"{error}\n{self.log_tail('temporal', lines=10, head=10)}"
                server = self.processes.get("temporal")
                if attempt == 2 or server is None or server.poll() is None:
                    raise BenchError(failure) from None
                print(f"bench: starting once more on fresh ports: {failure}", file=sys.stderr)
                self.temporal_port, self.ui_port = free_port(), free_port()
                self.env.update(
                    OMS_TEMPORAL_PORT=str(self.temporal_port), OMS_UI_PORT=str(self.ui_port)
                )
        await ensure_search_attributes(self.temporal_address, "default")
        from oms.config.temporal import connect

        self.client = await connect(settings)

    def start_nats(self) -> None:
        """nats-server with JetStream, its store in the data directory (`oms.launcher`); the
        processes started after it are given its URL (`OMS_NATS_URL`)."""
        try:
            self.start_broker(self.nats_port, self.root / "nats", self.env)
        except SystemExit as error:
            raise BenchError(f"{error}\n{self.log_tail('nats')}") from None

    async def start_relay(self, wait: bool = True) -> subprocess.Popen:
        """`oms relay`, its metrics on `relay_metrics_port`; with `wait`, returned once they
        answer. Start it after the API, which migrates the store."""
        process = self.start("relay", relay_command(self.settings()), self.env)
        if not wait:
            return process
        try:
            await asyncio.to_thread(
                wait_for_port, "127.0.0.1", self.relay_metrics_port, process, "the relay", 30
            )
        except SystemExit as error:
            raise BenchError(f"{error}\n{self.log_tail('relay')}") from None
        return process

    def stop_relay(self) -> None:
        """SIGTERM: the relay finishes the batch under way and lets its lease go."""
        self.stop("relay")

    async def start_api(self) -> None:
        from api.serve import api_command  # as the launcher starts it

        command = api_command(self.settings())
        try:
            await asyncio.to_thread(self.start_healthy, "api", command, self.env, self.api_url, 90)
        except SystemExit as error:
            raise BenchError(f"{error}\n{self.log_tail('api')}") from None

    def start_carrier(self) -> None:
        """The simulated carrier, a process of its own as `oms run` starts it."""
        self.start("carrier", CARRIER_COMMAND, self.env)

    async def start_worker(self, name: str, command: list[str], task_queue: str, **env: str):
        """Start a worker and return once its pollers are at the server, so a clock started
        afterwards does not count its start-up."""
        process = self.start(name, command, self.env | env)
        await self.wait_for_pollers(task_queue, process, name)
        return process

    @property
    def worker_processes(self) -> int:
        """How many processes each worker runs, as `oms run` starts them
        (`OMS_WORKER_PROCESSES`, default 1): the same for both."""
        return self.settings().worker_processes

    async def start_order_workers(
        self, env_of: Callable[[int], dict[str, str]] = lambda _: {}
    ) -> list[subprocess.Popen]:
        """The order worker's processes (`worker`, `worker-2`, ...); `env_of(index)` adds to
        each one's environment."""
        return [
            await self.start_worker(name, WORKER_COMMAND, "orders", **env_of(index))
            for index, name in enumerate(worker_names(self.worker_processes))
        ]

    async def start_floor_workers(
        self, module: str, name: str, task_queue: str
    ) -> list[subprocess.Popen]:
        """A floor's worker processes (`python -m <module> <task_queue>`), as many as the
        order worker's, named `<name>`, `<name>-2`, ..."""
        command = [sys.executable, "-m", module, task_queue]
        return [
            await self.start_worker(each, command, task_queue)
            for each in worker_names(self.worker_processes, name)
        ]

    def stop_workers(self, name: str) -> None:
        for each in worker_names(self.worker_processes, name):
            self.stop(each)

    async def wait_for_pollers(
        self, task_queue: str, process: subprocess.Popen, name: str, timeout: float = 60
    ) -> None:
        assert self.client is not None
        identity = f"{process.pid}@"
        deadline = time.monotonic() + timeout
        waiting = {TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY}
        while waiting:
            if process.poll() is not None:
                raise BenchError(
                    f"{name} exited with code {process.returncode} while starting:\n"
                    f"{self.log_tail(name)}"
                )
            if time.monotonic() > deadline:
                raise BenchError(f"{name} did not poll {task_queue} within {timeout:.0f}s")
            for kind in list(waiting):
                described = await self.client.workflow_service.describe_task_queue(
                    DescribeTaskQueueRequest(
                        namespace=self.client.namespace,
                        task_queue=TaskQueue(name=task_queue),
                        task_queue_type=kind,
                    )
                )
                if any(p.identity.startswith(identity) for p in described.pollers):
                    waiting.discard(kind)
            await asyncio.sleep(0.1)

    def close(self) -> None:
        """Every process, newest first (`stop_all`), then the data unless it is kept."""
        self.stop_all()
        if not self.keep_data:
            shutil.rmtree(self.root, ignore_errors=True)

    # -- reading the store ---------------------------------------------------------------------

    def count(self, query: str) -> int:
        """A `SELECT count(*)` read straight from the store."""
        engine = create_engine(sync_url(self.env["OMS_DATABASE_URL"]))
        try:
            with engine.connect() as connection:
                count = connection.execute(text(query)).scalar_one()
        finally:
            engine.dispose()
        return int(count)

    def booked_shipments(self) -> int:
        """Shipments with the simulated carrier, not yet dispatched: the order behind each
        waits for a carrier event."""
        return self.count("SELECT count(*) FROM carrier_shipments WHERE status = 'booked'")

    def journal_events(self) -> int:
        return self.count("SELECT count(*) FROM order_events")

    def outbox_due(self) -> int:
        """Journal events the relay has not published yet: its outbox records."""
        return self.count("SELECT count(*) FROM journal_outbox")
