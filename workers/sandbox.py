"""The workflow sandbox the worker and the benchmark run in (`LeanSandbox`: every module
passed through, the sandbox entered without recompiling or asking for payload contexts
inside it), and the strict one the replay suite runs in (`strict_sandbox`), which imports
the workflow modules afresh and refuses the clock, randomness and I/O on every recorded
path. Both extend the SDK's private `_Instance`, so an upgrade that changes it fails every
workflow test at once. See docs/decisions/0002-lean-worker-sandbox-strict-replay.md.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from types import CodeType
from typing import Any

from temporalio.converter import SerializationContext
from temporalio.worker import WorkflowInstance, WorkflowInstanceDetails
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions
from temporalio.worker.workflow_sandbox._in_sandbox import InSandbox
from temporalio.worker.workflow_sandbox._runner import _Instance


@functools.cache
def _compiled(source: str) -> CodeType:
    # A handful of distinct strings (create, activate, ...): the cache stays small.
    return compile(source, "<workflow sandbox>", "exec")


class _LeanInstance(_Instance):
    def _run_code(self, code: str, **extra_globals: Any) -> None:
        super()._run_code(_compiled(code), **extra_globals)  # type: ignore[arg-type]

    @property
    def _in_sandbox(self) -> InSandbox:
        return self.globals_and_locals["__temporal_in_sandbox"]  # type: ignore[return-value]

    def get_serialization_context(self, command_info: Any) -> SerializationContext | None:
        return self._in_sandbox.get_serialization_context(command_info)

    def get_external_store_context(self, command_info: Any) -> Any:
        return self._in_sandbox.get_external_store_context(command_info)


@dataclass(frozen=True)
class LeanSandbox(SandboxedWorkflowRunner):
    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        return _LeanInstance(det, self.runner_class, self.restrictions)


def workflow_runner() -> SandboxedWorkflowRunner:
    return LeanSandbox(restrictions=SandboxRestrictions.default.with_passthrough_all_modules())


def strict_sandbox() -> SandboxedWorkflowRunner:
    """The SDK's default sandbox: workflow modules imported afresh for each run, the clock,
    randomness, the environment and I/O refused. Too slow for a worker (a fresh import of
    the workflow modules per order), right for replaying the recorded histories in CI."""
    return SandboxedWorkflowRunner(restrictions=SandboxRestrictions.default)
