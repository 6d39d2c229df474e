"""The event broker (NATS JetStream): its subjects and streams, created idempotently with
explicit limits, the client connection every process shares, and the embedded server
`oms run` starts when `OMS_NATS_URL` names none (docs/decisions/0013-event-broker.md)."""

from __future__ import annotations

import base64
import logging
import shutil
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import nats
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import NotFoundError

DAY_S = 24 * 3600.0

log = logging.getLogger("oms.broker")

# Subjects: every journal event out; orders and carrier events in; what can never be taken.
ORDER_EVENTS = "oms.orders"  # oms.orders.<order_id>.<EventType>
INTAKE_ORDERS = "oms.intake.orders"
CARRIER_EVENTS = "oms.carrier.events"
DEAD_LETTERS = "oms.intake.dead"


ORDERS_STREAM = "OMS_ORDERS"


def order_event_subject(order_id: str, event_type: str) -> str:
    return f"{ORDER_EVENTS}.{order_id}.{event_type}"


@dataclass(frozen=True)
class Stream:
    name: str
    subjects: tuple[str, ...]
    max_age_s: float
    max_bytes: int
    retention: RetentionPolicy = RetentionPolicy.LIMITS
    # JetStream drops a message whose Nats-Msg-Id it saw within this window: a publisher
    # that retries after a lost acknowledgement is never seen twice.
    duplicate_window_s: float = 300.0

    def config(self) -> StreamConfig:
        return StreamConfig(
            name=self.name,
            subjects=list(self.subjects),
            retention=self.retention,
            storage=StorageType.FILE,
            max_age=self.max_age_s,
            max_bytes=self.max_bytes,
            discard=DiscardPolicy.OLD,
            duplicate_window=self.duplicate_window_s,
            num_replicas=1,
        )


INTAKE_STREAM = "OMS_INTAKE"
DEAD_STREAM = "OMS_DEAD"
STREAMS = (
    # The journal, for every service that follows orders; a new consumer replays it.
    Stream(ORDERS_STREAM, (f"{ORDER_EVENTS}.>",), max_age_s=30 * DAY_S, max_bytes=8 << 30),
    # Work to take in: kept until a consumer acknowledges it (then gone).
    Stream(
        INTAKE_STREAM,
        (INTAKE_ORDERS, CARRIER_EVENTS),
        max_age_s=7 * DAY_S,
        max_bytes=1 << 30,
        retention=RetentionPolicy.WORK_QUEUE,
    ),
    # What could never be taken, with the reason, for a person to read.
    Stream(DEAD_STREAM, (DEAD_LETTERS,), max_age_s=30 * DAY_S, max_bytes=1 << 30),
)


async def connect(url: str, *, name: str, **options: Any) -> nats.NATS:
    """A connection that keeps trying to reconnect for as long as the process runs (the first
    connection too); `options` may override any of that. Its errors are logged one line
    each, and a repeated one once."""
    defaults: dict[str, Any] = {
        "max_reconnect_attempts": -1,
        "reconnect_time_wait": 0.5,
        "allow_reconnect": True,
        "error_cb": _error_logger(name),
    }
    return await nats.connect(url, name=name, **(defaults | options))


def _error_logger(name: str) -> Callable[[Exception], Awaitable[None]]:
    last = ""

    async def error(problem: Exception) -> None:
        nonlocal last
        said = str(problem) or type(problem).__name__
        if said != last:
            log.warning("%s: broker: %s", name, said)
        last = said

    return error


async def ensure_streams(js: JetStreamContext) -> list[str]:
    """Create each stream, or bring an existing one to today's limits; returns their names."""
    for stream in STREAMS:
        try:
            await js.stream_info(stream.name)
        except NotFoundError:
            await js.add_stream(stream.config())
        else:
            await js.update_stream(stream.config())
    return [stream.name for stream in STREAMS]


