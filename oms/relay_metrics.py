"""The relay's Prometheus metrics (oms/relay.py), on `--metrics-port` (`OMS_RELAY_METRICS_PORT`):
the outbox's backlog and lag as the relay last read them (every relay reads them, standbys
too), what it published and how long each event took from the journal to the broker."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from store.outbox import Backlog

# From the append to JetStream's acknowledgement: milliseconds while all is well, minutes
# through an outage.
LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900)


class RelayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.backlog = Gauge(
            "oms_outbox_backlog",
            "Journal events not yet published: outbox records due",
            registry=self.registry,
        )
        self.lag = Gauge(
            "oms_relay_lag_seconds",
            "Age of the oldest outbox record due (0 when none is)",
            registry=self.registry,
        )
        self.published = Counter(
            "oms_relay_published",
            "Journal events JetStream acknowledged and stored, published by this relay",
            registry=self.registry,
        )
        self.duplicates = Counter(
            "oms_relay_duplicates",
            "Events published again that JetStream dropped as already stored (Nats-Msg-Id)",
            registry=self.registry,
        )
        self.publish_lag = Histogram(
            "oms_relay_publish_lag_seconds",
            "From the journal append to JetStream's acknowledgement, per event stored",
            buckets=LAG_BUCKETS,
            registry=self.registry,
        )
        self.leader = Gauge(
            "oms_relay_leader",
            "1 while this relay holds the lease and publishes, 0 while it stands by",
            registry=self.registry,
        )

    def saw(self, backlog: Backlog, now: datetime) -> None:
        self.backlog.set(backlog.due)
        self.lag.set(
            0 if backlog.oldest is None else max(0.0, (now - backlog.oldest).total_seconds())
        )

    def serve(self, port: int, host: str) -> Callable[[], None]:
        """The text exposition on http://host:port/metrics, from a daemon thread; returns
        what stops it."""
        server, _thread = start_http_server(port, addr=host, registry=self.registry)

        def stop() -> None:
            server.shutdown()
            server.server_close()

        return stop
