"""The benchmark run: it sequences the phases and writes the result. Replay (`bench.replay`)
runs first, on an idle machine; then, on one embedded stack (`bench.stack`), the naive floor
(`bench.naive_throughput`), the orders (`bench.order_throughput`, the relay watched by
`bench.relay_phase`), the same-shape floor scripted from one of them
(`bench.same_shape_throughput`), the open orders (`bench.open_orders`) and the relay alone,
sharing the shoppers (`bench.shoppers`) and the readings (`bench.gauges`). Each figure and
its key in the JSON: docs/performance.md."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from bench import report, table, targets
from bench.gauges import WARMUP
from bench.naive import standard_flow_steps
from bench.naive_throughput import naive_phase
from bench.open_orders import OPEN_CARRIER_DELAY_S, open_orders_phase
from bench.options import Options
from bench.order_throughput import order_history_figures, orders_phase, typical_order_history
from bench.relay_phase import relay_alone_phase
from bench.replay import replay_phase
from bench.report import Progress
from bench.same_shape_throughput import same_shape_phase
from bench.shape import event_counts, shape_of
from bench.shoppers import MAX_UNITS, SKUS
from bench.stack import BenchError, BenchStack
from oms.history import history_files
from oms.processes import free_port

ORDER_CARRIER_DELAY_S = 0.0
RETURN_WINDOW_S = 1
OPEN_LOOP_UNITS = 4000  # of the seeded stock, kept for the open loop's POSTs at the least
WARMUP_UNITS = 10 * WARMUP  # the warm-up orders, one round per order worker process


def worker_settings(stack: BenchStack) -> dict[str, Any]:
    """The order and floor workers' tuning as they run it, SDK defaults filled in."""
    import inspect

    from temporalio.worker import Worker

    from workers.main import worker_tuning

    defaults = inspect.signature(Worker.__init__).parameters
    tuned = worker_tuning(stack.settings())

    def value(name: str) -> Any:
        if name in tuned:
            given = tuned[name]
            return getattr(given, "maximum", given)
        default = defaults[name].default
        if default is None:  # slots: the SDK's fixed-size tuner gives 100 of each
            return 100
        return getattr(default, "maximum", default)

    return {
        "max_cached_workflows": value("max_cached_workflows"),
        "max_concurrent_workflow_tasks": value("max_concurrent_workflow_tasks"),
        "max_concurrent_activities": value("max_concurrent_activities"),
        "workflow_task_pollers": value("workflow_task_poller_behavior"),
        "activity_task_pollers": value("activity_task_poller_behavior"),
        "processes": stack.worker_processes,
        "set_by_settings": sorted(tuned),
    }


async def run(options: Options, progress: Progress) -> dict[str, Any]:
    placed = options.orders + options.open_orders + WARMUP_UNITS
    if placed + OPEN_LOOP_UNITS > MAX_UNITS:
        most = MAX_UNITS - OPEN_LOOP_UNITS - WARMUP_UNITS
        raise BenchError(
            f"--orders plus --open-orders may be at most {most}: the seeded stock of "
            f"{', '.join(SKUS)} runs out beyond that"
        )
    begun = time.monotonic()
    load_before = report.load_average()
    steps, flow_version = standard_flow_steps()
    progress.note(
        f"standard flow v{flow_version}: {steps} steps, so {steps} activities per naive workflow"
    )
    figures: dict[str, Any] = {}
    figures |= await replay_phase(
        history_files(options.histories),
        options.replay_seconds,
        options.replay_processes,
        progress,
    )
    stack = BenchStack(keep_data=options.keep_data, database_url=options.database_url)
    try:
        # The API and the worker of the orders run: carrier events at once, and a one-second
        # return window so delivered orders reach COMPLETED rather than staying DELIVERED.
        stack.env |= {
            "OMS_CARRIER_DELAY_S": f"{ORDER_CARRIER_DELAY_S:g}",
            "OMS_RETURN_WINDOW_S": str(RETURN_WINDOW_S),
        }
        progress.start("stack")
        progress.update("Temporal dev server")
        await stack.start_server()
        progress.update("NATS server")
        stack.start_nats()
        progress.update("API")
        await stack.start_api()
        progress.update("simulated carrier")
        stack.start_carrier()
        progress.update("relay")
        await stack.start_relay()
        progress.update("worker")
        metrics_ports = [free_port() for _ in range(stack.worker_processes)]
        await stack.start_order_workers(
            lambda index: {"OMS_WORKER_METRICS_PORT": str(metrics_ports[index])}
        )
        progress.done(f"up in {stack.root}")
        worker = worker_settings(stack)
        figures |= await naive_phase(stack, options, steps, progress)
        figures |= await orders_phase(stack, options, progress, metrics_ports)
        assert stack.client is not None
        history = await typical_order_history(stack.client)
        figures |= order_history_figures(history)
        figures |= await same_shape_phase(
            stack,
            options,
            progress,
            shape_of(history),
            event_counts(history.events),
            RETURN_WINDOW_S,
        )
        figures |= await open_orders_phase(
            stack, options, progress, figures["orders_per_s"], MAX_UNITS - placed
        )
        figures |= await relay_alone_phase(
            stack, options.relay_events, figures["journal_events_per_s"], progress
        )
        figures |= targets.ratios(figures)
        figures["worker_max_cached_workflows"] = worker["max_cached_workflows"]
    finally:
        if options.keep_data:
            progress.note(f"data and logs kept in {stack.root}")
        stack.close()
    result: dict[str, Any] = {
        "benchmark": "temporal-oms",
        "started_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "duration_s": time.monotonic() - begun,
        **figures,
        "targets": targets.judge(figures),
        "machine": report.machine()
        | {"load_average_before": load_before, "load_average_after": report.load_average()},
        "options": options.as_json(),
        "stack": {
            "description": "temporal server start-dev (SQLite file, WAL), nats-server "
            "(JetStream), API (uvicorn), simulated carrier, relay, order worker and the floors' "
            "workers, each in its own processes, on free ports",
            "standard_flow_version": flow_version,
            "carrier_delay_s": ORDER_CARRIER_DELAY_S,
            "return_window_s": RETURN_WINDOW_S,
            "open_carrier_delay_s": OPEN_CARRIER_DELAY_S,
            "worker": worker,
            "completion_detection": "count_workflows on the visibility store (OrderStatus="
            '"COMPLETED" / ExecutionStatus="Completed"), polled with backoff 0.1 s to 1 s; '
            "throughput from the first submission to the last close time",
        },
    }
    return result


def write(result: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    from bench.options import parser, resolve

    options = resolve(parser().parse_args(argv))
    return execute(options)


def execute(options: Options) -> int:
    progress = Progress()
    try:
        result = asyncio.run(run(options, progress))
    except BenchError as error:
        progress.note(f"bench: the run broke: {error}")
        return 1
    except KeyboardInterrupt:
        progress.note("bench: interrupted")
        return 130
    write(result, options.output)
    print(report.header(result))
    print()
    print(table.table(result))
    print()
    print(f"written to {options.output}")
    return 0
