"""The journal's relay under the benchmark. During the orders run (`RelayWatch`): events
appended and published per second, and the lag from append to the broker's acknowledgement
[relay_events_per_s, journal_events_per_s, relay_lag_p50_ms, relay_lag_p99_ms]. Alone, with
the relay stopped, a backlog appended through `store.journal.append` (outbox records as in
production), then the relay started and timed until it has published all of it
[relay_alone_events_per_s], over the orders run's journal rate [relay_headroom]."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from bench.relay_figures import RelaySample, headroom, parse, relay_figures
from bench.report import Progress
from bench.stack import BenchError, BenchStack
from domain.events import EventType, JournalEvent
from store import journal
from store.db import Store

EVENTS_PER_ORDER = 40  # a backlog's events per order, appended a batch at a time
BATCH = 8  # events per append, its orders taking turns, as concurrent orders write
POLL_S = 0.02  # how often the relay's metrics are read while it drains the backlog
KINDS = (
    EventType.ORDER_PLACED,
    EventType.ORDER_VALIDATED,
    EventType.FRAUD_CHECKED,
    EventType.INVENTORY_RESERVED,
    EventType.PAYMENT_AUTHORIZED,
    EventType.SHIPMENT_CREATED,
    EventType.SHIPMENT_BOOKED,
    EventType.SHIPMENT_DISPATCHED,
    EventType.SHIPMENT_IN_TRANSIT,
    EventType.SHIPMENT_DELIVERED,
)


async def relay_sample(port: int) -> RelaySample:
    async with httpx.AsyncClient(timeout=5) as http:
        return parse((await http.get(f"http://127.0.0.1:{port}/metrics")).text)


async def wait_for_empty_outbox(stack: BenchStack, timeout: float) -> float:
    """Wait until the relay has published every event appended; returns when (monotonic)."""
    deadline = time.monotonic() + timeout
    while (due := await asyncio.to_thread(stack.outbox_due)) > 0:
        stack.check_alive()
        if time.monotonic() > deadline:
            raise BenchError(f"the relay left {due} events unpublished after {timeout:.0f}s")
        await asyncio.sleep(0.05)
    return time.monotonic()


class RelayWatch:
    """The relay over a phase: `begin()` once the outbox is empty, `end()` at the phase's
    end, then `figures()` once the relay has caught up."""

    def __init__(self, stack: BenchStack) -> None:
        self.stack = stack
        self.port = stack.relay_metrics_port

    async def begin(self) -> None:
        await wait_for_empty_outbox(self.stack, 60)
        self.journal_before = await asyncio.to_thread(self.stack.journal_events)
        self.before = await relay_sample(self.port)
        self.begun = time.monotonic()

    async def end(self) -> None:
        self.seconds = time.monotonic() - self.begun
        self.after = await relay_sample(self.port)
        self.journal_after = await asyncio.to_thread(self.stack.journal_events)

    async def figures(self) -> dict[str, Any]:
        caught_up = await wait_for_empty_outbox(self.stack, 60)
        drained = await relay_sample(self.port)
        appended = self.journal_after - self.journal_before
        return relay_figures(self.before, self.after, drained, self.seconds, appended) | {
            "relay_caught_up_after_s": max(0.0, caught_up - self.begun - self.seconds)
        }


def backlog_events(order_index: int, at: datetime) -> list[JournalEvent]:
    """One order's events of the backlog, small ones as the order's steps write."""
    order_id = f"bench-relay-{order_index:06d}"
    return [
        JournalEvent(
            order_id=order_id,
            seq=seq,
            type=KINDS[(seq - 1) % len(KINDS)],
            at=at + timedelta(milliseconds=seq),
            data={"step": f"step-{seq}", "amount": "19.99", "currency": "EUR"},
        )
        for seq in range(1, EVENTS_PER_ORDER + 1)
    ]


async def append_backlog(database_url: str, events: int) -> int:
    """`events` (rounded up to whole orders) appended by `store.journal.append`, `BATCH` at a
    time, the orders taking turns; returns how many."""
    orders = -(-events // EVENTS_PER_ORDER)
    now = datetime.now(UTC)
    made = [backlog_events(index, now) for index in range(orders)]
    store = Store(database_url)
    try:
        for start in range(0, EVENTS_PER_ORDER, BATCH):
            for order in made:
                await journal.append(store, order[start : start + BATCH])
    finally:
        await store.close()
    return orders * EVENTS_PER_ORDER


async def time_drain(stack: BenchStack, events: int, timeout: float) -> tuple[float, float]:
    """Start the relay and read its metrics until it has published `events`: seconds from
    its start to the last reading before its first publish, and from there to the first
    reading with all of them published."""
    started = time.monotonic()
    process = await stack.start_relay(wait=False)
    idle = started  # the last reading with nothing published yet
    while True:
        if process.poll() is not None:
            raise BenchError(f"the relay exited with code {process.returncode}")
        now = time.monotonic()
        if now - started > timeout:
            raise BenchError(f"the relay did not publish {events} events in {timeout:.0f}s")
        try:
            published = (await relay_sample(stack.relay_metrics_port)).published
        except httpx.HTTPError:
            published = 0.0  # its metrics not served yet
        if published >= events:
            return idle - started, now - idle
        if published == 0:
            idle = now
        await asyncio.sleep(POLL_S)


async def relay_alone_phase(
    stack: BenchStack, events: int, journal_per_s: float | None, progress: Progress
) -> dict[str, Any]:
    progress.start("relay alone")
    progress.update("waiting for the outbox to empty")
    await wait_for_empty_outbox(stack, 60)
    stack.stop_relay()
    progress.update(f"appending {events} events")
    begun = time.monotonic()
    appended = await append_backlog(stack.env["OMS_DATABASE_URL"], events)
    append_s = time.monotonic() - begun
    progress.update(f"relay draining {appended} events")
    start_s, drain_s = await time_drain(stack, appended, timeout=120)
    await wait_for_empty_outbox(stack, 30)
    rate = appended / drain_s
    progress.done(f"{rate:.0f} events/s")
    return {
        "relay_alone_events_per_s": rate,
        "relay_headroom": headroom(rate, journal_per_s),
        "relay_alone": {
            "events": appended,
            "orders": appended // EVENTS_PER_ORDER,
            "events_per_append": BATCH,
            "append_s": round(append_s, 3),
            "relay_start_s": round(start_s, 3),
            "drain_s": round(drain_s, 3),
        },
    }
