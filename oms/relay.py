"""The journal's relay (`oms relay`): publishes the outbox (store/outbox.py) to JetStream,
each event once and each order's events in `seq` order (docs/decisions/0013-event-broker.md).

One relay holds the lease and publishes; the others stand by until it lapses. Events leave
many at once but one at a time per order: an order's next event goes only once the broker
acknowledged the one before, so an event lost in an outage is never overtaken. Records are
deleted once acknowledged; the rest are published again, and JetStream drops what it already
stored by `Nats-Msg-Id`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import sys
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import TypeVar

import nats.errors
from nats.js import JetStreamContext
from nats.js.api import PubAck
from sqlalchemy.exc import SQLAlchemyError

from domain.events import JournalEvent
from oms import broker
from oms.config.settings import Settings
from oms.relay_metrics import RelayMetrics
from store import outbox
from store.db import Store

log = logging.getLogger("oms.relay")

BATCH = 500  # records taken at a time, in id order
ACK_TIMEOUT_S = 5.0  # how long one event waits for JetStream's acknowledgement
# How soon a relay with nothing due looks again: doubled while it stays idle, up to the cap,
# so that an idle relay costs little and the first event after a quiet spell waits ≤ 0.5 s.
IDLE_S, MAX_IDLE_S = 0.1, 0.5
BACKOFF_S, MAX_BACKOFF_S = 0.1, 2.0  # after a failure: doubled each time, up to the cap
BACKLOG_EVERY_S = 1.0  # how often the backlog is counted for the metrics

T = TypeVar("T")


def relay_command(settings: Settings) -> list[str]:
    """`oms relay` as a process of its own, serving its metrics on `relay_metrics_port` if
    set; the rest it reads from `OMS_*` (`OMS_DATABASE_URL`, `OMS_NATS_URL`, ...)."""
    command = [sys.executable, "-m", "oms.cli", "relay"]
    if settings.relay_metrics_port is not None:
        command += ["--metrics-port", str(settings.relay_metrics_port)]
    return command


def event_json(event: JournalEvent) -> bytes:
    """One event as `GET /orders/{id}/events` shows it: the API's response model
    (`api.models.OrderEventsPublic`) serializes each `JournalEvent` with pydantic."""
    return event.model_dump_json().encode()


def message_id(event: JournalEvent) -> str:
    return f"{event.order_id}:{event.seq}"


class Unpublished(Exception):
    """Events of the batch that JetStream did not acknowledge; their records stay due."""


class Relay:
    """Publishes the outbox while it holds the lease (`run`); one batch at a time (`step`)."""

    def __init__(
        self,
        store: Store,
        js: JetStreamContext,
        *,
        lease_s: float,
        batch: int = BATCH,
        ack_timeout_s: float = ACK_TIMEOUT_S,
        metrics: RelayMetrics | None = None,
        holder: str | None = None,
    ) -> None:
        self.store = store
        self.js = js
        self.lease_s = lease_s
        self.batch = batch
        self.ack_timeout_s = ack_timeout_s
        self.metrics = metrics or RelayMetrics()
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.leading = False
        self._held_until = 0.0  # on the event loop's clock
        self._counted_at = float("-inf")
        self._failure = ""
        self._idle_s = IDLE_S

    async def run(self, stop: asyncio.Event) -> None:
        """Publish until `stop` is set, finishing the batch under way; the lease is let go."""
        backoff = BACKOFF_S
        try:
            while not stop.is_set():
                try:
                    pause = await self.step()
                    backoff = BACKOFF_S
                except (SQLAlchemyError, OSError) as error:
                    log.warning("store: %s; again in %.1fs", _line(error), backoff)
                    pause, backoff = backoff, min(backoff * 2, MAX_BACKOFF_S)
                except Unpublished as error:
                    log.warning("broker: %s; again in %.1fs", error, backoff)
                    pause, backoff = backoff, min(backoff * 2, MAX_BACKOFF_S)
                await _pause(stop, pause)
        finally:
            await self.release()

    async def step(self) -> float:
        """Publish one batch when this relay leads; returns how long to wait before the next."""
        await self._count_backlog()
        if not await self._lead():
            return self.lease_s / 4
        records = await outbox.due(self.store, self.batch)
        if not records:
            idle, self._idle_s = self._idle_s, min(self._idle_s * 2, MAX_IDLE_S)
            return idle
        self._idle_s = IDLE_S
        await self.publish(records, deadline=self._held_until - self.lease_s * 0.2)
        return 0.0

    async def publish(self, records: list[outbox.Due], deadline: float) -> None:
        """Every order's events in turn, the orders at once; then the records of the events
        acknowledged are deleted in one transaction. Raises `Unpublished` for the rest.
        Nothing is sent after `deadline` (loop clock), before the lease could lapse."""
        orders: dict[str, list[outbox.Due]] = {}
        for record in records:
            orders.setdefault(record.event.order_id, []).append(record)
        chains = await asyncio.gather(
            *(self._publish_order(it, deadline) for it in orders.values())
        )
        acked = [record for chain in chains for record in chain]
        await outbox.done(self.store, [record.id for record in acked])
        if len(acked) < len(records):
            missing = len(records) - len(acked)
            raise Unpublished(
                f"{missing} of {len(records)} events not acknowledged ({self._failure})"
            )

    async def _publish_order(self, records: list[outbox.Due], deadline: float) -> list[outbox.Due]:
        """One order's events in `seq` order, each once the one before was acknowledged; stops
        at the first that is not."""
        loop = asyncio.get_running_loop()
        acked = []
        for record in records:
            wait = min(self.ack_timeout_s, deadline - loop.time())
            if wait <= 0:
                self._failure = "the lease's time for this batch ran out"
                break
            event = record.event
            try:
                ack = await asyncio.wait_for(await self._send(event), wait)
            except (nats.errors.Error, TimeoutError) as error:
                self._failure = _line(error)
                break
            self._count(record, ack)
            acked.append(record)
        return acked

    async def _send(self, event: JournalEvent) -> Awaitable[PubAck]:
        return await self.js.publish_async(
            broker.order_event_subject(event.order_id, event.type),
            event_json(event),
            headers={"Nats-Msg-Id": message_id(event)},
        )

    def _count(self, record: outbox.Due, ack: PubAck) -> None:
        if ack.duplicate:
            self.metrics.duplicates.inc()
            return
        self.metrics.published.inc()
        age = (datetime.now(UTC) - record.appended_at).total_seconds()
        self.metrics.publish_lag.observe(max(0.0, age))

    async def _lead(self) -> bool:
        """Hold the lease: renewed once a quarter of it has passed, taken when it lapsed."""
        loop = asyncio.get_running_loop()
        if self._held_until - loop.time() > self.lease_s * 0.75:
            return True
        asked = loop.time()
        held = await outbox.take_lease(self.store, self.holder, self.lease_s)
        self._held_until = asked + self.lease_s if held else 0.0
        if held != self.leading:
            log.info("%s %s", self.holder, "publishes" if held else "stands by")
        self.leading = held
        self.metrics.leader.set(1 if held else 0)
        return held

    async def _count_backlog(self) -> None:
        now = asyncio.get_running_loop().time()
        if now - self._counted_at >= BACKLOG_EVERY_S:
            self.metrics.saw(await outbox.backlog(self.store), datetime.now(UTC))
            self._counted_at = now

    async def release(self) -> None:
        """Let the lease go, so that a standby takes over without waiting for it to lapse."""
        if not self.leading:
            return
        self.leading = False
        self.metrics.leader.set(0)
        try:
            await outbox.release_lease(self.store, self.holder)
            log.info("%s lets the lease go", self.holder)
        except (SQLAlchemyError, OSError) as error:
            log.warning("store: %s; the lease lapses on its own", _line(error))


async def run_relay(
    settings: Settings,
    stop: asyncio.Event,
    *,
    batch: int = BATCH,
    metrics: RelayMetrics | None = None,
    metrics_port: int | None = None,
) -> None:
    """Connect to the store and the broker, make sure of the streams and publish until `stop`
    is set. The broker and the store are waited for, however long they are away."""
    if not settings.nats_url:
        raise ValueError("OMS_NATS_URL names no broker")
    metrics = metrics or RelayMetrics()
    port = metrics_port or settings.relay_metrics_port
    stop_serving = metrics.serve(port, settings.relay_metrics_host) if port else None
    store = Store(settings.resolved_database_url)
    connection = None
    try:
        connection = await _unless_stopped(
            stop, broker.connect(settings.nats_url, name="oms-relay", **settings.nats_options)
        )
        if connection is None:
            return
        js = connection.jetstream()
        if not await _streams_ready(js, stop):
            return
        relay = Relay(store, js, lease_s=settings.relay_lease_s, batch=batch, metrics=metrics)
        await relay.run(stop)
    finally:
        if connection is not None:
            with contextlib.suppress(nats.errors.Error, OSError):  # the broker may be away
                await connection.close()
        await store.close()
        if stop_serving is not None:
            stop_serving()


async def _streams_ready(js: JetStreamContext, stop: asyncio.Event) -> bool:
    backoff = BACKOFF_S
    while not stop.is_set():
        try:
            await broker.ensure_streams(js)
            return True
        except (nats.errors.Error, TimeoutError) as error:
            log.warning("broker: %s; again in %.1fs", _line(error), backoff)
        await _pause(stop, backoff)
        backoff = min(backoff * 2, MAX_BACKOFF_S)
    return False


async def _unless_stopped(stop: asyncio.Event, work: Awaitable[T]) -> T | None:
    """`work`'s result, or None when `stop` is set first (then `work` is cancelled)."""
    task = asyncio.ensure_future(work)
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait((task, stopped), return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if task.done():
        return task.result()
    task.cancel()
    return None


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    if seconds <= 0:
        return
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass


def _line(error: BaseException) -> str:
    said = str(error).strip().splitlines()
    return f"{type(error).__name__}: {said[0]}" if said else type(error).__name__
