"""The embedded stack's supervisor, as `oms run` and the benchmark use it: the dev server
command, search attributes on older data, worker names and ports, and the processes' lives."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

import pytest
from pydantic import ValidationError
from temporalio.testing import WorkflowEnvironment

from oms.config.settings import Settings
from oms.processes import free_port, port_is_free, wait_for_port
from oms.supervisor import (
    Supervisor,
    dev_server_command,
    ensure_search_attributes,
    worker_env,
    worker_names,
)
from tests.helpers.stack import TEMPORAL
from workflows import search_attributes


def test_dev_server_keeps_a_sqlite_file_with_wal_and_registers_every_attribute(
    tmp_path: Path,
) -> None:
    command = dev_server_command(Settings(data_dir=tmp_path, temporal_port=7301, ui_port=8301))
    joined = " ".join(command)
    assert f"--db-filename {tmp_path.resolve() / 'temporal.db'}" in joined
    assert "--sqlite-pragma journal_mode=wal" in joined
    assert "--port 7301" in joined and "--ui-port 8301" in joined
    for key in search_attributes.ALL:
        assert f"--search-attribute {key.name}=" in joined


async def test_attributes_missing_from_an_older_data_directory_are_added() -> None:
    older = search_attributes.ALL[:-1]  # as a data directory from before the last one
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=TEMPORAL, search_attributes=older
    )
    try:
        address = env.client.service_client.config.target_host
        assert await ensure_search_attributes(address, "default") == [
            search_attributes.ALL[-1].name
        ]
        assert await ensure_search_attributes(address, "default") == []
    finally:
        await env.shutdown()


def test_one_worker_process_unless_told() -> None:
    assert Settings().worker_processes == 1
    assert Settings(worker_processes=3).worker_processes == 3
    with pytest.raises(ValidationError, match="worker_processes"):
        Settings(worker_processes=0)


def test_each_worker_process_has_a_name_and_a_metrics_port_of_its_own() -> None:
    assert worker_names(3) == ["worker", "worker-2", "worker-3"]
    assert worker_names(1, "floor-worker") == ["floor-worker"]
    env = {"OMS_WORKER_METRICS_PORT": "9464", "OMS_TASK_QUEUE": "orders"}
    ports = [worker_env(env, index)["OMS_WORKER_METRICS_PORT"] for index in range(3)]
    assert ports == ["9464", "9465", "9466"]
    assert worker_env(env, 2)["OMS_TASK_QUEUE"] == "orders"
    assert env["OMS_WORKER_METRICS_PORT"] == "9464"  # the launcher's own stays as it was
    assert "OMS_WORKER_METRICS_PORT" not in worker_env({"OMS_TASK_QUEUE": "orders"}, 1)


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


# Says it is up, then on SIGTERM notes its name in the file given and exits.
POLITE = """
import signal, sys, time
def leave(*_):
    open(sys.argv[1], "a").write(sys.argv[2] + "\\n")
    sys.exit(0)
signal.signal(signal.SIGTERM, leave)
print("up", flush=True)
time.sleep(60)
"""


def test_processes_stop_newest_first_and_a_stubborn_one_is_killed(tmp_path: Path) -> None:
    stopped = tmp_path / "stopped"
    supervisor = Supervisor(logs=tmp_path, grace_s=0.5)
    for name in ("temporal", "api", "worker"):
        supervisor.start(name, [*python(POLITE), str(stopped), name], {})
    stubborn = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    supervisor.start("carrier", python(stubborn), {})
    deadline = time.monotonic() + 20
    while not all(supervisor.log_tail(n) == "up" for n in ("temporal", "api", "worker")):
        assert time.monotonic() < deadline, "the processes did not start"
        time.sleep(0.05)
    time.sleep(0.2)  # the stubborn one has set its handler
    carrier = supervisor.processes["carrier"]
    supervisor.stop_all()
    assert stopped.read_text().split() == ["worker", "api", "temporal"]
    assert carrier.returncode == -signal.SIGKILL
    assert supervisor.processes == {}


def test_a_process_that_exits_is_seen_with_its_code_and_log(tmp_path: Path) -> None:
    supervisor = Supervisor(logs=tmp_path)
    lines = "; ".join(f"print('line {i}')" for i in range(30))
    supervisor.start("api", python(f"{lines}; raise SystemExit(3)"), {})
    try:
        assert supervisor.watch(lambda: False, every_s=0.05) == ("api", 3)
        assert supervisor.log_tail("api", lines=2).splitlines() == ["line 28", "line 29"]
        tail = supervisor.log_tail("api", lines=2, head=1).splitlines()
        assert tail == ["line 0", "...", "line 28", "line 29"]
        assert supervisor.log_tail("nothing") == ""
    finally:
        supervisor.stop_all()


def test_waiting_for_a_port_ends_when_it_opens_or_the_process_exits(tmp_path: Path) -> None:
    port = free_port()
    assert port_is_free(port)
    supervisor = Supervisor(logs=tmp_path)
    listen = f"import socket, time; s = socket.create_server(('127.0.0.1', {port})); time.sleep(60)"
    try:
        server = supervisor.start("temporal", python(listen), {})
        wait_for_port("127.0.0.1", port, server, "the server", 20)
        assert not port_is_free(port)
        gone = supervisor.start("api", python("raise SystemExit(2)"), {})
        with pytest.raises(SystemExit, match="the API exited with code 2 while starting"):
            wait_for_port("127.0.0.1", free_port(), gone, "the API", 20)
    finally:
        supervisor.stop_all()
