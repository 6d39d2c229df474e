"""What the phases read: the CPU each process of the stack used, visibility counts and the
close times the server records, the workers' SDK metrics (workflow cache) and memory, and
the carrier's bookings in the store. Warm-up work before each clock starts is not counted."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import datetime

import httpx
from temporalio.client import Client

from bench.report import Progress
from bench.stack import BenchError, BenchStack, rss_kb

WARMUP = 5
# Processes that stand in for the world outside the shop: their CPU is not the order's.
STAND_INS = ("bench", "carrier")
TROUBLE = '("CANCELLED", "FAILED", "NEEDS_REVIEW", "ON_HOLD")'


def orders_query(customer: str, status: str | None = None) -> str:
    query = f'WorkflowType = "OrderWorkflow" AND CustomerId = "{customer}"'
    return query + (f' AND OrderStatus = "{status}"' if status else "")


def per_second(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


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
