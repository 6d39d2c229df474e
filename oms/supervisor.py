"""The embedded stack's processes, for `oms run` (`oms.launcher`) and the benchmark
(`bench.stack`): the Temporal dev server's command (SQLite file in WAL mode, every search
attribute), each process started by name with its environment and log, waits for a port or a
health URL, and stopping all of them newest first with a grace period before SIGKILL.

Each process starts in a session of its own, so a Ctrl-C at the terminal reaches only the
parent, which stops the rest in order: workers and the API finish before the server goes."""

from __future__ import annotations

import asyncio
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from oms.broker import nats_server_command
from oms.config.settings import Settings
from oms.demo_shop import SECRET_ENV as DEMO_SHOP_SECRET_ENV
from oms.processes import cpu_seconds, free_port, wait_for_health, wait_for_port
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTES

WORKER_COMMAND = [sys.executable, "-m", "workers.main"]
CARRIER_COMMAND = [sys.executable, "-m", "adapters.carrier_simulator"]
DEMO_SHOP_COMMAND = [sys.executable, "-m", "oms.demo_shop"]

SA_TYPES = {
    "KEYWORD": "Keyword",
    "INT": "Int",
    "BOOL": "Bool",
    "TEXT": "Text",
    "FLOAT": "Double",
    "DATETIME": "Datetime",
    "KEYWORD_LIST": "KeywordList",
}


def temporal_binary() -> str:
    here = Path(sys.executable).parent
    found = shutil.which("temporal", path=str(here)) or shutil.which("temporal")
    if not found:
        raise SystemExit("the `temporal` CLI was not found; install the project (pip install -e .)")
    return found


def codec_endpoint(settings: Settings) -> str:
    return f"{settings.resolved_api_url}/codec"


def dev_server_command(settings: Settings) -> list[str]:
    data_dir = settings.data_dir.resolve()
    command = [
        temporal_binary(),
        "server",
        "start-dev",
        "--ip",
        "127.0.0.1",
        "--port",
        str(settings.temporal_port),
        "--ui-port",
        str(settings.ui_port),
        "--db-filename",
        str(data_dir / "temporal.db"),
        # WAL makes the file store about twice as fast as SQLite's default journal here.
        "--sqlite-pragma",
        "journal_mode=wal",
        "--sqlite-pragma",
        "synchronous=normal",
        "--log-level",
        "error",
    ]
    for key in SEARCH_ATTRIBUTES:
        command += ["--search-attribute", f"{key.name}={SA_TYPES[key.indexed_value_type.name]}"]
    if settings.payload_key is not None:
        # Payloads are encrypted: the Web UI asks the API's codec endpoint to decrypt them.
        command += ["--ui-codec-endpoint", codec_endpoint(settings)]
    return command


async def connect_when_healthy(address: str, namespace: str, timeout: float = 30) -> Any:
    """Connect once the server answers: its port opens a moment before its frontend is
    healthy ("Frontend is not healthy yet")."""
    from temporalio.client import Client

    deadline = time.monotonic() + timeout
    while True:
        try:
            return await Client.connect(address, namespace=namespace)
        except RuntimeError as error:
            if "not healthy" not in str(error) or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def ensure_search_attributes(address: str, namespace: str) -> list[str]:
    """Register the search attributes a data directory from an older release lacks:
    `start-dev --search-attribute` only registers them in a fresh database."""
    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.api.operatorservice.v1 import (
        AddSearchAttributesRequest,
        ListSearchAttributesRequest,
    )

    client = await connect_when_healthy(address, namespace)
    have = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    missing = {
        key.name: IndexedValueType.Value(f"INDEXED_VALUE_TYPE_{key.indexed_value_type.name}")
        for key in SEARCH_ATTRIBUTES
        if key.name not in have.custom_attributes
    }
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )
    return sorted(missing)


def worker_names(count: int, name: str = "worker") -> list[str]:
    """`worker`, `worker-2`, ...: the processes of one kind of worker."""
    return [name if index == 0 else f"{name}-{index + 1}" for index in range(count)]


def worker_env(env: dict[str, str], index: int) -> dict[str, str]:
    """The environment of the `index`th worker process: each exports its SDK metrics on a
    port of its own, the next after the one before (`OMS_WORKER_METRICS_PORT` + index)."""
    port = env.get("OMS_WORKER_METRICS_PORT")
    if not port or index == 0:
        return env
    return env | {"OMS_WORKER_METRICS_PORT": str(int(port) + index)}


