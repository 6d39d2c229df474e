"""The figures a run writes, the ratios made from them, and the targets each is judged by.
A missed target is reported, never a failed run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Every figure a run writes at the top level of its JSON, each a positive number.
FIGURES = (
    "naive_workflows_per_s",
    "floor_workflows_per_s",
    "naive_steps",
    "same_shape_workflows_per_s",
    "orders_per_s",
    "order_latency_p50_s",
    "ratio",
    "ratio_same_shape",
    "cpu_ratio",
    "worker_cpu_ratio",
    "cpu_ratio_same_shape",
    "worker_cpu_ratio_same_shape",
    "cpu_cost_ratio",
    "history_events_per_order",
    "upserts_per_order",
    "post_p50_ms",
    "post_p99_ms",
    "post_max_per_s",
    "post_rate_at_half_max_per_s",
    "post_p50_ms_at_half_max",
    "post_p99_ms_at_half_max",
    "start_workflow_max_per_s",
    "post_max_ratio",
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
    "journal_events_per_s",
    "relay_events_per_s",
    "relay_lag_p50_ms",
    "relay_lag_p99_ms",
    "relay_alone_events_per_s",
    "relay_headroom",
)


def _quotient(top: float | None, bottom: float | None) -> float | None:
    return top / bottom if top is not None and bottom else None


def ratios(f: dict[str, Any]) -> dict[str, float | None]:
    """Orders against the two floors, by throughput and by CPU per workflow (all of the
    stack's, and the worker's alone), and the API's POST rate against a bare start's."""
    order, naive = f["cpu_ms_per_order"], f["cpu_ms_per_naive_workflow"]
    same = f["cpu_ms_per_same_shape_workflow"]
    return {
        "ratio": _quotient(f["orders_per_s"], f["naive_workflows_per_s"]),
        "ratio_same_shape": _quotient(f["orders_per_s"], f["same_shape_workflows_per_s"]),
        "cpu_ratio": _quotient(order["total"], naive["total"]),
        "worker_cpu_ratio": _quotient(order.get("worker"), naive.get("naive-worker")),
        "cpu_ratio_same_shape": _quotient(order["total"], same["total"]),
        "worker_cpu_ratio_same_shape": _quotient(
            order.get("worker"), same.get("same-shape-worker")
        ),
        # What the naive ratio would be if both runs were held back by the machine's CPU alone.
        "cpu_cost_ratio": _quotient(naive["total"], order["total"]),
        "post_max_ratio": _quotient(f["post_max_per_s"], f["start_workflow_max_per_s"]),
    }


@dataclass(frozen=True)
class Target:
    key: str  # the figure it judges
    op: str  # ">=" or "<="
    bound: float
    label: str
    unit: str = ""

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

    def text(self) -> str:
        return f"{'≥' if self.op == '>=' else '≤'} {self.bound:g}{self.unit}"


TARGETS = (
    Target("cpu_ratio", "<=", 1.2, "total CPU per order ÷ per naive workflow"),
    Target("worker_cpu_ratio", "<=", 1.5, "worker CPU per order ÷ per naive workflow"),
    Target("ratio_same_shape", ">=", 0.85, "orders/s ÷ same-shape workflows/s"),
    Target(
        "post_p99_ms_at_half_max", "<=", 50, "POST /orders p99 at half the max rate (ms)", " ms"
    ),
    Target("post_max_ratio", ">=", 0.6, "POST /orders max rate ÷ start_workflow max rate"),
    Target("worker_kb_per_open_order", "<=", 50, "worker memory per open order (KB)", " KB"),
    Target("replay_histories_per_s", ">=", 200, "histories replayed per second", "/s"),
    Target(
        "relay_lag_p99_ms", "<=", 1000, "journal append → broker ack p99, orders run (ms)", " ms"
    ),
    Target("relay_headroom", ">=", 10, "relay alone ÷ journal events/s of the orders run"),
)
BY_KEY = {target.key: target for target in TARGETS}


def judge(figures: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {target.key: target.judge(figures) for target in TARGETS}
