"""The fault drill (docs/operations.md): a steady load of mixed orders while the system is
hurt on purpose, on a stack of its own run as separate processes (the Temporal dev server,
the API, a worker, the carrier, a nats-server and `oms relay`) on a fresh PostgreSQL database.
The worker is killed again and again; Temporal, the store and the broker go away and come
back; the relay is killed as it drains; the gateway is flaky. Then it checks what finance,
the warehouse and a service following the broker would: orders settled, ledger = orders, no
open authorization, no journal gap, no leaked stock, read model = rebuild, and `OMS_ORDERS`
holding every order's journal exactly, each event once, in `seq` order."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import nats
import psycopg
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from sqlalchemy import func, select

from adapters.carrier_simulator import with_carrier_key
from api.serve import api_command
from oms.broker import MESSAGE_ID, ORDER_EVENTS, ORDERS_STREAM, order_event_subject
from oms.config.settings import Settings
from oms.processes import wait_for_port
from oms.relay import relay_command
from oms.supervisor import CARRIER_COMMAND, dev_server_command
from store import outbox
from store.db import Store
from store.projections import rebuild
from store.sandbox_tables import PaymentAuthorization
from store.tables import OrderEvent, Reservation, StockLevel
from tests.helpers.nats_server import NatsServer
from tests.helpers.stack import free_port
from tests.store.test_projections import table_rows

OPERATOR_KEY = "drill-operator-key"
TERMINAL = {"COMPLETED", "CANCELLED", "FAILED"}
ADDRESS = {
    "name": "Drill Customer",
    "line1": "1 Main St",
    "city": "Springfield",
    "postal_code": "12345",
    "country": "US",
}


@dataclass
class DrillOptions:
    orders: int = 200
    rate_per_s: float = 5.0  # a steady load: the faults land while orders are in flight
    concurrency: int = 16
    kill_every_s: float = 4.0
    server_restart_at_s: float = 8.0
    store_outage_at_s: float = 16.0
    store_outage_s: float = 3.0
    gateway_fault_rate: float = 0.1
    gateway_lost_reply_rate: float = 0.05
    broker_restart_at_s: float = 24.0
    broker_outage_s: float = 3.0
    relay_kill_within_s: float = 10.0  # after the broker is back, once the relay publishes
    relay_lease_s: float = 3.0  # how soon the restarted relay takes over the killed one's
    drain_timeout_s: float = 120.0
    settle_timeout_s: float = 300.0
    seed: int = 7
    pg_admin_url: str = os.environ.get(
        "OMS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )


@dataclass
class Outcome:
    """What happened and what the checks found; `problems` empty means the drill passed."""

    placed: list[str] = field(default_factory=list)
    kinds: Counter = field(default_factory=Counter)
    interventions: Counter = field(default_factory=Counter)
    statuses: Counter = field(default_factory=Counter)
    http_codes: Counter = field(default_factory=Counter)
    outage_codes: Counter = field(default_factory=Counter)
    worker_kills: int = 0
    server_restarts: int = 0
    store_outages: int = 0
    gateway_faults: int = 0
    gateway_lost_replies: int = 0
    broker_restarts: int = 0
    relay_kills: int = 0
    events_journaled: int = 0
    events_on_broker: int = 0
    broker_duplicates: int = 0  # as the relays reported them
    backlog_settled: int = 0
    drained_s: float = 0.0
    waiting: dict[str, str] = field(default_factory=dict)
    captured_minor: int = 0
    refunded_minor: int = 0
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        lines = [
            "fault drill summary",
            f"  orders placed        {len(self.placed)} ({_counts(self.kinds)})",
            f"  interventions        {_counts(self.interventions)}",
            f"  final statuses       {_counts(self.statuses)}",
            f"  waiting as expected  {len(self.waiting)} "
            f"({_counts(Counter(self.waiting.values()))})",
            f"  worker SIGKILLs      {self.worker_kills}",
            f"  Temporal restarts    {self.server_restarts}",
            f"  store outages        {self.store_outages} "
            f"(API answers meanwhile: {_counts(self.outage_codes)})",
            f"  gateway faults       {self.gateway_faults} failed before, "
            f"{self.gateway_lost_replies} replies lost after the work",
            f"  NATS restarts        {self.broker_restarts}",
            f"  relay SIGKILLs       {self.relay_kills}",
            f"  journal on broker    {self.events_on_broker} events published "
            f"({self.events_journaled} journaled), {self.broker_duplicates} duplicates dropped "
            "by the broker",
            f"  relay backlog        {self.backlog_settled} events due once settled, drained "
            f"in {self.drained_s:.1f} s",
            f"  HTTP answers         {_counts(self.http_codes)}",
            f"  money                captured {self.captured_minor}, refunded "
            f"{self.refunded_minor} (gateway ledger = orders)",
            f"  reconciliation       {'OK' if not self.problems else 'FAILED'}",
            f"  took                 {self.seconds:.0f} s",
        ]
        lines += [f"  problem: {problem}" for problem in self.problems[:30]]
        return "\n".join(lines)


def _counts(counter: Counter) -> str:
    ordered = sorted(counter.items(), key=lambda item: str(item[0]))
    return ", ".join(f"{key} {count}" for key, count in ordered) or "none"


class Processes:
    """The stack's processes, each logging to a file in the data directory."""

    def __init__(
        self, data_dir: Path, settings: Settings, env: dict[str, str], broker: NatsServer
    ) -> None:
        self.data_dir = data_dir
        self.settings = settings
        self.env = env
        self.broker = broker
        self.server: subprocess.Popen | None = None
        self.api: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None
        self.carrier: subprocess.Popen | None = None
        self.relay: subprocess.Popen | None = None
        self.worker_starts = 0

    def _spawn(self, name: str, command: list[str]) -> subprocess.Popen:
        log = open(self.data_dir / f"{name}.log", "ab")  # noqa: SIM115 (owned by the process)
        return subprocess.Popen(
            command, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def start_server(self) -> None:
        self.server = self._spawn("temporal", dev_server_command(self.settings))
        wait_for_port("127.0.0.1", self.settings.temporal_port, self.server, "Temporal", 60)

    def stop_server(self) -> None:
        assert self.server is not None
        self.server.terminate()
        self.server.wait(30)

    def start_api(self) -> None:
        self.api = self._spawn("api", api_command(self.settings))

    def start_carrier(self) -> None:
        self.carrier = self._spawn("carrier", CARRIER_COMMAND)

    def start_worker(self) -> None:
        self.worker_starts += 1
        self.worker = self._spawn("worker", [sys.executable, "-m", "workers.main"])

    def kill_worker(self) -> None:
        assert self.worker is not None
        self.worker.send_signal(signal.SIGKILL)
        self.worker.wait(10)

    def start_broker(self) -> None:
        self.broker.home.mkdir(exist_ok=True)
        self.broker.start()

    def stop_broker(self) -> None:
        self.broker.stop()

    def start_relay(self) -> None:
        self.relay = self._spawn("relay", relay_command(self.settings))

    def kill_relay(self) -> None:
        assert self.relay is not None
        self.relay.send_signal(signal.SIGKILL)
        self.relay.wait(10)

    def stop_all(self) -> None:
        for process in (self.carrier, self.worker, self.relay, self.api, self.server):
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
        self.broker.stop()


class Drill:
    def __init__(self, options: DrillOptions, data_dir: Path) -> None:
        self.options = options
        self.data_dir = data_dir
        self.rng = random.Random(options.seed)
        self.outcome = Outcome()
        self.database = f"oms_drill_{uuid.uuid4().hex[:10]}"
        base = options.pg_admin_url.rsplit("/", 1)[0]
        self.database_url = f"{base}/{self.database}"
        api_port, temporal_port = free_port(), free_port()
        broker = NatsServer(data_dir / "nats")
        self.settings = Settings(
            data_dir=data_dir,
            temporal_port=temporal_port,
            ui_port=free_port(),
            api_port=api_port,
            database_url=self.database_url,
            nats_url=broker.url,
            relay_metrics_port=free_port(),
        )
        self.base_url = f"http://127.0.0.1:{api_port}"
        env = dict(os.environ)
        env.update(
            {
                "OMS_DATA_DIR": str(data_dir),
                "OMS_DATABASE_URL": self.database_url,
                "OMS_TEMPORAL_ADDRESS": f"127.0.0.1:{temporal_port}",
                "OMS_API_PORT": str(api_port),
                "OMS_API_KEYS": with_carrier_key(f"{OPERATOR_KEY}:operator"),
                "OMS_TASK_QUEUE": "orders-drill",
                "OMS_CARRIER_DELAY_S": "0.3",
                "OMS_RETURN_WINDOW_S": "1",
                "OMS_GATEWAY_FAULT_RATE": str(options.gateway_fault_rate),
                "OMS_GATEWAY_LOST_REPLY_RATE": str(options.gateway_lost_reply_rate),
                "OMS_LOG_FORMAT": "text",
                "OMS_NATS_URL": broker.url,
                "OMS_RELAY_LEASE_S": str(options.relay_lease_s),
            }
        )
        self.processes = Processes(data_dir, self.settings, env, broker)
        self.loading = True

    # -- the run ------------------------------------------------------------------------------

    async def run(self) -> Outcome:
        started = time.monotonic()
        self._create_database()
        try:
            self.processes.start_server()
            self.processes.start_broker()
            self.processes.start_api()
            await self._wait_for_api()
            self.processes.start_worker()
            self.processes.start_carrier()
            self.processes.start_relay()  # once the API has migrated the store
            async with httpx.AsyncClient(
                base_url=self.base_url,
                headers={"Authorization": f"Bearer {OPERATOR_KEY}"},
                timeout=30,
            ) as http:
                self.http = http
                self.started = time.monotonic()
                faults = [
                    asyncio.create_task(self._kill_workers()),
                    asyncio.create_task(self._restart_server()),
                    asyncio.create_task(self._store_outage()),
                    asyncio.create_task(self._broker_outage_and_relay_kill()),
                ]
                await self._load()
                self.loading = False
                await asyncio.gather(*faults)
                self._ensure_worker()
                await self._settle()
                await self._drain()
                await self._check()
        finally:
            self.processes.stop_all()
            self._count_gateway_faults()
            self._drop_database()
            self.outcome.seconds = time.monotonic() - started
        return self.outcome

    async def _wait_for_api(self) -> None:
        deadline = time.monotonic() + 90
        async with httpx.AsyncClient(timeout=2) as http:
            while time.monotonic() < deadline:
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(f"{self.base_url}/health")).status_code == 200:
                        return
                await asyncio.sleep(0.3)
        raise RuntimeError("the API did not come up; see api.log in " + str(self.data_dir))

    # -- load ---------------------------------------------------------------------------------

    def _order(self, n: int) -> tuple[str, dict[str, Any]]:
        """The n-th order of the mix: most standard, every type and card outcome represented."""
        slot = n % 20
        lines = [{"sku": "TSHIRT-BLK-M", "quantity": 1 + n % 3}]
        body: dict[str, Any] = {"order_type": "standard"}
        token = "tok_visa"
        kind = "standard"
        if slot == 8:
            token, kind = "tok_flaky", "standard-flaky"
        elif slot == 9:
            token, kind = "tok_declined", "standard-declined"
        elif slot in (10, 11):
            body, lines, kind = (
                {"order_type": "digital"},
                [{"sku": "EBOOK-TEMPORAL", "quantity": 1}],
                "digital",
            )
        elif slot in (12, 13):
            body, kind = {"order_type": "prepaid"}, "prepaid"
        elif slot in (14, 15):
            body, lines, kind = (
                {"order_type": "high_value"},
                [{"sku": "HEADPHONES-BT", "quantity": 1}],
                "high_value",
            )
        elif slot == 16:
            token, kind = "tok_risk_elevated", "standard-review"
        elif slot == 17:
            body, lines, kind = (
                {"order_type": "pickup"},
                [{"sku": "MUG-CERAMIC", "quantity": 1}],
                "pickup",
            )
        elif slot == 18:
            lines, kind = (
                [{"sku": "LAMP-DESK", "quantity": 1}, {"sku": "MUG-CERAMIC", "quantity": 2}],
                "standard-split",
            )
        elif slot == 19:
            lines, kind = [{"sku": "POSTER-LTD", "quantity": 1}], "standard-scarce"
        return kind, body | {
            "customer_id": f"cus_drill_{n % 17}",
            "lines": lines,
            "shipping_address": dict(ADDRESS),
            "payment": {"token": token},
        }

    async def _load(self) -> None:
        gate = asyncio.Semaphore(self.options.concurrency)

        async def one(n: int) -> None:
            await self._at(n / self.options.rate_per_s)
            async with gate:
                kind, body = self._order(n)
                key = f"drill-{self.database}-{n}"
                answer = await self._send("POST", "/orders", body, {"Idempotency-Key": key})
                if answer is None or answer.status_code not in (200, 201):
                    status = answer.status_code if answer is not None else "no answer"
                    self.outcome.problems.append(f"order {n} ({kind}) was not accepted: {status}")
                    return
                order_id = answer.json()["order_id"]
                self.outcome.placed.append(order_id)
                self.outcome.kinds[kind] += 1
            await self._intervene_on(n, kind, order_id)

        await asyncio.gather(*(one(n) for n in range(self.options.orders)))

    async def _intervene_on(self, n: int, kind: str, order_id: str) -> None:
        if kind == "prepaid" and n % 40 == 12:
            # Paid in full before it ships: cancelled once paid, the money goes back.
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                answer = await self._send("GET", f"/orders/{order_id}")
                view = answer.json() if answer is not None else {}
                if view.get("financial_status") == "PAID" or view.get("status") in TERMINAL:
                    break
                await asyncio.sleep(0.1)
            await self._intervention(order_id, "cancel", {"reason": "CUSTOMER", "note": "drill"})
            return
        if not kind.startswith("standard") or kind in ("standard-declined", "standard-review"):
            return
        if n % 10 == 3:
            await self._intervention(order_id, "cancel", {"reason": "CUSTOMER", "note": "drill"})
        elif n % 10 == 6:
            if await self._intervention(order_id, "hold", {"reason": "OTHER", "note": "drill"}):
                await asyncio.sleep(0.5)
                await self._intervention(order_id, "release", {})

    async def _intervention(self, order_id: str, kind: str, body: dict[str, Any]) -> bool:
        # Temporal backs off an order's workflow task that keeps dying with its worker, so an
        # intervention may wait minutes for the order to answer; an operator would retry.
        answer = await self._send("POST", f"/orders/{order_id}/{kind}", body, patience_s=400)
        outcome = "accepted" if answer is not None and answer.status_code == 200 else "refused"
        if answer is not None and answer.status_code not in (200, 409):
            self.outcome.problems.append(
                f"{kind} on {order_id}: unexpected {answer.status_code} {answer.text[:200]}"
            )
        self.outcome.interventions[f"{kind} {outcome}"] += 1
        return outcome == "accepted"

    async def _send(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        patience_s: float = 120.0,
    ) -> httpx.Response | None:
        """Send until the API gives a real answer: a 503 or a refused connection is retried
        (the same idempotency key makes that safe), anything else is the answer."""
        deadline = time.monotonic() + patience_s
        answer = None
        while time.monotonic() < deadline:
            try:
                answer = await self.http.request(method, path, json=body, headers=headers)
            except httpx.HTTPError:
                self.outcome.http_codes["no connection"] += 1
                await asyncio.sleep(0.5)
                continue
            self.outcome.http_codes[answer.status_code] += 1
            if answer.status_code >= 500:
                if answer.status_code != 503:
                    self.outcome.problems.append(
                        f"{method} {path}: {answer.status_code} {answer.text[:200]}"
                    )
                await asyncio.sleep(0.5)
                continue
            return answer
        return answer

    # -- faults -------------------------------------------------------------------------------

    async def _kill_workers(self) -> None:
        # Throughout the submissions; not while the stragglers settle, or a workflow task
        # that keeps dying with its worker is backed off by Temporal for minutes.
        until = self.started + self.options.orders / self.options.rate_per_s
        while self.loading and time.monotonic() < until:
            await asyncio.sleep(self.options.kill_every_s * (0.75 + self.rng.random() / 2))
            if self.processes.worker is not None and self.processes.worker.poll() is None:
                self.processes.kill_worker()
                self.outcome.worker_kills += 1
            self.processes.start_worker()

    def _ensure_worker(self) -> None:
        if self.processes.worker is None or self.processes.worker.poll() is not None:
            self.processes.start_worker()

    async def _at(self, offset_s: float) -> None:
        await asyncio.sleep(max(0.0, self.started + offset_s - time.monotonic()))

    async def _restart_server(self) -> None:
        await self._at(self.options.server_restart_at_s)
        await asyncio.to_thread(self.processes.stop_server)
        await asyncio.sleep(2)
        await asyncio.to_thread(self.processes.start_server)
        self.outcome.server_restarts += 1

    async def _store_outage(self) -> None:
        await self._at(self.options.store_outage_at_s)
        await asyncio.to_thread(self._connections, allow=False)
        self.outcome.store_outages += 1
        until = time.monotonic() + self.options.store_outage_s
        async with httpx.AsyncClient(
            base_url=self.base_url, headers={"Authorization": f"Bearer {OPERATOR_KEY}"}, timeout=10
        ) as probe:
            while time.monotonic() < until:
                with contextlib.suppress(httpx.HTTPError):
                    answer = await probe.get("/orders", params={"limit": 5})
                    self.outcome.outage_codes[answer.status_code] += 1
                    if answer.status_code == 503 and "store" not in answer.json()["detail"]:
                        self.outcome.problems.append(f"503 without naming the store: {answer.text}")
                await asyncio.sleep(0.2)
        await asyncio.to_thread(self._connections, allow=True)

    async def _broker_outage_and_relay_kill(self) -> None:
        """The broker goes away and comes back; the relay is killed as it drains the backlog
        the outage left (what the broker acknowledged but it had not deleted goes again)."""
        await self._at(self.options.broker_restart_at_s)
        await asyncio.to_thread(self.processes.stop_broker)
        await asyncio.sleep(self.options.broker_outage_s)
        await asyncio.to_thread(self.processes.start_broker)
        self.outcome.broker_restarts += 1
        await self._relay_publishes(self.options.relay_kill_within_s)
        await self._count_duplicates()
        self.processes.kill_relay()
        self.outcome.relay_kills += 1
        self.processes.start_relay()

    async def _relay_publishes(self, within_s: float) -> None:
        """Return once the stream grows (JetStream may take a moment to answer again)."""
        connection = await nats.connect(self.processes.broker.url, name="drill-watch")
        try:
            js = connection.jetstream()
            stored = None
            deadline = time.monotonic() + within_s
            while time.monotonic() < deadline:
                with contextlib.suppress(nats.errors.Error):
                    now = (await js.stream_info(ORDERS_STREAM)).state.messages
                    if stored is not None and now > stored:
                        return
                    stored = now if stored is None else stored
                await asyncio.sleep(0.02)
        finally:
            await connection.close()

    async def _count_duplicates(self) -> None:
        """Add what the running relay reports as dropped by the broker (`Nats-Msg-Id`)."""
        url = f"http://127.0.0.1:{self.settings.relay_metrics_port}/metrics"
        with contextlib.suppress(httpx.HTTPError):
            async with httpx.AsyncClient(timeout=2) as http:
                text = (await http.get(url)).text
            for row in text.splitlines():
                name, _, value = row.rpartition(" ")
                if name == "oms_relay_duplicates_total":
                    self.outcome.broker_duplicates += int(float(value))

    def _admin(self, statement: str) -> None:
        admin = self.options.pg_admin_url.replace("+psycopg", "")
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(statement)

    def _connections(self, *, allow: bool) -> None:
        self._admin(f'ALTER DATABASE "{self.database}" WITH ALLOW_CONNECTIONS {str(allow).lower()}')
        if not allow:
            self._admin(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                f"WHERE datname = '{self.database}' AND pid <> pg_backend_pid()"
            )

    def _create_database(self) -> None:
        self._admin(f'CREATE DATABASE "{self.database}"')

    def _drop_database(self) -> None:
        with contextlib.suppress(psycopg.Error):
            self._admin(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')

    def _count_gateway_faults(self) -> None:
        log = self.data_dir / "worker.log"
        if log.exists():
            text = log.read_text(errors="replace")
            self.outcome.gateway_faults = text.count("failed before the gateway")
            self.outcome.gateway_lost_replies = text.count("reply lost")

    # -- settling -----------------------------------------------------------------------------

    async def _views(self) -> dict[str, dict[str, Any]]:
        """Every order's row in the order list (the read model), one request per 200."""
        rows: dict[str, dict[str, Any]] = {}
        cursor = None
        while True:
            params = f"?limit=200&cursor={cursor}" if cursor else "?limit=200"
            answer = await self._send("GET", f"/orders{params}")
            if answer is None or answer.status_code != 200:
                return rows
            page = answer.json()
            rows |= {row["order_id"]: row for row in page["data"]}
            cursor = page["next_cursor"]
            if cursor is None:
                return rows

    async def _settle(self) -> None:
        """Decide reviews as an operator would, then wait until every order has ended or
        waits where it should (a pickup order for its customer)."""
        decided: set[str] = set()
        released: set[str] = set()
        deadline = time.monotonic() + self.options.settle_timeout_s
        while True:
            views = await self._views()
            unsettled = []
            for order_id, view in views.items():
                if view["status"] == "NEEDS_REVIEW" and order_id not in decided:
                    decided.add(order_id)
                    full = await self._send("GET", f"/orders/{order_id}")
                    review = full.json().get("review") if full is not None else None
                    await self._decide(order_id, review or {}, approve=len(decided) % 3 != 0)
                if view["status"] == "ON_HOLD" and order_id not in released:
                    # A release that could not get through during the faults: send it again.
                    released.add(order_id)
                    await self._intervention(order_id, "release", {})
                if view["status"] in TERMINAL:
                    continue
                if view["order_type"] == "pickup" and view["current_step"] == "await_pickup":
                    self.outcome.waiting[order_id] = "awaiting pickup"
                    continue
                unsettled.append(order_id)
            if not unsettled and set(views) >= set(self.outcome.placed):
                return
            if time.monotonic() > deadline:
                for order_id in set(self.outcome.placed) - set(views):
                    self.outcome.problems.append(f"{order_id} never appeared in the order list")
                for order_id in unsettled:
                    view = views[order_id]
                    self.outcome.problems.append(
                        f"{order_id} never settled: {view['status']} at {view['current_step']}"
                    )
                return
            await asyncio.sleep(1)

    async def _drain(self) -> None:
        """Wait until the relay has published every event journaled (the outbox is empty)."""
        store = Store(self.database_url)
        try:
            self.outcome.backlog_settled = (await outbox.backlog(store)).due
            started = time.monotonic()
            await self._until_drained(store)
            self.outcome.drained_s = time.monotonic() - started
        finally:
            await store.close()

    async def _until_drained(self, store: Store) -> None:
        deadline = time.monotonic() + self.options.drain_timeout_s
        while (due := (await outbox.backlog(store)).due) > 0:
            relay = self.processes.relay
            if relay is not None and relay.poll() is not None:
                self.outcome.problems.append(f"the relay exited ({relay.returncode}), {due} due")
                return
            if time.monotonic() > deadline:
                self.outcome.problems.append(f"the relay's backlog never drained: {due} due")
                return
            await asyncio.sleep(0.1)

    async def _decide(self, order_id: str, review: dict[str, Any], *, approve: bool) -> None:
        if review.get("kind") == "out_of_stock" or not approve:
            await self._intervention(order_id, "review", {"decision": "cancel", "reason": "OTHER"})
        else:
            await self._intervention(order_id, "review", {"decision": "approve", "note": "drill"})

    # -- checks -------------------------------------------------------------------------------

    async def _check(self) -> None:
        problems = self.outcome.problems
        views = {}
        for order_id in self.outcome.placed:
            answer = await self._send("GET", f"/orders/{order_id}")  # the projection
            live = await self._send("GET", f"/orders/{order_id}?consistent=true")
            if live is None or live.status_code != 200:
                problems.append(f"{order_id} is lost: the workflow does not answer")
                continue
            views[order_id] = live.json()
            projected = answer.json() if answer is not None else {}
            if projected != live.json():
                differing = sorted(
                    key for key in live.json() if projected.get(key) != live.json()[key]
                )
                problems.append(
                    f"{order_id}: the projection lags the workflow after settling: {differing} "
                    f"{[(projected.get(k), live.json()[k]) for k in differing][:3]}"
                )
        self.outcome.statuses = Counter(view["status"] for view in views.values())
        if len(set(self.outcome.placed)) != len(self.outcome.placed):
            problems.append("an idempotency key gave two orders")

        store = Store(self.database_url)
        try:
            await self._check_ledger(store, views)
            await self._check_journal(store)
            await self._check_stock(store, views)
            await self._check_read_model(store)
            await self._check_broker(store)
        finally:
            await store.close()

    async def _check_ledger(self, store: Store, views: dict[str, dict[str, Any]]) -> None:
        problems = self.outcome.problems
        async with store.read() as session:
            auths = list(await session.scalars(select(PaymentAuthorization)))
        by_order: dict[str, list[PaymentAuthorization]] = {}
        for auth in auths:
            by_order.setdefault(auth.order_id, []).append(auth)
        for order_id, view in views.items():
            mine = by_order.get(order_id, [])
            captured = sum(a.captured_minor for a in mine)
            refunded = sum(a.refunded_minor for a in mine)
            totals = view["totals"]
            self.outcome.captured_minor += captured
            self.outcome.refunded_minor += refunded
            if (captured, refunded) != (totals["captured_minor"], totals["refunded_minor"]):
                problems.append(
                    f"{order_id}: gateway captured/refunded {captured}/{refunded}, the order "
                    f"says {totals['captured_minor']}/{totals['refunded_minor']}"
                )
            if captured - refunded > totals["total_minor"]:
                problems.append(
                    f"{order_id}: charged {captured - refunded} for an order of "
                    f"{totals['total_minor']}"
                )
            if view["status"] in TERMINAL:
                for auth in mine:
                    if auth.status != "voided" and auth.captured_minor < auth.amount_minor:
                        problems.append(
                            f"{order_id}: authorization {auth.authorization_id} left open "
                            f"({auth.amount_minor - auth.captured_minor} neither captured nor "
                            "voided)"
                        )

    async def _check_journal(self, store: Store) -> None:
        async with store.read() as session:
            rows = await session.execute(
                select(
                    OrderEvent.order_id,
                    func.count(),
                    func.min(OrderEvent.seq),
                    func.max(OrderEvent.seq),
                ).group_by(OrderEvent.order_id)
            )
            for order_id, count, first, last in rows:
                if (first, last) != (1, count):
                    self.outcome.problems.append(
                        f"{order_id}: journal seq {first}..{last} holds {count} events (a gap)"
                    )

    async def _check_stock(self, store: Store, views: dict[str, dict[str, Any]]) -> None:
        problems = self.outcome.problems
        async with store.read() as session:
            negative = await session.scalar(select(func.count()).where(StockLevel.available < 0))
            reservations = list(await session.scalars(select(Reservation)))
        if negative:
            problems.append(f"{negative} stock levels are negative")
        held: Counter = Counter()
        for reservation in reservations:
            held[reservation.order_id] += reservation.quantity - reservation.released
        for order_id, view in views.items():
            expected = sum(
                line["buckets"]["reserved"]
                + line["buckets"]["shipped"]
                + line["buckets"]["delivered"]
                for line in view["lines"]
                if line["kind"] == "physical"
            )
            if held[order_id] != expected:
                problems.append(
                    f"{order_id} ({view['status']}): the store holds {held[order_id]} units "
                    f"for it, its lines account for {expected} (leaked stock)"
                )

    async def _check_read_model(self, store: Store) -> None:
        before = await table_rows(store)
        await rebuild(store)
        after = await table_rows(store)
        if before != after:
            differing = [name for name in before if before[name] != after[name]]
            self.outcome.problems.append(f"the read model differs from a rebuild: {differing}")

    async def _check_broker(self, store: Store) -> None:
        """Every order's messages on `OMS_ORDERS`, read from the start, are its journal as
        `GET /orders/{id}/events` shows it: the same events, `seq` 1..n, each once."""
        problems = self.outcome.problems
        journals: dict[str, list[dict[str, Any]]] = {}
        for order_id in self.outcome.placed:
            answer = await self._send("GET", f"/orders/{order_id}/events")
            if answer is None or answer.status_code != 200:
                problems.append(f"{order_id}: no journal from the API")
                continue
            journals[order_id] = answer.json()["data"]
        await self._until_drained(store)  # whatever was journaled meanwhile is published too
        await self._count_duplicates()
        relay = self.processes.relay
        if relay is not None and relay.poll() is not None:
            problems.append(f"the relay exited ({relay.returncode}); see relay.log")
        self.outcome.events_journaled = sum(len(events) for events in journals.values())

        messages = await self._stream_messages()
        self.outcome.events_on_broker = len(messages)
        ids = Counter((message.headers or {}).get(MESSAGE_ID) for message in messages)
        problems += [f"{id_} is {n} times on the broker" for id_, n in ids.items() if n > 1]
        published: dict[str, list[dict[str, Any]]] = {}
        for message in messages:
            event = json.loads(message.data)
            published.setdefault(event["order_id"], []).append(event)
            said = (message.headers or {}).get(MESSAGE_ID)
            expected = f"{event['order_id']}:{event['seq']}"
            subject = order_event_subject(event["order_id"], event["type"])
            if (message.subject, said) != (subject, expected):
                problems.append(f"{expected} came on {message.subject} as {MESSAGE_ID} {said}")
        for order_id in set(published) - set(journals):
            problems.append(f"{order_id} is on the broker, not among the orders placed")
        for order_id, journal in journals.items():
            mine = published.get(order_id, [])
            if [event["seq"] for event in journal] != list(range(1, len(journal) + 1)):
                problems.append(f"{order_id}: the API's journal is not seq 1..{len(journal)}")
            if mine != journal:
                problems.append(f"{order_id}: the broker holds {_differ(mine, journal)}")

    async def _stream_messages(self) -> list[Msg]:
        """Every message of `OMS_ORDERS` from its first, in the stream's order."""
        connection = await nats.connect(self.processes.broker.url, name="drill-check")
        try:
            js = connection.jetstream()
            stored = (await js.stream_info(ORDERS_STREAM)).state.messages
            subscription = await js.pull_subscribe(
                f"{ORDER_EVENTS}.>",
                stream=ORDERS_STREAM,
                config=ConsumerConfig(
                    ack_policy=AckPolicy.NONE,
                    deliver_policy=DeliverPolicy.ALL,
                    inactive_threshold=60,
                ),
            )
            messages: list[Msg] = []
            while len(messages) < stored:
                try:
                    messages += await subscription.fetch(500, timeout=5)
                except NatsTimeout:
                    self.outcome.problems.append(
                        f"the stream holds {stored} messages, a consumer got {len(messages)}"
                    )
                    break
            await subscription.unsubscribe()
            return messages
        finally:
            await connection.close()


def _differ(published: list[dict[str, Any]], journal: list[dict[str, Any]]) -> str:
    """Where an order's messages part from its journal, in a few words."""
    seqs = [event["seq"] for event in published]
    if seqs != [event["seq"] for event in journal]:
        return f"seq {seqs[:20]}, its journal 1..{len(journal)}"
    for mine, theirs in zip(published, journal, strict=True):
        if mine != theirs:
            keys = sorted(
                key for key in theirs.keys() | mine.keys() if mine.get(key) != theirs.get(key)
            )
            return f"seq {mine['seq']} unlike its journal in {keys}"
    return "the same"
