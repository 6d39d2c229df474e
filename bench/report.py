"""What the benchmark prints and writes: machine facts, targets, the table, progress."""

from __future__ import annotations

import math
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import temporalio


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile: the smallest value with at least `pct`% of them at or below."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def _cpuinfo_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _memory_total_kb() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def load_average() -> list[float] | None:
    """1, 5 and 15 minute load averages: another busy process on the machine shows here."""
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except OSError:
        return None


def machine() -> dict[str, Any]:
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count()
    return {
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable,
        "cpu_model": _cpuinfo_model() or platform.processor() or None,
        "memory_total_kb": _memory_total_kb(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "temporalio": temporalio.__version__,
        "platform": platform.platform(),
    }


# Every figure a run writes at the top level of its JSON, each a positive number.
FIGURES = (
    "floor_workflows_per_s",
    "floor_steps",
    "orders_per_s",
    "order_latency_p50_s",
    "ratio",
    "cpu_cost_ratio",
    "post_p50_ms",
    "post_p99_ms",
    "post_paced_rate_per_s",
    "post_paced_p50_ms",
    "post_paced_p99_ms",
    "worker_rss_before_kb",
    "worker_rss_after_kb",
    "worker_kb_per_open_order",
    "worker_max_cached_workflows",
    "worker_cached_workflows",
    "query_first_ms",
    "query_p50_ms",
    "query_api_p50_ms",
    "replay_histories_per_s",
    "replay_histories_per_s_per_process",
    "replay_processes",
    "replay_histories",
)


@dataclass(frozen=True)
class Target:
    key: str  # the figure it judges
    op: str  # ">=" or "<="
    bound: float
    label: str

    def judge(self, figures: dict[str, Any]) -> dict[str, Any]:
        value = figures.get(self.key)
        passed = None
        if isinstance(value, int | float):
            passed = value >= self.bound if self.op == ">=" else value <= self.bound
        return {
            "figure": self.key,
            "target": f"{self.op} {self.bound:g}",
            "value": value,
            "pass": passed,
            "label": self.label,
        }


TARGETS = (
    Target("ratio", ">=", 1.0, "orders/s ÷ floor workflows/s"),
    Target("post_p99_ms", "<=", 50, "POST /orders p99 at 32 clients (ms)"),
    Target("worker_kb_per_open_order", "<=", 100, "worker memory per open order (KB)"),
    Target("replay_histories_per_s", ">=", 100, "histories replayed per second"),
)


def judge(figures: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {target.key: target.judge(figures) for target in TARGETS}


def _verdict(targets: dict[str, dict[str, Any]], key: str) -> str:
    if key not in targets:
        return ""
    outcome = targets[key]["pass"]
    return {True: "pass", False: "MISS", None: "n/a"}[outcome]


def _by_process(ms: dict[str, float]) -> str:
    """`temporal 40 · worker 21 ms`: the processes that used at least a millisecond."""
    parts = sorted(
        ((kind, value) for kind, value in ms.items() if kind != "total" and value >= 1),
        key=lambda part: -part[1],
    )
    return " · ".join(f"{kind} {value:.0f}" for kind, value in parts) + " ms"


def table(result: dict[str, Any]) -> str:
    """The figures as aligned text, with each target and its verdict."""
    f = result
    targets = result["targets"]
    opts = result["options"]
    rows: list[tuple[str, str, str, str]] = [
        (
            f"floor ({f['floor_steps']} activities, {opts['floor']} wf, C={opts['concurrency']})",
            f"{f['floor_workflows_per_s']:.1f} workflows/s",
            "",
            "",
        ),
        (
            f"orders (standard, {opts['orders']} orders, C={opts['concurrency']})",
            f"{f['orders_per_s']:.1f} orders/s",
            "",
            "",
        ),
        (
            "  order submitted → COMPLETED p50",
            f"{f['order_latency_p50_s']:.2f} s",
            "",
            "",
        ),
        ("ratio orders/s ÷ floor workflows/s", f"{f['ratio']:.3f}", "≥ 1.0", "ratio"),
        (
            "  CPU per floor workflow / per order",
            f"{f['cpu_ms_per_floor_workflow']['total']:.0f} / "
            f"{f['cpu_ms_per_order']['total']:.0f} ms (ratio {f['cpu_cost_ratio']:.3f})",
            "",
            "",
        ),
        ("    floor, by process", _by_process(f["cpu_ms_per_floor_workflow"]), "", ""),
        (
            "    order, by process",
            _by_process(f["cpu_ms_per_order"])
            + f" (simulated carrier {f['cpu_ms_per_order_carrier']:.0f} ms, not counted)",
            "",
            "",
        ),
        (
            f"POST /orders p50 / p99 ({opts['clients']} clients)",
            f"{f['post_p50_ms']:.1f} / {f['post_p99_ms']:.1f} ms",
            "p99 ≤ 50 ms",
            "post_p99_ms",
        ),
        ("  CPU per POST, by process", _by_process(f["cpu_ms_per_post"]), "", ""),
        (
            f"  at a steady {f['post_paced_rate_per_s']:.1f} orders/s (half the orders run)",
            f"{f['post_paced_p50_ms']:.1f} / {f['post_paced_p99_ms']:.1f} ms",
            "",
            "",
        ),
        (
            f"worker memory per open order ({opts['open_orders']} open)",
            f"{f['worker_kb_per_open_order']:.1f} KB",
            "≤ 100 KB",
            "worker_kb_per_open_order",
        ),
        (
            "  workers' RSS before → after (all processes)",
            f"{f['worker_rss_before_kb'] / 1024:.1f} → {f['worker_rss_after_kb'] / 1024:.1f} MB",
            "",
            "",
        ),
        (
            "  workflow cache: cached / max",
            f"{f['worker_cached_workflows']} / {f['worker_max_cached_workflows']}"
            + (
                f" ({f['worker_kb_per_cached_workflow']:.0f} KB per cached workflow)"
                if f.get("worker_kb_per_cached_workflow")
                else ""
            ),
            "",
            "",
        ),
        (
            "  evicted from a full cache (orders run / open orders)",
            f"{f.get('orders_cache_evictions', '?')} / {f.get('open_orders_cache_evictions', '?')}",
            "",
            "",
        ),
        (
            f"query an open order p50 (of {opts['queries']})",
            f"{f['query_p50_ms']:.1f} ms Temporal, {f['query_api_p50_ms']:.1f} ms API"
            f" (the first, on the order placed first: {f['query_first_ms']:.1f} ms)",
            "",
            "",
        ),
        (
            f"replay ({f['replay_histories']} stored histories)",
            f"{f['replay_histories_per_s']:.1f} histories/s in {f['replay_processes']} "
            f"processes ({f['replay_histories_per_s_per_process']:.1f}/s each)",
            "≥ 100/s",
            "replay_histories_per_s",
        ),
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [
        f"{'figure':<{widths[0]}}  {'value':<{widths[1]}}  {'target':<{widths[2]}}  verdict",
        f"{'-' * widths[0]}  {'-' * widths[1]}  {'-' * widths[2]}  -------",
    ]
    for name, value, target, key in rows:
        verdict = _verdict(targets, key) if key else ""
        lines.append(
            f"{name:<{widths[0]}}  {value:<{widths[1]}}  {target:<{widths[2]}}  {verdict}".rstrip()
        )
    return "\n".join(lines)


def header(result: dict[str, Any]) -> str:
    m = result["machine"]
    memory = f", {m['memory_total_kb'] / 1024 / 1024:.1f} GiB" if m["memory_total_kb"] else ""
    s = result["stack"]
    return (
        f"Temporal OMS benchmark · {m['cpus_usable']} CPUs ({m['cpu_model']}){memory} · "
        f"Python {m['python']} · temporalio {m['temporalio']}\n"
        f"stack: {s['description']}\n"
        f"worker processes: {s['worker'].get('processes', 1)} each for the orders and the floor "
        f"(OMS_WORKER_PROCESSES)\n"
        f"orders run: OMS_CARRIER_DELAY_S={s['carrier_delay_s']:g}, "
        f"OMS_RETURN_WINDOW_S={s['return_window_s']} (so orders reach COMPLETED); "
        f"open orders: OMS_CARRIER_DELAY_S={s['open_carrier_delay_s']:g}\n"
        f"took {result['duration_s']:.0f} s"
    )


class Progress:
    """One line on stderr, rewritten in place with a carriage return on a terminal; on
    anything else only each phase's last line is written."""

    def __init__(self, stream=sys.stderr) -> None:  # noqa: ANN001
        self.stream = stream
        self.tty = stream.isatty()
        self.phase = ""
        self.started = time.monotonic()
        self.last = ""
        self._width = 0

    def start(self, phase: str) -> None:
        self.phase = phase
        self.started = time.monotonic()
        self.update("starting")

    def update(self, text: str) -> None:
        line = f"[{self.phase}] {text} · {time.monotonic() - self.started:.1f} s"
        self.last = line
        if self.tty:
            pad = max(0, self._width - len(line))
            self.stream.write("\r" + line + " " * pad)
            self.stream.flush()
            self._width = len(line)

    def done(self, text: str) -> None:
        self.update(text)
        if self.tty:
            self.stream.write("\n")
        else:
            self.stream.write(self.last + "\n")
        self.stream.flush()
        self._width = 0

    def note(self, text: str) -> None:
        if self.tty and self._width:
            self.stream.write("\n")
            self._width = 0
        self.stream.write(text + "\n")
        self.stream.flush()
