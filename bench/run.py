"""The benchmark run: replay, then floor, orders and open orders on one embedded stack.

Phases, in order (each figure's key in the JSON in brackets):

1. replay — every stored history in tests/histories replayed with `Replayer` (the four
   workflow types, `pydantic_data_converter`, as tests/replay does) in one process per core
   (`bench.replay`): one warm-up round, then rounds until `--replay-seconds` have passed
   [replay_histories_per_s].
2. floor — `bench.floor.FloorWorkflow`, one regular activity per step of the latest
   `standard` flow, on a worker of its own with the order worker's tuning. N workflows are
   started by C concurrent submitters [floor_workflows_per_s].
3. orders — N `standard` orders POSTed by C concurrent HTTP clients, carrier delay 0 and a
   1 s return window so they reach COMPLETED [orders_per_s, ratio = orders/floor].
4. open orders — the order worker restarted with a carrier delay of an hour, so each order
   stays waiting for its shipment's dispatch; M orders POSTed by K concurrent clients
   [post_p50_ms, post_p99_ms], the worker's RSS before and after
   [worker_kb_per_open_order], then Q queries of one of them [query_p50_ms], then orders
   POSTed at a steady rate, half the orders run's throughput, for 10 s [post_paced_*]: the
   closed loop's latency is its queue (32 clients ÷ what the stack takes per second), the
   steady rate's is what a shopper waits at a load the stack sustains.

Both throughputs run from the first submission to the last close time the server records,
so how often completion is checked does not change them. Completion is checked with a
visibility count (`count_workflows`, e.g. `OrderStatus="COMPLETED"`): one cheap request per
check, backing off to one a second, where polling each order's view would cost a query (a
workflow task on the worker) per order per check, the very load being measured. Warm-up
workflows and orders, before each clock starts, are not counted.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client

from bench import report
from bench.floor import FloorWorkflow, standard_flow_steps
from bench.options import Options
from bench.replay import replay_phase
from bench.report import Progress, percentile
from bench.stack import OPERATOR_KEY, BenchError, BenchStack, free_port, rss_kb
from oms.history import history_files

ORDER_CARRIER_DELAY_S = 0.0
OPEN_CARRIER_DELAY_S = 3600.0
RETURN_WINDOW_S = 1
FLOOR_QUEUE = "bench-floor"
PACED_SECONDS = 10.0
WARMUP = 5
# Processes that stand in for the world outside the shop: their CPU is not the order's.
STAND_INS = ("bench", "carrier")
SKUS = ("TSHIRT-BLK-M", "TSHIRT-WHT-M")  # 10,000 units each across EWR and LAX
# One unit per order: past the seeded stock orders would wait in review for an operator.
MAX_UNITS = 19_000
ADDRESS = {
    "name": "Bench Customer",
    "line1": "1 Main St",
    "city": "Springfield",
    "postal_code": "12345",
    "country": "US",
}
TROUBLE = '("CANCELLED", "FAILED", "NEEDS_REVIEW", "ON_HOLD")'


def order_body(customer: str, n: int) -> dict[str, Any]:
    return {
        "customer_id": customer,
        "lines": [{"sku": SKUS[n % len(SKUS)], "quantity": 1}],
        "shipping_address": dict(ADDRESS),
        "payment": {"token": "tok_visa"},
        "order_type": "standard",
    }


def orders_query(customer: str, status: str | None = None) -> str:
    query = f'WorkflowType = "OrderWorkflow" AND CustomerId = "{customer}"'
    return query + (f' AND OrderStatus = "{status}"' if status else "")


def per_second(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


# -- helpers ---------------------------------------------------------------------------------


class CpuMeter:
    """How many cores each process of the stack (and the benchmark's own driver) kept busy
    between `__init__` and `read()`: CPU seconds over wall seconds."""

    def __init__(self, stack: BenchStack) -> None:
        self.stack = stack
        self.begun = time.monotonic()
        self.first = stack.cpu() | {"bench": time.process_time()}
        self.seconds: dict[str, float] = {}  # CPU seconds per kind of process, from `read()`

    def read(self) -> dict[str, float]:
        """Cores per kind of process: a worker's processes (`worker`, `worker-2`, ...) summed."""
        wall = time.monotonic() - self.begun
        now = self.stack.cpu() | {"bench": time.process_time()}
        self.seconds = {}
        for name in now:
            if name in self.first:
                kind = re.sub(r"-\d+$", "", name)
                used = now[name] - self.first[name]
                self.seconds[kind] = self.seconds.get(kind, 0.0) + used
        if wall <= 0:
            return {}
        return {kind: round(used / wall, 3) for kind, used in self.seconds.items()}

    def ms_per(self, count: int) -> dict[str, float]:
        """CPU milliseconds per unit of a run of `count` units, for each of the OMS's kinds
        of process, and their `total`. The stand-ins for the world outside the shop are left
        out: the benchmark's own driver (the shoppers) and the simulated carrier."""
        used = {kind: s * 1000 / count for kind, s in self.seconds.items() if kind not in STAND_INS}
        return {kind: round(ms, 2) for kind, ms in used.items()} | {
            "total": round(sum(used.values()), 2)
        }

    def stand_in_ms_per(self, kind: str, count: int) -> float:
        """CPU milliseconds per unit of one stand-in (`carrier`), for the record."""
        return round(self.seconds.get(kind, 0.0) * 1000 / count, 2)


async def run_concurrently(
    count: int, workers: int, job: Callable[[int], Awaitable[None]], on_done: Callable[[], None]
) -> None:
    """`job(0..count-1)` by `workers` concurrent loops taking the next index."""
    indices = iter(range(count))

    async def loop() -> None:
        for index in indices:
            await job(index)
            on_done()

    await asyncio.gather(*(loop() for _ in range(min(workers, count))))


async def wait_for_count(
    stack: BenchStack,
    query: str,
    target: int,
    progress: Progress,
    what: str,
    timeout: float,
    trouble: str | None = None,
) -> None:
    """Poll a visibility count with backoff (0.1 s up to 1 s) until it reaches `target`."""
    client = stack.client
    assert client is not None
    deadline = time.monotonic() + timeout
    delay = 0.1
    while True:
        stack.check_alive()
        done = (await client.count_workflows(query)).count
        progress.update(f"{what} {done}/{target}")
        if done >= target:
            return
        if trouble is not None and (bad := (await client.count_workflows(trouble)).count):
            raise BenchError(f"{bad} workflow(s) ended up in trouble: {trouble}")
        if time.monotonic() > deadline:
            raise BenchError(f"only {done}/{target} {what} within {timeout:.0f}s ({query})")
        await asyncio.sleep(delay)
        delay = min(1.0, delay * 1.5)


async def close_times(client: Client, query: str) -> list[tuple[datetime, datetime]]:
    found = []
    async for execution in client.list_workflows(query):
        if execution.close_time is not None:
            found.append((execution.start_time, execution.close_time))
    return found


def throughput(count: int, started_at: float, closed: list[tuple[datetime, datetime]]) -> float:
    last = max(close.timestamp() for _, close in closed)
    return per_second(count, last - started_at)


PLACE_ATTEMPTS = 5
RETRIES = {"503": 0}


async def place(http: httpx.AsyncClient, body: dict[str, Any]) -> tuple[float, str]:
    """POST one order as a careful client does: a 503 (the store or Temporal busy; nothing
    changed) is retried with the same Idempotency-Key after its Retry-After. The time
    returned is the whole placement, retries included; `RETRIES` counts them."""
    key = uuid.uuid4().hex
    begun = time.perf_counter()
    for _ in range(PLACE_ATTEMPTS):
        response = await http.post("/orders", json=body, headers={"Idempotency-Key": key})
        if response.status_code in (200, 201):
            return time.perf_counter() - begun, response.json()["order_id"]
        if response.status_code != 503:
            break
        RETRIES["503"] += 1
        await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
    raise BenchError(f"POST /orders answered {response.status_code}: {response.text[:300]}")


def api_client(stack: BenchStack, connections: int) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=stack.api_url,
        headers={"Authorization": f"Bearer {OPERATOR_KEY}"},
        timeout=60,
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
    )


