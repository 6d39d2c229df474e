"""`oms history replay PATH...`: the recorded histories replay, and one that does not (an
activity renamed in its JSON) fails with a line naming it and a non-zero exit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from oms.cli import main

HISTORIES_DIR = Path(__file__).resolve().parent.parent / "histories"
SKIPPED = "not a .json history file"
RECORDED = HISTORIES_DIR / "appeasement_refunded__order-ord_0eb9df458376e388.json"


def altered_copy(directory: Path) -> Path:
    """`RECORDED` with its first scheduled activity renamed: the workflow code schedules
    the real one, so the replay is nondeterministic."""
    history = json.loads(RECORDED.read_text())
    for event in history["events"]:
        scheduled = event.get("activityTaskScheduledEventAttributes")
        if scheduled:
            scheduled["activityType"]["name"] = "renamed_activity"
            break
    else:
        raise AssertionError(f"{RECORDED.name} schedules no activity")
    path = directory / f"altered_{RECORDED.name}"
    path.write_text(json.dumps(history))
    return path


def replay(capsys: pytest.CaptureFixture[str], *paths: Path) -> tuple[int, list[str]]:
    capsys.readouterr()
    code = main(["history", "replay", *map(str, paths)])
    return code, capsys.readouterr().out.splitlines()


def test_every_recorded_history_replays(capsys: pytest.CaptureFixture[str]) -> None:
    # As the shell expands `oms history replay tests/histories/*`: the README is skipped.
    paths = sorted(HISTORIES_DIR.iterdir())
    code, lines = replay(capsys, *paths)
    assert code == 0, "\n".join(line for line in lines if line.startswith("FAIL"))
    histories = [path for path in paths if path.suffix == ".json"]
    expected = [
        f"ok {path.name}" if path.suffix == ".json" else f"skip {path.name}: {SKIPPED}"
        for path in paths
    ]
    assert lines[: len(paths)] == expected
    assert lines[-1] == (
        f"replayed {len(histories)} histories: {len(histories)} ok, 0 failed, "
        f"{len(paths) - len(histories)} skipped"
    )


def test_a_history_that_does_not_replay_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    altered = altered_copy(tmp_path)
    code, lines = replay(capsys, RECORDED, altered, tmp_path / "missing__order-x.json")
    assert code == 1
    assert lines[0] == f"ok {RECORDED.name}"
    assert lines[1].startswith(f"FAIL {altered.name}: ")
    assert "NondeterminismError" in lines[1] and "'renamed_activity'" in lines[1], lines[1]
    assert lines[2].startswith("FAIL missing__order-x.json: FileNotFoundError")
    assert lines[3] == "replayed 3 histories: 1 ok, 2 failed, 0 skipped"


def test_a_directory_stands_for_its_histories(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    altered = altered_copy(tmp_path)
    code, lines = replay(capsys, tmp_path)
    assert code == 1 and lines[0].startswith(f"FAIL {altered.name}: ")


def test_nothing_to_replay_is_a_failure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = replay(capsys, tmp_path)
    assert code == 1
    assert lines[0] == "replayed 0 histories: 0 ok, 0 failed, 0 skipped"
