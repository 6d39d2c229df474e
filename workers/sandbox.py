"""The workflow sandbox the worker and the benchmark run in, and the strict one the replay
suite runs in.

Every module is passed through rather than imported again for each run: re-importing the
workflow modules for each new order was half of the worker's CPU and most of its memory per
open order (`make bench`). What is given up:

- Isolation of module state between runs, so modules under `workflows/` and `domain/` keep
  none (constants and registries only).
- Most of the runtime determinism checks. A passed-through module is the real one, so
  `random.random()`, `datetime.now()`, `time.time()`, `uuid.uuid4()` or `os.environ` in a
  workflow module would run and not fail the task. The sandbox still refuses builtins such
  as `open()` and imports made while a workflow runs (`tests/workflows/test_sandbox.py`);
  the rest is checked where it can be: `tests/replay` replays every recorded history in
  `strict_sandbox()`, the SDK's default sandbox, which imports the workflow modules afresh
  and refuses those calls on every path a recording takes, and
  `tests/workflows/test_determinism.py` reads the source of `workflows/` and `domain/`
  for them on the paths no recording takes.

Two costs of entering the sandbox are cut, both measured under `make bench`
(`oms bench --profile-worker ... --profile-mode gil`) and in replay:

- The SDK enters the sandbox by `exec` of a short source string, and compiled that string
  anew each time: about a seventh of the order worker's Python time. `LeanSandbox` hands it
  the string compiled once.
- For every payload of every activation and completion, the SDK asks the workflow for the
  payload's serialization context, and did so inside the sandbox: with its import hooks and
  restricted builtins put in place and taken away again, each time. The answer is a lookup
  in the SDK's own bookkeeping (which activity or child a command is for); no workflow code
  runs. `LeanSandbox` asks it directly, so only activations run inside the sandbox.

Both extend the SDK's private `_Instance`, so a temporalio upgrade that changes it shows up
at once: every workflow test runs in this sandbox.
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
