"""`oms run`: the embedded stack on one machine — Temporal dev server (SQLite file, WAL),
the event broker (NATS JetStream), the API, the demo shop's services, the workers, the relay
and intake, and the simulated carrier — started together (`oms.supervisor`) and stopped
together with Ctrl-C."""

from __future__ import annotations

import asyncio
import os
import signal

from adapters.carrier_simulator import with_carrier_key
from api.flows import allowed_host
from api.serve import api_command
from domain.endpoints import host_allowed
from oms.config.settings import Settings
from oms.demo_shop import register_demo_endpoints
from oms.intake import intake_command
from oms.processes import free_port, port_is_free
from oms.relay import relay_command
from oms.supervisor import (
    CARRIER_COMMAND,
    WORKER_COMMAND,
    Supervisor,
    codec_endpoint,
    ensure_search_attributes,
    worker_env,
    worker_names,
)
from store.db import Store
from store.endpoints import endpoint_urls
from store.flows import FlowInvalid, seed_examples

DEV_KEYS = "dev-operator-key:operator,dev-customer-key:customer:cus_demo,dev-carrier-key:carrier"
WORKER_METRICS_PORT = 9464


def codec_banner(settings: Settings, require_key: bool) -> str:
    if settings.payload_key is None:
        return ""
    how = (
        "operator key required: the Web UI cannot decrypt (OMS_CODEC_REQUIRE_KEY)"
        if require_key
        else "the Web UI decrypts payloads"
    )
    return f"\n  Codec      {codec_endpoint(settings)}   ({how})"


def shop_banner(settings: Settings, url: str) -> str:
    line = (
        f"\n  Shop       {url}   (endpoints gift-wrap, gift-wrap-cancel, address-check; GET /calls)"
    )
    if not host_allowed(url, settings.allowed_call_hosts):
        line += "\n             not called: 127.0.0.1 is not in OMS_CALL_ALLOWED_HOSTS"
    return line


async def register_examples(settings: Settings) -> str:
    """The example flows (`store/seed/examples.json`: the order type `gifted` and its
    fragment) the registry lacks, checked against the demo shop's endpoints; what was done."""
    store = Store(settings.resolved_database_url)
    try:
        added = await seed_examples(
            store, await endpoint_urls(store), allowed_host(settings.allowed_call_hosts)
        )
    except FlowInvalid as refused:
        return f"example flows not registered: {refused}"
    finally:
        await store.close()
    return f"registered example flows: {', '.join(added)}" if added else ""


def run(settings: Settings) -> int:
    env = dict(os.environ)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    env["OMS_DATA_DIR"] = str(settings.data_dir.resolve())
    if not settings.api_keys:
        env["OMS_API_KEYS"] = DEV_KEYS
    simulate_carrier = settings.carrier == "simulated"
    if simulate_carrier:
        env["OMS_API_KEYS"] = with_carrier_key(env["OMS_API_KEYS"])
    if settings.worker_metrics_port is None and port_is_free(WORKER_METRICS_PORT):
        # The worker's SDK metrics (Prometheus) on the conventional port when it is free.
        env["OMS_WORKER_METRICS_PORT"] = str(WORKER_METRICS_PORT)
    codec_require_key = settings.codec_require_key
    if (
        settings.payload_key is not None
        and "OMS_CODEC_REQUIRE_KEY" not in os.environ
        and settings.api_host in ("127.0.0.1", "localhost", "::1")
    ):
        # The Web UI cannot send an API key to the codec endpoint (api/middleware/codec.py), so
        # this local stack lets it decrypt without one; OMS_CODEC_REQUIRE_KEY=true requires it.
        env["OMS_CODEC_REQUIRE_KEY"] = "false"
        codec_require_key = False
    supervisor = Supervisor(grace_s=15)
    interrupted = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal interrupted
        interrupted = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        if settings.temporal_address is None:
            supervisor.start_dev_server(settings, env)
            added = asyncio.run(
                ensure_search_attributes(
                    settings.resolved_temporal_address, settings.temporal_namespace
                )
            )
            if added:
                print(f"registered search attributes: {', '.join(added)}", flush=True)
        # The embedded broker on a free port, its store in the data directory, unless
        # OMS_NATS_URL names one.
        nats_url = settings.nats_url or supervisor.start_broker(
            free_port(), settings.data_dir.resolve() / "nats", env
        )
        supervisor.start_healthy("api", api_command(settings), env, settings.resolved_api_url)
        # Before the workers, so an order calling the shop's services finds them registered.
        shop_url, shop_secret = supervisor.start_demo_shop(env)
        asyncio.run(register_demo_endpoints(settings, shop_url, shop_secret))
        # An order type that calls them, to place and watch (only where the type is absent).
        if examples := asyncio.run(register_examples(settings)):
            print(examples, flush=True)
        # Worker processes poll the same task queue, each running its orders' Python on
        # a core of its own (OMS_WORKER_PROCESSES, default 1).
        for index, name in enumerate(worker_names(settings.worker_processes)):
            supervisor.start(name, WORKER_COMMAND, worker_env(env, index))
        # The journal out to the broker, and orders and carrier events in from it.
        supervisor.start("relay", relay_command(settings), env)
        supervisor.start("intake", intake_command(settings), env)
        if simulate_carrier:
            # Outside the API, as a real carrier is: it posts to the API's webhook.
            supervisor.start("carrier", CARRIER_COMMAND, env)
        print_banner(
            settings,
            env["OMS_API_KEYS"],
            env.get("OMS_WORKER_METRICS_PORT"),
            codec=codec_banner(settings, codec_require_key),
            shop=shop_banner(settings, shop_url),
            broker=f"\n  Broker     {nats_url}   (journal on oms.orders.>; `oms events tail`)",
        )
        exited = supervisor.watch(lambda: interrupted)
        if exited is not None:
            name, code = exited
            print(f"\n{name} exited with code {code}; stopping", flush=True)
            return 1
        print(
            "\nstopping carrier, intake, relay, workers, shop, API, broker and Temporal…",
            flush=True,
        )
        return 0
    finally:
        supervisor.stop_all()


def print_banner(
    settings: Settings,
    api_keys: str,
    worker_metrics_port: str | None = None,
    codec: str = "",
    shop: str = "",
    broker: str = "",
) -> None:
    ui = (
        f"http://127.0.0.1:{settings.ui_port}"
        if settings.temporal_address is None
        else "(the Web UI of your Temporal server)"
    )
    workers, queue = settings.worker_processes, settings.task_queue
    worker_metrics = (
        f"   worker: http://{settings.worker_metrics_host}:{worker_metrics_port}/metrics"
        + (f" (and the {workers - 1} next ports)" if workers > 1 else "")
        if worker_metrics_port
        else ""
    )
    delay = settings.carrier_delay_s
    carrier = (
        f"\n  Carrier    simulated: each event {delay:g} s after the last (OMS_CARRIER_DELAY_S)"
        if settings.carrier == "simulated"
        else ""
    )
    print(
        f"""
Temporal OMS is up.
  API docs   {settings.resolved_api_url}/docs
  Web UI     {ui}   (filter: OrderStatus="DELIVERED")
  Temporal   {settings.resolved_temporal_address}
  Workers    {workers} process{"es" if workers > 1 else ""} on task queue {queue}{carrier}{shop}{
            broker
        }
  Data       {settings.data_dir.resolve()}
  API keys   {api_keys}{"   (development keys; set OMS_API_KEYS)" if not settings.api_keys else ""}
  Metrics    {settings.resolved_api_url}/metrics{worker_metrics}{codec}
Ctrl-C stops everything.""",
        flush=True,
    )
