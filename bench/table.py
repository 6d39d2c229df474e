"""The run's figures as the aligned table the benchmark prints, each target with its verdict."""

from __future__ import annotations

from typing import Any

from bench.targets import BY_KEY

Row = tuple[str, str, str]  # figure, value, the key of the target it is judged by ("": none)


def _verdict(targets: dict[str, dict[str, Any]], key: str) -> str:
    if key not in targets:
        return ""
    return {True: "pass", False: "MISS", None: "n/a"}[targets[key]["pass"]]


def _by_process(ms: dict[str, float]) -> str:
    """`temporal 40 · worker 21 ms`: the processes that used at least a millisecond."""
    parts = sorted(
        ((kind, value) for kind, value in ms.items() if kind != "total" and value >= 1),
        key=lambda part: -part[1],
    )
    return " · ".join(f"{kind} {value:.0f}" for kind, value in parts) + " ms"


def _many(count: int, one: str, more: str) -> str:
    return f"{count} {one if count == 1 else more}"


def _num(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _cpu(f: dict[str, Any], floor: str, worker: str) -> tuple[str, str]:
    """`94 / 54 ms = 1.741` for all the stack and for the workers alone, order over floor."""
    order, other = f["cpu_ms_per_order"], f[f"cpu_ms_per_{floor}_workflow"]
    suffix = "" if floor == "naive" else "_same_shape"
    total = f"{order['total']:.0f} / {other['total']:.0f} ms = {_num(f['cpu_ratio' + suffix], 3)}"
    workers = (
        f"{order.get('worker', 0):.0f} / {other.get(worker, 0):.0f} ms = "
        f"{_num(f['worker_cpu_ratio' + suffix], 3)}"
    )
    return total, workers


def rows(f: dict[str, Any]) -> list[Row]:
    opts = f["options"]
    script, history = f["same_shape_script"], f["order_history"]
    naive_total, naive_worker = _cpu(f, "naive", "naive-worker")
    same_total, same_worker = _cpu(f, "same_shape", "same-shape-worker")
    differences = f["same_shape_history_differences"]
    carrier = f" (simulated carrier {f['cpu_ms_per_order_carrier']:.0f} ms, not counted)"
    cached = f.get("worker_kb_per_cached_workflow")
    return [
        (
            f"naive floor ({f['naive_steps']} activities, {opts['naive']} wf, "
            f"C={opts['concurrency']})",
            f"{f['naive_workflows_per_s']:.1f} workflows/s",
            "",
        ),
        (
            f"same-shape floor (one order's shape, {opts['same_shape']} wf, "
            f"C={opts['concurrency']})",
            f"{f['same_shape_workflows_per_s']:.1f} workflows/s",
            "",
        ),
        (
            "  its script",
            " · ".join(
                _many(script[key], one, more)
                for key, one, more in (
                    ("local_activities", "local activity", "local activities"),
                    ("activities", "activity", "activities"),
                    ("patches", "patch", "patches"),
                    ("upserts", "upsert", "upserts"),
                    ("signals", "signal", "signals"),
                    ("timers", "timer", "timers"),
                )
            ),
            "",
        ),
        (
            "  its history beside the order's",
            "the same event counts"
            if not differences
            else "differs: " + ", ".join(f"{k} {o}≠{s}" for k, (o, s) in differences.items()),
            "",
        ),
        (
            f"orders (standard, {opts['orders']} orders, C={opts['concurrency']})",
            f"{f['orders_per_s']:.1f} orders/s",
            "",
        ),
        ("  order submitted → COMPLETED p50", f"{f['order_latency_p50_s']:.2f} s", ""),
        (
            "  per order: events · upserts · LA markers · tasks",
            f"{history['events']} · {history['upserts']} · {history['local_activity_markers']}"
            f" · {history['workflow_tasks']} ({history['bytes'] / 1024:.1f} KB of history)",
            "",
        ),
        ("ratio orders/s ÷ naive workflows/s", _num(f["ratio"], 3), ""),
        (
            "ratio orders/s ÷ same-shape workflows/s",
            _num(f["ratio_same_shape"], 3),
            "ratio_same_shape",
        ),
        ("CPU per order ÷ per naive workflow", naive_total, "cpu_ratio"),
        ("  worker CPU, order ÷ naive", naive_worker, "worker_cpu_ratio"),
        ("CPU per order ÷ per same-shape workflow", same_total, ""),
        ("  worker CPU, order ÷ same-shape", same_worker, ""),
        ("    naive, by process", _by_process(f["cpu_ms_per_naive_workflow"]), ""),
        ("    same-shape, by process", _by_process(f["cpu_ms_per_same_shape_workflow"]), ""),
        ("    order, by process", _by_process(f["cpu_ms_per_order"]) + carrier, ""),
        (
            "POST /orders max rate ÷ start_workflow's (open loop)",
            f"{_num(f['post_max_per_s'])} ÷ {_num(f['start_workflow_max_per_s'])}/s = "
            f"{_num(f['post_max_ratio'], 3)}",
            "post_max_ratio",
        ),
        (
            f"  p50 / p99 at half the max ({f['post_rate_at_half_max_per_s']:.1f}/s)",
            f"{_num(f['post_p50_ms_at_half_max'])} / {_num(f['post_p99_ms_at_half_max'])} ms",
            "post_p99_ms_at_half_max",
        ),
        (
            f"POST /orders p50 / p99 ({opts['clients']} clients, closed loop)",
            f"{f['post_p50_ms']:.1f} / {f['post_p99_ms']:.1f} ms",
            "",
        ),
        ("  CPU per POST, by process", _by_process(f["cpu_ms_per_post"]), ""),
        (
            f"worker memory per open order ({opts['open_orders']} open)",
            f"{f['worker_kb_per_open_order']:.1f} KB",
            "worker_kb_per_open_order",
        ),
        (
            "  workers' RSS before → after (all processes)",
            f"{f['worker_rss_before_kb'] / 1024:.1f} → {f['worker_rss_after_kb'] / 1024:.1f} MB",
            "",
        ),
        (
            "  workflow cache: cached / max",
            f"{f['worker_cached_workflows']} / {f['worker_max_cached_workflows']}"
            + (f" ({cached:.0f} KB per cached workflow)" if cached else ""),
            "",
        ),
        (
            "  evicted from a full cache (orders run / open orders)",
            f"{f.get('orders_cache_evictions', '?')} / {f.get('open_orders_cache_evictions', '?')}",
            "",
        ),
        (
            f"query an open order p50 (of {opts['queries']})",
            f"{f['query_p50_ms']:.1f} ms Temporal, {f['query_api_p50_ms']:.1f} ms API"
            f" (the first, on the order placed first: {f['query_first_ms']:.1f} ms)",
            "",
        ),
        *relay_rows(f),
        (
            f"replay ({f['replay_histories']} stored histories)",
            f"{f['replay_histories_per_s']:.1f} histories/s in {f['replay_processes']} "
            f"processes ({f['replay_histories_per_s_per_process']:.1f}/s each)",
            "replay_histories_per_s",
        ),
    ]


def relay_rows(f: dict[str, Any]) -> list[Row]:
    alone = f["relay_alone"]
    return [
        (
            "relay in the orders run: published · appended",
            f"{f['relay_events_per_s']:.0f} · {f['journal_events_per_s']:.0f} events/s",
            "",
        ),
        (
            "  journal append → broker ack p50 / p99",
            f"{_num(f['relay_lag_p50_ms'])} / {_num(f['relay_lag_p99_ms'])} ms",
            "relay_lag_p99_ms",
        ),
        (
            f"relay alone ({alone['events']} events due, relay started)",
            f"{f['relay_alone_events_per_s']:.0f} events/s",
            "",
        ),
        (
            "  relay alone ÷ journal rate of the orders run",
            f"{_num(f['relay_headroom'])}×",
            "relay_headroom",
        ),
    ]


def table(result: dict[str, Any]) -> str:
    """The figures as aligned text, with each target and its verdict."""
    targets = result["targets"]
    lines = [
        (name, value, BY_KEY[key].text() if key else "", _verdict(targets, key) if key else "")
        for name, value, key in rows(result)
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(3)]
    out = [
        f"{'figure':<{widths[0]}}  {'value':<{widths[1]}}  {'target':<{widths[2]}}  verdict",
        f"{'-' * widths[0]}  {'-' * widths[1]}  {'-' * widths[2]}  -------",
    ]
    for name, value, target, verdict in lines:
        out.append(
            f"{name:<{widths[0]}}  {value:<{widths[1]}}  {target:<{widths[2]}}  {verdict}".rstrip()
        )
    return "\n".join(out)
