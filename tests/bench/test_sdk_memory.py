"""`python -m bench.sdk_memory` end to end with tiny numbers: each variant runs in a worker
process of its own against one dev server, and the JSON says what it cost per workflow."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.bench, pytest.mark.timeout(180)]


def test_sdk_memory_reports_each_variant(tmp_path: Path) -> None:
    output = tmp_path / "sdk_memory.json"
    run = subprocess.run(
        [
            *(sys.executable, "-m", "bench.sdk_memory", "--workflows", "20"),
            *("--activities", "0", "2", "--input-bytes", "100", "--output", str(output)),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=170,
    )
    assert run.returncode == 0, f"stdout:\n{run.stdout}\nstderr:\n{run.stderr}"
    results = json.loads(output.read_text())
    assert [(r["activities"], r["input_bytes"]) for r in results] == [(0, 0), (2, 100)]
    for result in results:
        assert result["workflows"] == 20
        # Python's share is what the SDK's workflow instance and its tasks hold: never none.
        assert result["python_kb_per_workflow"] > 1
        assert isinstance(result["kb_per_workflow"], float)
    assert "2 local activities of    100 bytes" in run.stderr
