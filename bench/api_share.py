"""The API's CPU per order (one `POST /orders` and the carrier's webhooks for it), from the
API process's /proc counters, for one or more source trees of the API in turn:

    python -m bench.api_share --tree before=/tmp/oms-before --tree after=. [--rounds 3]

One stack (server, order worker, simulated carrier; no carrier delay, a 1 s return window)
serves all; per round and tree the API is started from that tree on the same port, warmed
up, and N orders are placed by C clients and waited for until COMPLETED. `--profile DIR`
samples the API with py-spy during each tree's first round."""

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

from bench.gauges import orders_query, wait_for_count
from bench.report import Progress
from bench.shoppers import place_many
from bench.stack import BenchStack
from oms.supervisor import cpu_seconds

WARMUP_ORDERS = 20


def parse_tree(value: str) -> tuple[str, Path]:
    label, _, path = value.partition("=")
    if not path:
        label, path = Path(value).resolve().name, value
    return label, Path(path).resolve()


async def start_api_from(stack: BenchStack, tree: Path) -> int:
    """The API process started from `tree` (its modules come first on the path)."""
    stack.stop("api")
    own_cwd = stack.cwd
    stack.cwd = tree
    try:
        await stack.start_api()
    finally:
        stack.cwd = own_cwd
    return stack.processes["api"].pid


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
) -> tuple[float, float]:
    """CPU ms per order of the running API, and orders/s, over `orders` orders."""
    pid = stack.processes["api"].pid
    warm = f"warm-{label}-{round_no}"
    progress.start(f"{label} #{round_no} warm-up")
    await place_many(stack, warm, WARMUP_ORDERS, clients)
    await wait_for_count(stack, orders_query(warm, "COMPLETED"), WARMUP_ORDERS, progress, "", 300)
    customer = f"api-{label}-{round_no}"
    progress.start(f"{label} #{round_no}")
    cpu_before, begun = cpu_seconds(pid), time.monotonic()
    await place_many(stack, customer, orders, clients, progress)
    query = orders_query(customer, "COMPLETED")
    await wait_for_count(stack, query, orders, progress, "completed", 600)
    used, wall = cpu_seconds(pid) - cpu_before, time.monotonic() - begun
    return used * 1000 / orders, orders / wall


async def run(args: argparse.Namespace) -> None:
    trees = [parse_tree(value) for value in args.tree] or [("here", Path.cwd())]
    stack = BenchStack()
    stack.env.update(OMS_CARRIER_DELAY_S="0", OMS_RETURN_WINDOW_S="1")
    # No broker: the API's share of an order is measured as it is without one.
    stack.env.pop("OMS_NATS_URL", None)
    progress = Progress()
    results: dict[str, list[float]] = {label: [] for label, _ in trees}
    try:
        await stack.start_server()
        await start_api_from(stack, trees[0][1])
        stack.start_carrier()
        await stack.start_order_workers()
        for round_no in range(1, args.rounds + 1):
            for label, tree in trees:
                pid = await start_api_from(stack, tree)
                profiler = None
                if args.profile is not None and round_no == 1:
                    args.profile.mkdir(parents=True, exist_ok=True)
                    profiler = start_profiler(pid, args.profile / f"api-{label}.txt")
                try:
                    ms, rate = await measure(
                        stack, label, round_no, args.orders, args.clients, progress
                    )
                finally:
                    if profiler is not None:
                        profiler.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
                        profiler.wait(timeout=30)
                results[label].append(ms)
                print(f"{label} #{round_no}: {ms:.2f} ms of API CPU per order, {rate:.1f} orders/s")
    finally:
        stack.close()
    print()
    print("| tree | API CPU ms per order, each run | median |")
    print("|---|---|---|")
    for label, runs in results.items():
        shown = ", ".join(f"{ms:.2f}" for ms in runs)
        median = f"{statistics.median(runs):.2f}" if runs else ""
        print(f"| {label} | {shown} | {median} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", action="append", default=[], help="LABEL=PATH of an API tree")
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", type=Path, default=None, help="a directory for py-spy")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
