"""CPU per order by process (the Temporal server, the order worker, the API: a `POST /orders`,
the carrier's webhooks and the order's run), from each process's /proc counters, for one or
more source trees of one part of the OMS in turn, the rest of the stack shared:

    python -m bench.share --part worker --tree before=/tmp/oms-before --tree after=. [--rounds 3]

One stack (server, API, order worker, simulated carrier; no carrier delay, a 1 s return
window) serves all; per round and tree the part (`api` or `worker`) is started from that tree,
warmed up, and N orders are placed by C clients and waited for until COMPLETED. Alternating
the trees on one warm machine is what makes their figures comparable. `--profile DIR`
samples the part with py-spy during each tree's first round."""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.gauges import CpuMeter, orders_query, wait_for_count
from bench.report import Progress
from bench.shoppers import place_many
from bench.stack import BenchStack

WARMUP_ORDERS = 20


def parse_tree(value: str) -> tuple[str, Path]:
    label, _, path = value.partition("=")
    if not path:
        label, path = Path(value).resolve().name, value
    return label, Path(path).resolve()


async def start_from(stack: BenchStack, part: str, tree: Path) -> int:
    """The part's process (`api` or `worker`) started from `tree` (its modules come first on
    the path): its pid."""
    if part == "api":
        stack.stop("api")
    else:
        stack.stop_workers("worker")
    own_cwd = stack.cwd
    stack.cwd = tree
    try:
        if part == "api":
            await stack.start_api()
        else:
            await stack.start_order_workers()
    finally:
        stack.cwd = own_cwd
    return stack.processes[part].pid


def start_profiler(pid: int, path: Path) -> subprocess.Popen | None:
    py_spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if py_spy is None:
        print("bench: py-spy not installed; no profile", file=sys.stderr)
        return None
    # GIL-holding samples only (the process's Python CPU time), without pausing it.
    options = ["--gil", "--rate", "500", "--nonblocking", "--format", "raw"]
    command = [py_spy, "record", "--pid", str(pid), *options, "-o", str(path)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL)


async def measure(
    stack: BenchStack, label: str, round_no: int, orders: int, clients: int, progress: Progress
) -> tuple[dict[str, float], float]:
    """CPU ms per order of each process, and orders/s, over `orders` orders."""
    warm = f"warm-{label}-{round_no}"
    progress.start(f"{label} #{round_no} warm-up")
    await place_many(stack, warm, WARMUP_ORDERS, clients)
    await wait_for_count(stack, orders_query(warm, "COMPLETED"), WARMUP_ORDERS, progress, "", 300)
    customer = f"api-{label}-{round_no}"
    progress.start(f"{label} #{round_no}")
    meter, begun = CpuMeter(stack), time.monotonic()
    await place_many(stack, customer, orders, clients, progress)
    query = orders_query(customer, "COMPLETED")
    await wait_for_count(stack, query, orders, progress, "completed", 600)
    meter.read()
    return meter.ms_per(orders), orders / (time.monotonic() - begun)


async def run(args: argparse.Namespace) -> None:
    trees = [parse_tree(value) for value in args.tree] or [("here", Path.cwd())]
    stack = BenchStack()
    stack.env.update(OMS_CARRIER_DELAY_S="0", OMS_RETURN_WINDOW_S="1")
    # No broker: an order's share is measured as it is without one.
    stack.env.pop("OMS_NATS_URL", None)
    progress = Progress()
    results: dict[str, list[dict[str, float]]] = {label: [] for label, _ in trees}
    try:
        await stack.start_server()
        await stack.start_api()
        stack.start_carrier()
        await stack.start_order_workers()
        for round_no in range(1, args.rounds + 1):
            for label, tree in trees:
                pid = await start_from(stack, args.part, tree)
                profiler = None
                if args.profile is not None and round_no == 1:
                    args.profile.mkdir(parents=True, exist_ok=True)
                    profiler = start_profiler(pid, args.profile / f"{args.part}-{label}.txt")
                try:
                    ms, rate = await measure(
                        stack, label, round_no, args.orders, args.clients, progress
                    )
                finally:
                    if profiler is not None:
                        profiler.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
                        profiler.wait(timeout=30)
                results[label].append(ms)
                print(f"{label} #{round_no}: {by_process(ms)} ms per order, {rate:.1f} orders/s")
    finally:
        stack.close()
    print()
    print("| tree | CPU ms per order: server · worker · API = total, each run | median total |")
    print("|---|---|---|")
    for label, runs in results.items():
        shown = "; ".join(by_process(ms) for ms in runs)
        median = f"{statistics.median(ms['total'] for ms in runs):.1f}" if runs else ""
        print(f"| {label} | {shown} | {median} |")


def by_process(ms: dict[str, float]) -> str:
    parts = " · ".join(f"{ms.get(kind, 0.0):.1f}" for kind in ("temporal", "worker", "api"))
    return f"{parts} = {ms['total']:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=("api", "worker"), default="api")
    parser.add_argument("--tree", action="append", default=[], help="LABEL=PATH of a source tree")
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", type=Path, default=None, help="a directory for py-spy")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