# What `oms intake` reads: one durable pull consumer per subject of the work queue, and the
# headers it reads from a message and adds to a dead letter (beside the original ones).
INTAKE_CONSUMERS = {INTAKE_ORDERS: "oms-intake-orders", CARRIER_EVENTS: "oms-intake-carrier"}
MESSAGE_ID = "Nats-Msg-Id"
SHIPMENT_ID = "Shipment-Id"
DEAD_REASON = "Oms-Dead-Reason"
DEAD_SUBJECT = "Oms-Dead-Subject"


def intake_consumer(subject: str, max_deliver: int, ack_wait_s: float) -> ConsumerConfig:
    """Explicit acknowledgement, no JetStream backoff (it would also cut the time a slow
    message has before it comes again: the intake naks with its own delays instead). One
    delivery more than `max_deliver`: the intake dead-letters at `max_deliver` itself, and
    the spare covers an intake stopped during that last try."""
    return ConsumerConfig(
        durable_name=INTAKE_CONSUMERS[subject],
        filter_subject=subject,
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=ack_wait_s,
        max_deliver=max_deliver + 1,
        max_ack_pending=1000,
    )


async def pull_intake(
    js: JetStreamContext, subject: str, max_deliver: int, ack_wait_s: float
) -> JetStreamContext.PullSubscription:
    """The intake's consumer on `subject`, created or brought to today's settings."""
    config = intake_consumer(subject, max_deliver, ack_wait_s)
    await js.add_consumer(INTAKE_STREAM, config)
    return await js.pull_subscribe_bind(durable=config.durable_name, stream=INTAKE_STREAM)


@dataclass(frozen=True)
class DeadLetter:
    seq: int
    time: datetime | None
    subject: str  # where the message was published
    reason: str
    headers: dict[str, str] = field(default_factory=dict)
    data: bytes = b""


async def publish_dead_letter(
    js: JetStreamContext, subject: str, headers: dict[str, str], data: bytes, reason: str
) -> None:
    """`data` on `oms.intake.dead` with `headers` and why it was never taken. A copy kept
    `Nats-Msg-Id`, so a dead letter published twice (its ack lost) is stored once."""
    dead = {**headers, DEAD_REASON: reason, DEAD_SUBJECT: subject}
    await js.publish(DEAD_LETTERS, data, headers=dead)


async def dead_letters(js: JetStreamContext, limit: int) -> list[DeadLetter]:
    """The last `limit` dead letters, oldest first."""
    try:
        state = (await js.stream_info(DEAD_STREAM)).state
    except NotFoundError:
        return []
    found: list[DeadLetter] = []
    for seq in range(max(state.first_seq, state.last_seq - limit + 1), state.last_seq + 1):
        try:
            raw = await js.get_msg(DEAD_STREAM, seq)
        except NotFoundError:
            continue  # removed by its age or by hand
        headers = _headers(raw.hdrs)
        found.append(
            DeadLetter(
                seq=seq,
                time=raw.time,
                subject=headers.pop(DEAD_SUBJECT, ""),
                reason=headers.pop(DEAD_REASON, ""),
                headers=headers,
                data=raw.data or b"",
            )
        )
    return found


def _headers(encoded: str | bytes | None) -> dict[str, str]:
    """A stored message's headers read as UTF-8 (nats-py's own reading mangles any that
    are not ASCII): `NATS/1.0` and then `Name: value` lines."""
    if not encoded:
        return {}
    lines = base64.b64decode(encoded).decode("utf-8", "replace").split("\r\n")[1:]
    pairs = (line.partition(":") for line in lines)
    return {name.strip(): value.strip() for name, colon, value in pairs if colon}


def nats_server_binary() -> str:
    here = Path(sys.executable).parent
    found = shutil.which("nats-server", path=str(here)) or shutil.which("nats-server")
    if not found:
        raise SystemExit("nats-server was not found; install the project (pip install -e .)")
    return found


def nats_server_command(port: int, store_dir: Path, host: str = "127.0.0.1") -> list[str]:
    """The embedded server: JetStream on, its store in the data directory."""
    return [
        nats_server_binary(),
        "--addr",
        host,
        "--port",
        str(port),
        "--jetstream",
        "--store_dir",
        str(store_dir),
    ]
