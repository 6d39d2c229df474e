"""The one Temporal client factory: the API, the worker, the CLI and the history export all
connect with `connect`, so all of them share the data converter (pydantic's, plus the
encryption codec when `OMS_PAYLOAD_KEY` is set)."""

from __future__ import annotations

import functools
import logging

from temporalio.client import Client, Interceptor
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from oms.config.codec import data_converter
from oms.config.settings import Settings

log = logging.getLogger("oms.worker")


@functools.cache
def metrics_runtime(bind_address: str) -> Runtime:
    """A runtime whose Prometheus exporter serves the SDK's metrics (`temporal_*`) on
    `bind_address`. One per address per process: the exporter binds the port once."""
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=bind_address)))


def tracing_interceptors() -> list[Interceptor]:
    try:
        import opentelemetry.sdk.trace  # noqa: F401
        from temporalio.contrib.opentelemetry import TracingInterceptor
    except ImportError:
        log.warning("OMS_OTEL_TRACING is set but opentelemetry-sdk is not installed; no tracing")
        return []
    return [TracingInterceptor()]


async def connect(settings: Settings, *, worker: bool = False) -> Client:
    """The Temporal client. The worker's (`worker=True`) also exports the SDK's metrics when
    `OMS_WORKER_METRICS_PORT` is set and traces with OpenTelemetry when `OMS_OTEL_TRACING`."""
    runtime = None
    interceptors: list[Interceptor] = []
    if worker and settings.worker_metrics_port is not None:
        runtime = metrics_runtime(f"{settings.worker_metrics_host}:{settings.worker_metrics_port}")
    if worker and settings.otel_tracing:
        interceptors = tracing_interceptors()
    return await Client.connect(
        settings.resolved_temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings),  # pydantic, plus encryption with a key
        interceptors=interceptors,
        runtime=runtime,
    )
