"""The benchmark harness end to end with tiny numbers: its own stack comes up, every phase
runs (the relay's too), and the JSON carries every figure, each ratio the quotient of the
figures it names."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.targets import FIGURES, TARGETS

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.bench, pytest.mark.timeout(180)]

# Tiny numbers: the point is that every phase runs and reports, not the figures themselves.
SMOKE = (
    *("--orders", "5", "--naive", "5", "--same-shape", "5", "--concurrency", "4"),
    *("--open-orders", "20", "--clients", "4", "--queries", "5"),
    *("--replay-seconds", "0", "--replay-processes", "2"),
    *("--ramp-seconds", "4", "--steady-seconds", "1", "--relay-events", "400"),
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
    assert "ratio orders/s ÷ same-shape workflows/s" in run.stdout
    result = json.loads(output.read_text())

    missing = [key for key in FIGURES if key not in result]
    assert not missing, f"figures missing from the JSON: {missing}"
    not_positive = {key: result[key] for key in FIGURES if not (result[key] or 0) > 0}
    assert not not_positive, f"figures that are not positive: {not_positive}"
    # The naive floor keeps its former key.
    assert result["floor_workflows_per_s"] == result["naive_workflows_per_s"]
    assert result["naive_steps"] >= 1

    def quotient(key: str, top: float, bottom: float) -> None:
        assert math.isclose(result[key], top / bottom, rel_tol=1e-9), key

    # The CPU each run cost per workflow, by process: the order worker and the API work in the
    # orders run, each floor's own worker in its run.
    per_order = result["cpu_ms_per_order"]
    per_naive = result["cpu_ms_per_naive_workflow"]
    per_same = result["cpu_ms_per_same_shape_workflow"]
    assert per_order["worker"] > 0 and per_order["api"] > 0 and per_order["temporal"] > 0
    assert per_naive["naive-worker"] > 0 and per_naive["temporal"] > 0
    assert per_same["same-shape-worker"] > 0 and per_same["temporal"] > 0
    quotient("ratio", result["orders_per_s"], result["naive_workflows_per_s"])
    quotient("ratio_same_shape", result["orders_per_s"], result["same_shape_workflows_per_s"])
    quotient("cpu_ratio", per_order["total"], per_naive["total"])
    quotient("worker_cpu_ratio", per_order["worker"], per_naive["naive-worker"])
    quotient("cpu_ratio_same_shape", per_order["total"], per_same["total"])
    quotient("worker_cpu_ratio_same_shape", per_order["worker"], per_same["same-shape-worker"])
    quotient("post_max_ratio", result["post_max_per_s"], result["start_workflow_max_per_s"])
    # The stand-ins for the shoppers, the carrier and the same-shape floor's driver are not
    # the workflows' cost; the carrier, a process of its own, is shown apart.
    for per in (per_order, per_naive, per_same):
        assert "bench" not in per and "carrier" not in per
    assert result["cpu_ms_per_order_carrier"] > 0
    per_post = result["cpu_ms_per_post"]
    assert per_post["api"] > 0 and per_post["temporal"] > 0 and "carrier" not in per_post
    assert math.isclose(
        per_order["total"], sum(v for k, v in per_order.items() if k != "total"), abs_tol=0.05
    )
    assert "CPU per order ÷ per naive workflow" in run.stdout
    assert "CPU per POST, by process" in run.stdout

    # One completed order's history in figures, and the same-shape floor's beside it.
    history = result["order_history"]
    assert history["events"] == result["history_events_per_order"] > 0
    assert history["upserts"] == result["upserts_per_order"]
    assert history["local_activity_markers"] > 0 and history["workflow_tasks"] > 0
    assert result["same_shape_history"]["signals"] == history["signals"]
    assert result["same_shape_script"]["local_activities"] == history["local_activity_markers"]
    # The open loop: each ramp stepped at least once; half the POST max sent without error.
    assert result["post_ramp"]["steps"] and result["start_workflow_ramp"]["steps"]
    assert result["post_rate_at_half_max_per_s"] == result["post_max_per_s"] / 2
    assert result["post_errors_at_half_max"] == 0

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
    # The relay published the orders run's events as they were appended, every one of them
    # timed by the end; alone, it published the whole backlog appended while it was stopped.
    appended = result["journal_events_appended"]
    assert appended >= 2 * result["options"]["orders"]  # each placed and completed at least
    assert result["relay_lag_events"] == appended
    assert 0 < result["relay_events_published"] <= appended
    assert result["relay_lag_p50_ms"] <= result["relay_lag_p99_ms"]
    assert result["relay_alone"]["events"] == result["options"]["relay_events"] == 400
    quotient("relay_headroom", result["relay_alone_events_per_s"], result["journal_events_per_s"])
    assert "journal append → broker ack p50 / p99" in run.stdout
    assert "relay alone" in run.stdout