async def place_many(
    stack: BenchStack,
    customer: str,
    count: int,
    clients: int,
    progress: Progress | None = None,
    what: str = "submitted",
) -> list[tuple[float, str]]:
    """`count` orders POSTed by `clients` concurrent clients, each its own connection."""
    results: list[tuple[float, str]] = []
    https = [api_client(stack, 1) for _ in range(min(clients, count))]
    indices = iter(range(count))

    async def loop(http: httpx.AsyncClient) -> None:
        for index in indices:
            results.append(await place(http, order_body(customer, index)))
            if progress is not None:
                progress.update(f"{what} {len(results)}/{count}")

    try:
        await asyncio.gather(*(loop(http) for http in https))
    finally:
        await asyncio.gather(*(http.aclose() for http in https))
    return results


async def place_paced(
    stack: BenchStack, customer: str, rate: float, seconds: float, clients: int
) -> list[tuple[float, str]]:
    """Orders POSTed at a steady `rate` for `seconds` over `clients` connections, each as it
    falls due (an open loop, as shoppers arrive), rather than each client's next order as
    soon as its last was answered, which measures the queue a closed loop builds."""
    count = max(1, round(rate * seconds))
    https = [api_client(stack, 1) for _ in range(min(clients, count))]
    free: asyncio.Queue[httpx.AsyncClient] = asyncio.Queue()
    for http in https:
        free.put_nowait(http)
    started = time.perf_counter()

    async def one(index: int) -> tuple[float, str]:
        await asyncio.sleep(max(0.0, started + index / rate - time.perf_counter()))
        http = await free.get()
        try:
            return await place(http, order_body(customer, index))
        finally:
            free.put_nowait(http)

    try:
        return list(await asyncio.gather(*(one(i) for i in range(count))))
    finally:
        await asyncio.gather(*(http.aclose() for http in https))


