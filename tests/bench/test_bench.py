"""The benchmark harness end to end with tiny numbers: its own stack comes up, every phase
runs, and the JSON carries every figure (the ratio being orders/s over floor workflows/s)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.report import FIGURES, TARGETS

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.bench, pytest.mark.timeout(180)]

# Tiny numbers: the point is that every phase runs and reports, not the figures themselves.
SMOKE = (
    *("--orders", "5", "--floor", "5", "--concurrency", "4"),
    *("--open-orders", "20", "--clients", "4", "--queries", "5"),
    *("--replay-seconds", "0", "--replay-processes", "2"),
)
# A workflow cache smaller than the open orders, so that the run shows the cap at work.
CACHE = 10


def test_bench_smoke_run_writes_every_figure(tmp_path: Path) -> None:
    output = tmp_path / "bench.json"
    run = subprocess.run(
        [sys.executable, "-m", "bench", *SMOKE, "--output", str(output)],
        cwd=ROOT,
        env=os.environ | {"OMS_WORKER_MAX_CACHED_WORKFLOWS": str(CACHE)},
        capture_output=True,
        text=True,
        timeout=170,
    )
    assert run.returncode == 0, f"stdout:\n{run.stdout}\nstderr:\n{run.stderr}"
    assert "ratio orders/s ÷ floor workflows/s" in run.stdout
    result = json.loads(output.read_text())

    missing = [key for key in FIGURES if key not in result]
    assert not missing, f"figures missing from the JSON: {missing}"
    not_positive = {key: result[key] for key in FIGURES if not result[key] > 0}
    assert not not_positive, f"figures that are not positive: {not_positive}"
    assert math.isclose(
        result["ratio"], result["orders_per_s"] / result["floor_workflows_per_s"], rel_tol=1e-9
    )
    assert result["floor_steps"] >= 1
    # The CPU each run cost per workflow, by process: the order worker and the API work in the
    # orders run, the floor's own worker in the floor run.
    per_order, per_floor = result["cpu_ms_per_order"], result["cpu_ms_per_floor_workflow"]
    assert per_order["worker"] > 0 and per_order["api"] > 0 and per_order["temporal"] > 0
    assert per_floor["floor-worker"] > 0 and per_floor["temporal"] > 0
    # The stand-ins for the shoppers and the carrier are not the order's cost; the carrier,
    # a process of its own, posted every order's shipment events and is shown apart.
    assert "bench" not in per_order and "carrier" not in per_order
    assert result["cpu_ms_per_order_carrier"] > 0
    per_post = result["cpu_ms_per_post"]
    assert per_post["api"] > 0 and per_post["temporal"] > 0 and "carrier" not in per_post
    assert math.isclose(
        per_order["total"], sum(v for k, v in per_order.items() if k != "total"), abs_tol=0.05
    )
    assert math.isclose(
        result["cpu_cost_ratio"], per_floor["total"] / per_order["total"], rel_tol=1e-9
    )
    assert "CPU per floor workflow / per order" in run.stdout
    assert "CPU per POST, by process" in run.stdout

    assert set(result["targets"]) == {target.key for target in TARGETS}
    for verdict in result["targets"].values():
        assert verdict["pass"] in (True, False)
    for key in ("cpu_count", "python", "temporalio", "platform"):
        assert result["machine"][key]
    assert result["options"]["orders"] == 5
    assert result["options"]["open_orders"] == 20
    assert result["options"]["clients"] == 4
    assert result["stack"]["return_window_s"] == 1
    # Replayed in two processes at once, each every stored history, none failing.
    assert result["replay_processes"] == 2
    assert result["replay_failures"] == 0
    assert result["replay_histories"] == len(list((ROOT / "tests" / "histories").glob("*.json")))
    assert "histories/s in 2 processes" in run.stdout
    # The open orders outnumber the cache: it stays at its cap, the rest are evicted (and the
    # first order placed, long evicted, still answers its query).
    assert result["worker_max_cached_workflows"] == CACHE
    assert result["stack"]["worker"]["max_cached_workflows"] == CACHE
    assert result["worker_cached_workflows"] <= CACHE
    assert result["open_orders_cache_evictions"] >= result["options"]["open_orders"] - CACHE
    assert result["orders_cache_evictions"] >= 0
    assert "evicted from a full cache (orders run / open orders)" in run.stdout
