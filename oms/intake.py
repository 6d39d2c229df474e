"""`oms intake`: orders and carrier events taken from the broker. Each message goes to the
code behind `POST /orders` or the carrier webhook (`api.ordering`) and is acknowledged once
the workflow start or signal is accepted. What can never be taken goes to `oms.intake.dead`
with the API's words for it; what fails for now comes again after a delay (`BACKOFF_S`),
and is dead-lettered after `OMS_INTAKE_MAX_DELIVER` deliveries (docs/api.md)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from prometheus_client import CollectorRegistry, Counter, start_http_server
from temporalio.client import Client

from api.middleware.card_numbers import CARD_MESSAGE, contains_card_number, redact
from api.models import OrderCreate
from api.ordering import apply_carrier_event, place_order, read_body, refusal
from domain.text import escaped, text_problem
from oms import broker
from oms.config.settings import Settings
from oms.config.temporal import connect
from store.db import Store
from store.orders import BROKER_OWNER, broker_key
from workflows.shipment import CarrierEvent

log = logging.getLogger("oms.intake")

BACKOFF_S = (1.0, 2.0, 5.0, 10.0)  # before the 2nd, 3rd, 4th and every later delivery
BATCH = 32  # orders are taken side by side; carrier events one at a time, in order
MAX_MESSAGE_ID = 250  # the claim's key is `nats:` and the id: 255 characters at most
MAX_FAILURE = 300
OUTCOMES = {
    broker.INTAKE_ORDERS: ("placed", "duplicate", "dead", "retried"),
    broker.CARRIER_EVENTS: ("applied", "dead", "retried"),
}


class Refused(Exception):
    """A message that can never be taken, and why."""


class IntakeMetrics:
    """`oms_intake_messages_total{subject,outcome}`, `oms_intake_dead_letters_total{subject}`."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.messages = Counter(
            "oms_intake_messages",
            "messages taken from the broker: placed, duplicate, applied, dead or retried",
            ["subject", "outcome"],
            registry=self.registry,
        )
        self.dead_letters = Counter(
            "oms_intake_dead_letters",
            "messages put on oms.intake.dead, by the subject they came on",
            ["subject"],
            registry=self.registry,
        )
        for subject, outcomes in OUTCOMES.items():
            self.dead_letters.labels(subject)
            for outcome in outcomes:
                self.messages.labels(subject, outcome)


def failure(error: BaseException) -> str:
    """A failure that may pass, as one line for a log or a dead letter."""
    text = redact(escaped(f"{type(error).__name__}: {error}".replace("\n", " ")))
    return text if len(text) <= MAX_FAILURE else text[: MAX_FAILURE - 1] + "…"


def header(headers: dict[str, str], name: str, meaning: str) -> str:
    """A header the message must carry, fit to be a key or an id."""
    value = headers.get(name, "")
    if not value:
        raise Refused(f"the message has no {name} header: {meaning}")
    if contains_card_number(value):
        raise Refused(f"422 header {name}: {CARD_MESSAGE}")
    if problem := text_problem(value):
        raise Refused(f"422 header {name}: the value {problem}")
    return value


