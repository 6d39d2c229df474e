"""The embedded launcher: the dev server command and search attributes on older data."""

from __future__ import annotations

from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from oms.launcher import dev_server_command, ensure_search_attributes
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