class Supervisor:
    """Named processes, in the order they started. With `logs`, each writes stdout and
    stderr to `logs/<name>.log` (appended); without, to this process's own."""

    def __init__(self, logs: Path | None = None, cwd: Path | None = None, grace_s: float = 15):
        self.logs = logs
        self.cwd = cwd
        self.grace_s = grace_s
        self.processes: dict[str, subprocess.Popen] = {}

    def start(self, name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen:
        """Start `command` as `name`; a name started again (a restart) keeps its place in
        the stopping order."""
        if self.logs is None:
            process = subprocess.Popen(command, env=env, cwd=self.cwd, start_new_session=True)
        else:
            with (self.logs / f"{name}.log").open("ab") as log:
                process = subprocess.Popen(
                    command,
                    env=env,
                    cwd=self.cwd,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        self.processes[name] = process
        return process

    def start_dev_server(
        self, settings: Settings, env: dict[str, str], timeout: float = 60
    ) -> subprocess.Popen:
        """The dev server as `temporal`, returned once its port is open."""
        server = self.start("temporal", dev_server_command(settings), env)
        wait_for_port(
            "127.0.0.1", settings.temporal_port, server, "the Temporal dev server", timeout
        )
        return server

    def start_healthy(
        self, name: str, command: list[str], env: dict[str, str], url: str, timeout: float = 60
    ) -> subprocess.Popen:
        """Start `name` (the API), returned once `url`/health answers 200."""
        process = self.start(name, command, env)
        wait_for_health(url, process, timeout)
        return process

    def start_demo_shop(self, env: dict[str, str], timeout: float = 30) -> tuple[str, str]:
        """The demo shop's services (`oms.demo_shop`) as `shop`, on a free loopback port with
        a secret made for this run; returned once the port is open, with the URL and secret."""
        port = free_port()
        secret = secrets.token_urlsafe(32)
        shop = self.start(
            "shop",
            [*DEMO_SHOP_COMMAND, "--port", str(port)],
            env | {DEMO_SHOP_SECRET_ENV: secret},
        )
        wait_for_port("127.0.0.1", port, shop, "the demo shop", timeout)
        return f"http://127.0.0.1:{port}", secret

    def start_broker(
        self, port: int, store_dir: Path, env: dict[str, str], timeout: float = 30
    ) -> str:
        """nats-server (JetStream, its store in `store_dir`) as `nats`, returned once its port
        is open; processes started after it are given its URL (`OMS_NATS_URL` in `env`)."""
        server = self.start("nats", nats_server_command(port, store_dir), env)
        wait_for_port("127.0.0.1", port, server, "the NATS server", timeout)
        env["OMS_NATS_URL"] = f"nats://127.0.0.1:{port}"
        return env["OMS_NATS_URL"]

    def log_tail(self, name: str, lines: int = 20, head: int = 0) -> str:
        """The log's last `lines` lines, after its first `head` ones when it is longer."""
        path = self.logs / f"{name}.log" if self.logs is not None else None
        if path is None or not path.exists():
            return ""
        text = path.read_text(errors="replace").splitlines()
        if head and len(text) > head + lines:
            return "\n".join([*text[:head], "...", *text[-lines:]])
        return "\n".join(text[-lines:] if not head else text)

    def exited(self) -> tuple[str, subprocess.Popen] | None:
        """The first process, in starting order, that is no longer running."""
        for name, process in self.processes.items():
            if process.poll() is not None:
                return name, process
        return None

    def watch(self, stop: Callable[[], bool], every_s: float = 0.3) -> tuple[str, int] | None:
        """Wait until `stop()` is true (None) or a process exits (its name and code)."""
        while not stop():
            if (gone := self.exited()) is not None:
                return gone[0], gone[1].returncode
            time.sleep(every_s)
        return None

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
        """SIGTERM, then SIGKILL if it has not exited within the grace period."""
        process = self.processes.pop(name, None)
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=self.grace_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def stop_all(self) -> None:
        """Newest first: the carrier, workers, the demo shop and the API finish before the
        server goes."""
        for name in reversed(list(self.processes)):
            self.stop(name)