# -- phases ----------------------------------------------------------------------------------


async def floor_phase(
    stack: BenchStack, options: Options, steps: int, progress: Progress
) -> dict[str, Any]:
    client = stack.client
    assert client is not None
    progress.start("floor")
    await stack.start_floor_workers(FLOOR_QUEUE)
    progress.update("warming up")
    await asyncio.gather(
        *(
            client.execute_workflow(
                FloorWorkflow.run, steps, id=f"floor-warmup-{i}", task_queue=FLOOR_QUEUE
            )
            for i in range(WARMUP)
        )
    )
    submitted = 0

    async def start(index: int) -> None:
        await client.start_workflow(
            FloorWorkflow.run, steps, id=f"floor-run-{index}", task_queue=FLOOR_QUEUE
        )

    def on_start() -> None:
        nonlocal submitted
        submitted += 1
        progress.update(f"started {submitted}/{options.floor}")

    meter = CpuMeter(stack)
    started_at = time.time()
    await run_concurrently(options.floor, options.concurrency, start, on_start)
    query = 'WorkflowType = "FloorWorkflow" AND WorkflowId STARTS_WITH "floor-run-"'
    await wait_for_count(
        stack,
        query + ' AND ExecutionStatus = "Completed"',
        options.floor,
        progress,
        "completed",
        timeout=60 + options.floor,
    )
    cpu = meter.read()
    closed = await close_times(client, query)
    rate = throughput(options.floor, started_at, closed)
    latencies = [(close - start).total_seconds() for start, close in closed]
    progress.done(f"{rate:.1f} workflows/s")
    stack.stop_workers("floor-worker")
    return {
        "floor_workflows_per_s": rate,
        "floor_steps": steps,
        "floor_latency_p50_s": percentile(latencies, 50),
        "cpu_cores_floor": cpu,
        "cpu_ms_per_floor_workflow": meter.ms_per(options.floor),
    }


