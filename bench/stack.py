"""The benchmark's own embedded stack: the Temporal dev server (the launcher's binary and
arguments: a SQLite file in WAL mode), the API under uvicorn, the simulated carrier and the
workers, each a subprocess on free ports with a fresh temporary data directory.

The workers are processes of their own so that their resident memory can be read from
`/proc/<pid>/status` and a profiler can attach to them.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import create_engine, text
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from adapters.carrier_simulator import with_carrier_key
from oms import launcher
from oms.settings import Settings
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
)


class BenchError(Exception):
    """The run itself broke (a process died, something never became ready)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_kb(pid: int) -> int:
    """Resident memory of a process, from `VmRSS` in /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise BenchError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    # After the command name: state is field 3, utime 14 and stime 15 (1-based, man 5 proc).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class BenchStack:
    def __init__(self, keep_data: bool = False, database_url: str | None = None) -> None:
        self.keep_data = keep_data
        self.root = Path(tempfile.mkdtemp(prefix="oms-bench-"))
        self.logs = self.root / "logs"
        self.logs.mkdir()
        self.temporal_port = free_port()
        self.ui_port = free_port()
        self.api_port = free_port()
        self.env = {key: value for key, value in os.environ.items() if key not in OWN_SETTINGS}
        self.env.update(
            OMS_DATA_DIR=str(self.root),
            OMS_TEMPORAL_PORT=str(self.temporal_port),
            OMS_UI_PORT=str(self.ui_port),
            OMS_API_PORT=str(self.api_port),
            OMS_API_KEYS=with_carrier_key(f"{OPERATOR_KEY}:operator"),
            OMS_TASK_QUEUE="orders",
            PYTHONUNBUFFERED="1",
            OMS_DATABASE_URL=database_url or f"sqlite:///{self.root / 'oms.db'}",
        )
        self.processes: dict[str, subprocess.Popen] = {}
        self.client: Client | None = None

    # -- settings as the processes see them ------------------------------------------------

    def settings(self, **env: str) -> Settings:
        values = {
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

    def _spawn(self, name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = (self.logs / f"{name}.log").open("ab")
        process = subprocess.Popen(
            command,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=Path(__file__).resolve().parent.parent,
        )
        log.close()
        self.processes[name] = process
        return process

    def log_tail(self, name: str, lines: int = 20, head: int = 0) -> str:
        """The log's last `lines` lines, after its first `head` ones when it is longer."""
        path = self.logs / f"{name}.log"
        if not path.exists():
            return ""
        text = path.read_text(errors="replace").splitlines()
        if head and len(text) > head + lines:
            return "\n".join([*text[:head], "...", *text[-lines:]])
        return "\n".join(text[-lines:] if not head else text)

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise BenchError(
                    f"{name} exited with code {process.returncode}:\n{self.log_tail(name)}"
                )

    async def start_server(self) -> None:
        """The dev server on this stack's ports. One that exits while starting is started once
        more on fresh ports: it binds ports of its own choosing besides ours (HTTP, metrics,
        its internal services), and in some dozens of runs one start ended in a Go panic."""
        for attempt in (1, 2):
            settings = self.settings()
            server = self._spawn("temporal", launcher.dev_server_command(settings), self.env)
            try:
                await asyncio.to_thread(
                    launcher.wait_for_port,
                    "127.0.0.1",
                    self.temporal_port,
                    server,
                    "the Temporal dev server",
                    60,
                )
                break
            except SystemExit as error:
                # A Go panic's message comes first in the log, its stack last.
                failure = f"{error}\n{self.log_tail('temporal', lines=10, head=10)}"
                if attempt == 2 or server.poll() is None:
                    raise BenchError(failure) from None
                print(f"bench: starting once more on fresh ports: {failure}", file=sys.stderr)
                self.temporal_port, self.ui_port = free_port(), free_port()
                self.env.update(
                    OMS_TEMPORAL_PORT=str(self.temporal_port), OMS_UI_PORT=str(self.ui_port)
                )
        await launcher.ensure_search_attributes(self.temporal_address, "default")
        from workers.main import connect

        self.client = await connect(settings)

    async def start_api(self) -> None:
        from api.serve import api_command  # as the launcher starts it

        api = self._spawn("api", api_command(self.settings()), self.env)
        try:
            await asyncio.to_thread(launcher.wait_for_health, self.api_url, api, 90)
        except SystemExit as error:
            raise BenchError(f"{error}\n{self.log_tail('api')}") from None

    def start_carrier(self) -> None:
        """The simulated carrier, a process of its own as `oms run` starts it."""
        self._spawn("carrier", launcher.CARRIER_COMMAND, self.env)

    async def start_worker(self, name: str, command: list[str], task_queue: str, **env: str):
        """Start a worker and return once its pollers are at the server, so a clock started
        afterwards does not count its start-up."""
        process = self._spawn(name, command, self.env | env)
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
            await self.start_worker(name, launcher.WORKER_COMMAND, "orders", **env_of(index))
            for index, name in enumerate(launcher.worker_names(self.worker_processes))
        ]

    async def start_floor_workers(self, task_queue: str) -> list[subprocess.Popen]:
        command = [sys.executable, "-m", "bench.floor", task_queue]
        return [
            await self.start_worker(name, command, task_queue)
            for name in launcher.worker_names(self.worker_processes, "floor-worker")
        ]

    def stop_workers(self, name: str) -> None:
        for each in launcher.worker_names(self.worker_processes, name):
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

    def cpu(self) -> dict[str, float]:
        """CPU seconds each running process has used so far."""
        used = {}
        for name, process in self.processes.items():
            try:
                used[name] = cpu_seconds(process.pid)
            except (OSError, IndexError, ValueError):
                pass
        return used

    def stop(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def close(self) -> None:
        """Newest first, as the launcher does: workers, then the API, then the server."""
        for name in reversed(list(self.processes)):
            self.stop(name)
        if not self.keep_data:
            shutil.rmtree(self.root, ignore_errors=True)

    # -- reading the store ---------------------------------------------------------------------

    def booked_shipments(self) -> int:
        """Shipments with the simulated carrier, not yet dispatched: the order behind each
        waits for a carrier event. Read straight from the store."""
        engine = create_engine(sync_url(self.env["OMS_DATABASE_URL"]))
        try:
            with engine.connect() as connection:
                count = connection.execute(
                    text("SELECT count(*) FROM carrier_shipments WHERE status = 'booked'")
                ).scalar_one()
        finally:
            engine.dispose()
        return int(count)
