"""The embedded launcher: the dev server command and search attributes on older data."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from temporalio.testing import WorkflowEnvironment

from oms.launcher import dev_server_command, ensure_search_attributes, worker_env, worker_names
from oms.settings import Settings
from tests.conftest import TEMPORAL
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
