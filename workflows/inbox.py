"""The order's inbox: every signal read whatever it carries, interventions checked against
the rules and queued as commands, and the commands applied one at a time at the flow's
waits. Composed into the order workflow, whose handlers hand it their raw arguments."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain.events import EventType
    from domain.interventions import INTERVENTIONS, BacktrackRequest, InterventionRequest
    from domain.returns import ReturnProgress
    from workflows import interventions, patches
    from workflows.legacy.rewards import RewardsProgress
    from workflows.messages import Unreadable, excerpt, one_input, one_model
    from workflows.outcomes import FlowRedirect, InterventionRefused
    from workflows.rules import interventions as rules
    from workflows.rules.compensation import CannotUndo
    from workflows.shipment import ShipmentChangeResult, ShipmentProgress

if TYPE_CHECKING:
    from workflows.run import OrderRun

SIGNAL_ACTOR = "operator (signal)"
# What the order's children report, by signal name.
REPORTS: dict[str, type[BaseModel]] = {
    "shipment_progressed": ShipmentProgress,
    "shipment_changed": ShipmentChangeResult,
    "return_progressed": ReturnProgress,
    "rewards_progressed": RewardsProgress,
}


@dataclass
class Command:
    kind: str
    request: Any
    actor: str
    from_signal: bool
    done: bool = False
    error: str | None = None
    result: Any = None


def _refused(message: str) -> ApplicationError:
    return ApplicationError(message, type="InterventionRefused", non_retryable=True)


def intervention_update(kind: str) -> Any:
    """The update of one intervention for the order workflow, with its validator; both hand
    the raw arguments to the order's inbox, so a bad arity or body is refused with a reason
    before anything reaches history."""

    async def update(self, *args: Any) -> dict[str, Any]:
        return await self.inbox.submit(kind, args)

    def validate(self, *args: Any) -> None:
        self.inbox.validate(kind, args)

    update.__name__ = update.__qualname__ = kind
    handler = workflow.update(name=kind)(update)
    handler.validator(validate)
    return handler


class OrderInbox:
    def __init__(self, run: OrderRun) -> None:
        self._run = run
        self.commands: list[Command] = []

    async def signal(self, name: str, args: Sequence[RawValue]) -> None:
        """Every signal of the order, by name, whatever it carries: the interventions (the
        body of the update of the same name), the carrier's events and the reports of the
        order's children. Taken raw, so no input, two inputs or bytes that are not JSON are
        journaled as rejected instead of failing the workflow task (see `workflows.messages`).
        """
        if name in INTERVENTIONS:
            self.intervention_signal(name, args)
        elif name == "carrier_event":
            await self._run.shipments.carrier_event(args)
        elif name in REPORTS:
            try:
                report = one_model(args, REPORTS[name])
            except Unreadable as why:
                if workflow.patched(patches.UNREADABLE_REPORTS_JOURNALED.id):
                    self._run.record(
                        EventType.SIGNAL_REJECTED, signal=name, reason=f"could not be read: {why}"
                    )
                return
            self._take_report(name, report)
        else:
            # A mistyped name from the Web UI or the CLI is journaled, never buffered forever.
            known = ", ".join(sorted([*INTERVENTIONS, "carrier_event"]))
            self._run.record(
                EventType.INTERVENTION_REJECTED,
                reason=f"unknown signal {name!r}; known: {known}",
                intervention=name,
                via="signal",
            )

    def _take_report(self, name: str, report: Any) -> None:
        run = self._run
        if name == "shipment_progressed":
            run.shipments.shipment_progressed(report)
        elif name == "shipment_changed":
            run.shipments.shipment_changed(report)
        elif name == "return_progressed":
            run.state.return_inbox.append(report)
        else:
            run.rewards_progressed(report)

    def _parse(self, kind: str, args: Sequence[Any]) -> InterventionRequest:
        try:
            return one_model(args, INTERVENTIONS[kind])
        except Unreadable as why:
            raise _refused(f"invalid {kind} request: {why}") from None

    def validate(self, kind: str, args: Sequence[Any]) -> None:
        request = self._parse(kind, args)
        if error := rules.check(self._run.situation(), kind, request):
            raise _refused(error)

    async def submit(self, kind: str, args: Sequence[Any]) -> dict[str, Any]:
        request = self._parse(kind, args)
        if isinstance(request, BacktrackRequest) and request.dry_run:
            return rules.backtrack_plan(self._run.situation(), request.to_step).model_dump(
                mode="json"
            )
        command = Command(kind, request, request.actor or "operator", from_signal=False)
        self.commands.append(command)
        await workflow.wait_condition(lambda: command.done)
        if command.error is not None:
            raise _refused(command.error)
        return command.result

    def intervention_signal(self, kind: str, args: Sequence[RawValue]) -> None:
        try:
            body = one_input(args)
        except Unreadable as why:
            self._run.record(
                EventType.INTERVENTION_REJECTED,
                reason=f"the signal's body could not be read: {why}",
                intervention=kind,
                via="signal",
                body=excerpt(args),
            )
            return
        request: InterventionRequest | None = None
        refused: str | None
        try:
            request = self._parse(kind, [body])
            refused = rules.check(self._run.situation(), kind, request)
        except ApplicationError as refusal:
            refused = refusal.message
        if refused is None and isinstance(request, BacktrackRequest) and request.dry_run:
            refused = "a dry run answers only as an update"
        if refused is not None or request is None:
            self._run.record(
                EventType.INTERVENTION_REJECTED,
                reason=refused,
                intervention=kind,
                via="signal",
                body=excerpt([body]),
            )
            return
        self.commands.append(Command(kind, request, request.actor or SIGNAL_ACTOR, True))

    async def drain(self) -> None:
        """Apply queued interventions, oldest first. Only called at safe points."""
        while self.commands:
            command = self.commands.pop(0)
            error = rules.check(self._run.situation(), command.kind, command.request)
            if error is None:
                try:
                    command.result = await interventions.apply(
                        self._run, command.kind, command.request, command.actor
                    )
                except (InterventionRefused, CannotUndo) as refused:
                    error = str(refused)
                except FlowRedirect:
                    command.result = self._run.order.view().model_dump(mode="json")
                    command.done = True
                    raise
            if error is not None:
                command.error = error
                self._run.record(
                    EventType.INTERVENTION_REJECTED,
                    actor=command.actor,
                    reason=error,
                    intervention=command.kind,
                    via="signal" if command.from_signal else "update",
                )
            command.done = True
