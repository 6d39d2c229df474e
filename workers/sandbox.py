"""The workflow sandbox the worker, the replayer and the benchmark's floor run in.

Every module is passed through rather than imported again for each run: re-importing the
workflow modules for each new order was half of the worker's CPU and most of its memory per
open order (`make bench`). The runtime checks stay: `datetime.now()`, `random` and the like
still fail a workflow task. What is given up is isolation of module state between runs, so
modules under `workflows/` and `domain/` keep none (constants and registries only).

The SDK enters the sandbox by `exec` of a short source string: for every activation and for
every payload's serialization context. It compiles that string anew each time, which was
about a seventh of the order worker's Python time under `make bench`
(`oms bench --profile-worker ... --profile-mode gil`). `CompiledOnceSandbox` hands it the
string compiled once. It extends the SDK's private `_Instance`, so a temporalio upgrade that
changes it shows up at once: every workflow test runs in this sandbox.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from types import CodeType
from typing import Any

from temporalio.worker import WorkflowInstance, WorkflowInstanceDetails
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions
from temporalio.worker.workflow_sandbox._runner import _Instance


@functools.cache
def _compiled(source: str) -> CodeType:
    # A handful of distinct strings (activate, serialization context, ...): the cache stays small.
    return compile(source, "<workflow sandbox>", "exec")


class _CompiledOnceInstance(_Instance):
    def _run_code(self, code: str, **extra_globals: Any) -> None:
        super()._run_code(_compiled(code), **extra_globals)  # type: ignore[arg-type]


@dataclass(frozen=True)
class CompiledOnceSandbox(SandboxedWorkflowRunner):
    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        return _CompiledOnceInstance(det, self.runner_class, self.restrictions)


def workflow_runner() -> SandboxedWorkflowRunner:
    return CompiledOnceSandbox(
        restrictions=SandboxRestrictions.default.with_passthrough_all_modules()
    )