def start_profiler(stack: BenchStack, options: Options, progress: Progress):  # noqa: ANN201
    if options.profile_worker is None:
        return None
    here = Path(sys.executable).parent
    py_spy = shutil.which("py-spy", path=str(here)) or shutil.which("py-spy")
    if py_spy is None:
        raise BenchError("--profile-worker needs py-spy: .venv/bin/pip install '.[bench]'")
    options.profile_worker.parent.mkdir(parents=True, exist_ok=True)
    pid = stack.processes["worker"].pid
    progress.note(
        f"py-spy sampling the first order worker process (pid {pid}) into {options.profile_worker}"
    )
    return subprocess.Popen(
        [
            py_spy,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(int(options.profile_seconds)),
            "--rate",
            "100",
            "--format",
            "raw",
            "--output",
            str(options.profile_worker),
            *{"threads": [], "gil": ["--gil"], "native": ["--native"]}[options.profile_mode],
        ],
        stdout=subprocess.DEVNULL,
        stderr=(stack.logs / "py-spy.log").open("ab"),
    )


def stop_profiler(profiler: subprocess.Popen | None, stack: BenchStack) -> None:
    if profiler is None:
        return
    if profiler.poll() is None:
        profiler.send_signal(signal.SIGINT)  # py-spy writes what it has on Ctrl-C
    try:
        profiler.wait(timeout=30)
    except subprocess.TimeoutExpired:
        profiler.kill()
        profiler.wait()


async def orders_phase(
    stack: BenchStack, options: Options, progress: Progress, metrics_ports: list[int]
) -> dict[str, Any]:
    client = stack.client
    assert client is not None
    progress.start("orders")
    progress.update("warming up")
    await place_many(stack, "cus_bench_warmup", WARMUP, WARMUP)
    await wait_for_count(
        stack,
        orders_query("cus_bench_warmup", "COMPLETED"),
        WARMUP,
        progress,
        "warm-up completed",
        timeout=120,
        trouble=orders_query("cus_bench_warmup") + f" AND OrderStatus IN {TROUBLE}",
    )
    customer = "cus_bench_orders"
    profiler = start_profiler(stack, options, progress)
    retried = RETRIES["503"]
    evicted_before = await cache_evictions(metrics_ports)
    meter = CpuMeter(stack)
    try:
        started_at = time.time()
        await place_many(stack, customer, options.orders, options.concurrency, progress)
        query = orders_query(customer, "COMPLETED") + ' AND ExecutionStatus = "Completed"'
        await wait_for_count(
            stack,
            query,
            options.orders,
            progress,
            "completed",
            timeout=120 + 2 * options.orders,
            trouble=orders_query(customer) + f" AND OrderStatus IN {TROUBLE}",
        )
        cpu = meter.read()
    finally:
        stop_profiler(profiler, stack)
    retried = RETRIES["503"] - retried
    closed = await close_times(client, query)
    rate = throughput(options.orders, started_at, closed)
    latencies = [(close - start).total_seconds() for start, close in closed]
    progress.done(f"{rate:.1f} orders/s")
    return {
        "orders_per_s": rate,
        "order_latency_p50_s": percentile(latencies, 50),
        "cpu_cores_orders": cpu,
        "cpu_ms_per_order": meter.ms_per(options.orders),
        "cpu_ms_per_order_carrier": meter.stand_in_ms_per("carrier", options.orders),
        "orders_503_retries": retried,
        # Orders the worker dropped from a full workflow cache while the run went on: each
        # replays its history on its next task. 0: the cache held every order.
        "orders_cache_evictions": await cache_evictions(metrics_ports) - evicted_before,
    }


async def worker_metric(port: int, name: str) -> float | None:
    async with httpx.AsyncClient(timeout=5) as http:
        text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
    total = None
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total = (total or 0.0) + float(line.rsplit(" ", 1)[1])
    return total


async def cached_workflows(ports: list[int]) -> float | None:
    """Workflows in the sticky caches of the worker processes exporting on `ports`."""
    counts = [await worker_metric(port, "temporal_sticky_cache_size") for port in ports]
    return None if None in counts else sum(c for c in counts if c is not None)


