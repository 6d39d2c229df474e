"""The strict replayer: the worker's workflows in the SDK's default sandbox
(`workers.sandbox.strict_sandbox`), stricter than the worker's own, so a recorded path that
reads the clock, draws a random number or does I/O fails. `oms history replay` and the replay
suite (`tests/replay/`) both replay with it."""

from __future__ import annotations

import functools

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.worker import Replayer

from workers.main import WORKFLOWS
from workers.sandbox import strict_sandbox


@functools.cache
def replay_runtime() -> Runtime:
    """The SDK's runtime, but its core logs errors only: its warning for each failed replay
    would go straight to stdout, into `oms history replay`'s report, and says no more than
    the failure the replay returns. (Forwarding core's logs to Python's logging instead
    leaves the process hanging at exit.)"""
    quiet = TelemetryFilter(core_level="ERROR", other_level="ERROR")
    return Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(filter=quiet)))


def strict_replayer() -> Replayer:
    """Exported histories are written decoded (`oms history export`), so the plain pydantic
    converter reads them and no payload key is needed."""
    return Replayer(
        workflows=WORKFLOWS,
        workflow_runner=strict_sandbox(),
        data_converter=pydantic_data_converter,
        runtime=replay_runtime(),
    )
