"""Every recorded history in `tests/histories/` replays against the current workflow code,
by the code path `oms history replay` takes (`oms.history.replay_file`).

A failure here means a change to a workflow (order, shipment, return, rewards) would break orders
already running in production: guard it with `workflow.patched(...)` (see the README,
"Versioning and replay").
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.worker import Replayer

from oms.history import history_files, replay_file
from workers.replay import strict_replayer

HISTORIES_DIR = Path(__file__).resolve().parent.parent / "histories"
HISTORIES = history_files(HISTORIES_DIR)


def test_histories_directory_exists() -> None:
    # Stays meaningful with no histories recorded yet: the suite is wired and collected.
    assert HISTORIES_DIR.is_dir(), f"{HISTORIES_DIR} is missing"


@pytest.fixture(scope="module")
def replayer() -> Replayer:
    return strict_replayer()


# Defined only when there is something to replay, so an empty directory passes rather
# than reporting an empty parameter set.
if HISTORIES:

    @pytest.mark.parametrize("path", HISTORIES, ids=[path.name for path in HISTORIES])
    async def test_history_replays(replayer: Replayer, path: Path) -> None:
        replayed = await replay_file(replayer, path)
        if not replayed.ok:
            pytest.fail(
                f"{path.name} no longer replays: {replayed.error!r}",
                pytrace=False,
            )