async def cache_evictions(ports: list[int]) -> int:
    """Workflows the worker processes exporting on `ports` have evicted from a full cache so
    far (the SDK exports the counter only once it has counted one)."""
    name = "temporal_sticky_cache_total_forced_eviction"
    return int(sum([await worker_metric(port, name) or 0.0 for port in ports]))


async def settled_rss(pids: list[int], stack: BenchStack, quiet_s: float = 1.0) -> int:
    """The workers' RSS, summed, once it stops moving: two readings `quiet_s` apart within
    1%."""
    await asyncio.sleep(quiet_s)
    last = sum(rss_kb(pid) for pid in pids)
    for _ in range(20):
        await asyncio.sleep(quiet_s)
        stack.check_alive()
        now = sum(rss_kb(pid) for pid in pids)
        if abs(now - last) <= last / 100:
            return now
        last = now
    return last


async def wait_for_booked(
    stack: BenchStack, target: int, progress: Progress, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    delay = 0.1
    while (booked := await asyncio.to_thread(stack.booked_shipments)) < target:
        stack.check_alive()
        progress.update(f"waiting for the carrier {booked}/{target}")
        if time.monotonic() > deadline:
            raise BenchError(f"only {booked}/{target} shipments booked within {timeout:.0f}s")
        await asyncio.sleep(delay)
        delay = min(1.0, delay * 1.5)
    progress.update(f"waiting for the carrier {target}/{target}")


async def open_orders_phase(
    stack: BenchStack, options: Options, progress: Progress, paced_rate: float
) -> dict[str, Any]:
    from workflows.order import OrderWorkflow, order_workflow_id

    client = stack.client
    assert client is not None
    progress.start("open orders")
    progress.update(f"restarting the worker with OMS_CARRIER_DELAY_S={OPEN_CARRIER_DELAY_S:g}")
    stack.stop_workers("worker")
    metrics_ports = [free_port() for _ in range(stack.worker_processes)]
    workers = await stack.start_order_workers(
        lambda index: {
            "OMS_CARRIER_DELAY_S": f"{OPEN_CARRIER_DELAY_S:g}",
            "OMS_WORKER_METRICS_PORT": str(metrics_ports[index]),
        }
    )
    pids = [worker.pid for worker in workers]
    # Warm-up orders (open too) load the workflow code into every new worker process before
    # the baseline reading; they are not counted in the per-order figure.
    warmup = WARMUP * len(workers)
    await place_many(stack, "cus_bench_open_warmup", warmup, warmup)
    await wait_for_booked(stack, warmup, progress, timeout=120)
    before = await settled_rss(pids, stack)
    cached_before = await cached_workflows(metrics_ports) or 0
    evicted_before = await cache_evictions(metrics_ports)
    retried = RETRIES["503"]
    meter = CpuMeter(stack)
    placed = await place_many(
        stack, "cus_bench_open", options.open_orders, options.clients, progress
    )
    cpu = meter.read()
    await wait_for_booked(
        stack, warmup + options.open_orders, progress, timeout=120 + options.open_orders
    )
    progress.update("letting the worker settle")
    after = await settled_rss(pids, stack)
    cached = await cached_workflows(metrics_ports)
    evicted = await cache_evictions(metrics_ports) - evicted_before
    latencies_ms = [took * 1000 for took, _ in placed]

    # Queries on the first order placed: the one most likely to have left the cache.
    order_id = placed[0][1]
    handle = client.get_workflow_handle(order_workflow_id(order_id))
    direct: list[float] = []
    for i in range(options.queries):
        begun = time.perf_counter()
        await handle.query(OrderWorkflow.view)
        direct.append((time.perf_counter() - begun) * 1000)
        progress.update(f"query {i + 1}/{options.queries}")
    through_api: list[float] = []
    async with api_client(stack, 1) as http:
        for _ in range(options.queries):
            begun = time.perf_counter()
            response = await http.get(f"/orders/{order_id}")
            through_api.append((time.perf_counter() - begun) * 1000)
            if response.status_code != 200:
                raise BenchError(f"GET /orders/{order_id} answered {response.status_code}")
    # Submission latency at a load the stack sustains: half the orders run's throughput.
    progress.update(f"POSTing at a steady {paced_rate:.1f} orders/s")
    paced = await place_paced(stack, "cus_bench_paced", paced_rate, PACED_SECONDS, options.clients)
    paced_ms = [took * 1000 for took, _ in paced]
    per_order = (after - before) / options.open_orders
    p99 = percentile(latencies_ms, 99)
    progress.done(f"{per_order:.1f} KB per open order, POST p99 {p99:.1f} ms")
    return {
        "post_p50_ms": percentile(latencies_ms, 50),
        "post_p99_ms": percentile(latencies_ms, 99),
        "post_requests": len(latencies_ms),
        "post_paced_rate_per_s": paced_rate,
        "post_paced_p50_ms": percentile(paced_ms, 50),
        "post_paced_p99_ms": percentile(paced_ms, 99),
        "post_paced_requests": len(paced_ms),
        "post_503_retries": RETRIES["503"] - retried,
        "cpu_cores_open_orders_submission": cpu,
        # What each POST cost while the clients placed the open orders (the worker running
        # them to the carrier's hand-over meanwhile): a closed loop of C clients waits at
        # least C times the busiest process's share.
        "cpu_ms_per_post": meter.ms_per(options.open_orders),
        "worker_rss_before_kb": before,
        "worker_rss_after_kb": after,
        "worker_kb_per_open_order": per_order,
        "worker_cached_workflows": int(cached) if cached is not None else None,
        "open_orders_cache_evictions": evicted,
        "worker_kb_per_cached_workflow": (
            (after - before) / (cached - cached_before)
            if cached is not None and cached > cached_before
            else None
        ),
        "query_first_ms": direct[0],
        "query_p50_ms": percentile(direct, 50),
        "query_api_p50_ms": percentile(through_api, 50),
    }


# -- the run -----------------------------------------------------------------------------------


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
    if options.orders + options.open_orders + 2 * WARMUP > MAX_UNITS:
        raise BenchError(
            f"--orders plus --open-orders may be at most {MAX_UNITS - 2 * WARMUP}: the seeded "
            f"stock of {', '.join(SKUS)} runs out beyond that"
        )
    begun = time.monotonic()
    load_before = report.load_average()
    steps, flow_version = standard_flow_steps()
    progress.note(
        f"standard flow v{flow_version}: {steps} steps, so {steps} activities per floor workflow"
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
        progress.update("API")
        await stack.start_api()
        progress.update("simulated carrier")
        stack.start_carrier()
        progress.update("worker")
        metrics_ports = [free_port() for _ in range(stack.worker_processes)]
        await stack.start_order_workers(
            lambda index: {"OMS_WORKER_METRICS_PORT": str(metrics_ports[index])}
        )
        progress.done(f"up in {stack.root}")
        worker = worker_settings(stack)
        figures |= await floor_phase(stack, options, steps, progress)
        figures |= await orders_phase(stack, options, progress, metrics_ports)
        figures["ratio"] = figures["orders_per_s"] / figures["floor_workflows_per_s"]
        # What the ratio would be if both runs were held back by the machine's CPU alone.
        figures["cpu_cost_ratio"] = (
            figures["cpu_ms_per_floor_workflow"]["total"] / figures["cpu_ms_per_order"]["total"]
        )
        figures |= await open_orders_phase(
            stack, options, progress, paced_rate=figures["orders_per_s"] / 2
        )
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
        "targets": report.judge(figures),
        "machine": report.machine()
        | {"load_average_before": load_before, "load_average_after": report.load_average()},
        "options": options.as_json(),
        "stack": {
            "description": "temporal server start-dev (SQLite file, WAL), API (uvicorn), "
            "simulated carrier, order worker and floor worker, each in its own processes, "
            "on free ports",
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
    print(report.table(result))
    print()
    print(f"written to {options.output}")
    return 0