@dataclass
class Intake:
    settings: Settings
    store: Store
    client: Client
    js: JetStreamContext
    metrics: IntakeMetrics

    async def take(self, subject: str, msg: Msg) -> str:
        """What became of the message (an outcome), or an error saying why not."""
        headers = msg.headers or {}
        if subject == broker.INTAKE_ORDERS:
            body = read_body(msg.data, OrderCreate)
            message_id = header(headers, broker.MESSAGE_ID, "it is the order's idempotency key")
            if len(message_id) > MAX_MESSAGE_ID:
                raise Refused(f"{broker.MESSAGE_ID} is longer than {MAX_MESSAGE_ID} characters")
            placement = await place_order(
                self.store,
                self.client,
                self.settings,
                body,
                owner=BROKER_OWNER,
                key=broker_key(message_id),
                key_name=broker.MESSAGE_ID,
                shown_key=message_id,
            )
            return "placed" if placement.created else "duplicate"
        event = read_body(msg.data, CarrierEvent)
        shipment_id = header(headers, broker.SHIPMENT_ID, "it names the shipment")
        if event.event_id is None and headers.get(broker.MESSAGE_ID):
            # The message's id stands in for the event's: a redelivery changes nothing.
            event = event.model_copy(update={"event_id": f"nats:{headers[broker.MESSAGE_ID]}"})
        await apply_carrier_event(self.client, shipment_id, event)
        return "applied"

    async def handle(self, subject: str, msg: Msg) -> None:
        """Take one message: acknowledge it, dead-letter it, or have it come again later."""
        delivered = msg.metadata.num_delivered or 1
        try:
            async with self.working_on(msg):
                outcome = await self.take(subject, msg)
        except Exception as error:
            reason = str(error) if isinstance(error, Refused) else refusal(error)
            if reason is None and delivered < self.settings.intake_max_deliver:
                delay = BACKOFF_S[min(delivered, len(BACKOFF_S)) - 1]
                log.warning(
                    "%s: delivery %d failed, again in %gs: %s",
                    *(subject, delivered, delay, failure(error)),
                )
                await msg.nak(delay=delay)
                self.metrics.messages.labels(subject, "retried").inc()
                return
            if reason is None:
                reason = f"gave up after {delivered} deliveries: {failure(error)}"
            await self.dead_letter(subject, msg, reason)
            return
        await self.acknowledge(msg)
        self.metrics.messages.labels(subject, outcome).inc()

    async def dead_letter(self, subject: str, msg: Msg, reason: str) -> None:
        """The message, its headers and why, on `oms.intake.dead`, with any card number in
        them masked; then acknowledged. If the broker takes no dead letter now, it comes again."""
        headers = {name: redact(value) for name, value in (msg.headers or {}).items()}
        text = msg.data.decode("utf-8", "replace")
        data = redact(text).encode() if contains_card_number(text) else msg.data
        try:
            await broker.publish_dead_letter(self.js, subject, headers, data, reason)
        except Exception as error:
            log.warning("%s: no dead letter now (%s); the message comes again", subject, error)
            await msg.nak(delay=BACKOFF_S[-1])
            return
        log.info("%s: dead letter: %s", subject, reason)
        await self.acknowledge(msg)
        self.metrics.messages.labels(subject, "dead").inc()
        self.metrics.dead_letters.labels(subject).inc()

    async def acknowledge(self, msg: Msg) -> None:
        try:
            await msg.ack_sync(timeout=5)
        except Exception as error:  # it comes again, and the claim or event id answers it
            log.warning("acknowledgement not confirmed: %s", error)

    @contextlib.asynccontextmanager
    async def working_on(self, msg: Msg) -> AsyncIterator[None]:
        """Tells JetStream the message is in hand while it takes long (a Temporal retry)."""

        async def beat() -> None:
            while True:
                await asyncio.sleep(self.settings.intake_ack_wait_s / 3)
                await msg.in_progress()

        task = asyncio.create_task(beat())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def consume(
        self, subject: str, subscription: JetStreamContext.PullSubscription, stop: asyncio.Event
    ) -> None:
        while not stop.is_set():
            try:
                messages = await subscription.fetch(BATCH, timeout=1.0)
            except TimeoutError:  # nothing to take (nats' own TimeoutError is one too)
                continue
            except Exception as error:  # the broker away: the connection reconnects
                log.warning("%s: fetch failed: %r", subject, error)
                await asyncio.sleep(1.0)
                continue
            if subject == broker.CARRIER_EVENTS:
                for msg in messages:  # a shipment's events in the order they were sent
                    await self.guarded(subject, msg)
            else:
                await asyncio.gather(*(self.guarded(subject, msg) for msg in messages))

    async def guarded(self, subject: str, msg: Msg) -> None:
        try:
            await self.handle(subject, msg)
        except Exception:  # the broker went away mid-answer: the message comes again
            log.exception("%s: the message is left to come again", subject)


async def serve(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Take messages until `stop` is set (SIGINT or SIGTERM when none is given)."""
    if not settings.nats_url:
        raise SystemExit("oms intake needs the broker: set OMS_NATS_URL")
    if stop is None:
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    metrics = IntakeMetrics()
    exporter = None
    if settings.intake_metrics_port is not None:
        exporter, _ = start_http_server(
            settings.intake_metrics_port, settings.intake_metrics_host, metrics.registry
        )
    store = Store(settings.resolved_database_url)
    try:
        client = await connect(settings)
        options = settings.nats_options
        connection = await broker.connect(settings.nats_url, name="oms-intake", **options)
        try:
            js = connection.jetstream()
            await broker.ensure_streams(js)
            intake = Intake(settings, store, client, js, metrics)
            limits = (settings.intake_max_deliver, settings.intake_ack_wait_s)
            pulls = {s: await broker.pull_intake(js, s, *limits) for s in broker.INTAKE_CONSUMERS}
            log.info("taking %s from %s", ", ".join(pulls), settings.nats_url)
            await asyncio.gather(*(intake.consume(s, pull, stop) for s, pull in pulls.items()))
        finally:
            await connection.close()
    finally:
        await store.close()
        if exporter is not None:
            exporter.shutdown()
            exporter.server_close()


def intake_command(settings: Settings) -> list[str]:
    """`oms intake` as a process of its own, for the launcher (the broker's URL in its env)."""
    port = settings.intake_metrics_port
    return [sys.executable, "-m", "oms.cli", "intake"] + (
        ["--metrics-port", str(port)] if port is not None else []
    )
