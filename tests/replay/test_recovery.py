"""An order stalled by a bare signal on the code before the fix recovers on today's code.

`release_bare_stalled__*.json` was recorded on that code: an order held with its shipments at
the carrier, then sent `release` with no input (the Web UI's empty form). Every workflow
task after it failed (`release_signal() missing 1 required positional argument`), and the
carrier's two events waited unapplied behind it. Replayed here, the task that failed runs
on today's code with no handler failing, and the carrier's dispatch moves on to its capture.
`tests/workflows/test_message_fuzz.py` stalls an order the same way on a live stack and
shows it journaling the bare signal and completing with its money right.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from temporalio.worker import (
    ExecuteWorkflowInput,
    HandleSignalInput,
    Interceptor,
    Replayer,
    StartLocalActivityInput,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
)

from oms.history import load_history
from workers.replay import strict_replayer

HISTORIES_DIR = Path(__file__).resolve().parent.parent / "histories"
STALLED = sorted(HISTORIES_DIR.glob("release_bare_stalled__order-*.json"))


class Probe:
    """What a replayed order did: its signal handlers' failures and the events it journaled."""

    handler_failures: list[str] = []
    journaled: list[dict[str, Any]] = []
    local_activities: list[str] = []


class _Outbound(WorkflowOutboundInterceptor):
    def start_local_activity(self, input: StartLocalActivityInput) -> Any:
        Probe.local_activities.append(input.activity)
        if input.activity == "append_events":
            Probe.journaled.extend(e.model_dump(mode="json") for e in input.args[0].events)
        return super().start_local_activity(input)


class _Inbound(WorkflowInboundInterceptor):
    def init(self, outbound: WorkflowOutboundInterceptor) -> None:
        super().init(_Outbound(outbound))

    async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
        return await super().execute_workflow(input)

    async def handle_signal(self, input: HandleSignalInput) -> None:
        try:
            await super().handle_signal(input)
        except Exception as error:
            Probe.handler_failures.append(f"{input.signal}: {error!r}")
            raise


class _Interceptor(Interceptor):
    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor]:
        return _Inbound


def probing_replayer() -> Replayer:
    strict = strict_replayer().config()
    strict["interceptors"] = [_Interceptor()]
    return Replayer(**strict)


def test_the_stalled_history_is_kept() -> None:
    assert STALLED, "tests/histories/release_bare_stalled__order-*.json is missing"


async def test_the_task_that_failed_runs_on_todays_code_and_the_carrier_events_move_money() -> None:
    Probe.handler_failures.clear()
    Probe.journaled.clear()
    Probe.local_activities.clear()
    for path in STALLED:
        result = await probing_replayer().replay_workflow(
            load_history(path), raise_on_replay_failure=False
        )
        assert result.replay_failure is None, result.replay_failure
    # On the code before the fix: ["release: TypeError(... missing 1 required positional ...)"]
    assert Probe.handler_failures == []
    # What the order had journaled before it stalled: held, with its shipment booked.
    assert [e["type"] for e in Probe.journaled][-2:] == ["ShipmentBooked", "OrderHeld"]
    # The task that failed now goes on: the dispatched shipment's payment is captured next.
    assert Probe.local_activities[-1] == "capture_payment"
