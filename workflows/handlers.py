"""Every message the order workflow takes, declared here: its query, an update per
intervention (validated before anything is written), and one signal handler for every name
(interventions, carrier events, the children's reports), read raw so that no input can fail
a workflow task. Interventions become commands the interpreter applies at its safe points."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain.events import EventType
    from domain.interventions import INTERVENTIONS, BacktrackRequest, InterventionRequest
    from domain.view import OrderView
    from workflows import interventions, patches
    from workflows.legacy.rewards import RewardsProgress
    from workflows.messages import Unreadable, excerpt, one_input, one_model
    from workflows.outcomes import FlowRedirect, InterventionRefused
    from workflows.returns import ReturnProgress
    from workflows.rules import interventions as rules
    from workflows.rules.compensation import CannotUndo
    from workflows.shipment import ShipmentChangeResult, ShipmentProgress

if TYPE_CHECKING:
    from domain.orders import Order
    from workflows.run import OrderRun

SIGNAL_ACTOR = "operator (signal)"
# What the order's children report, by signal name; each is handled by the method of that name.
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


class InterventionHandlers:
    """Mixed into `OrderWorkflow`; uses its `order`, `record` and `_commands`."""

    if TYPE_CHECKING:
        order: Order
        _commands: list[Command]

        def record(
            self, type: str, *, actor: str = ..., reason: str | None = ..., **data: Any
        ) -> None: ...

    @property
    def _run(self) -> OrderRun:
        return cast("OrderRun", self)

    @workflow.query
    def view(self, *_: Any) -> OrderView:
        """The order as it stands (its arguments, if any are sent, are ignored)."""
        return self.order.view()

    @workflow.update(name="cancel")
    async def cancel(self, *args: Any) -> dict[str, Any]:
        return await self._submit("cancel", args)

    @cancel.validator
    def _validate_cancel(self, *args: Any) -> None:
        self._validate("cancel", args)

    @workflow.update(name="hold")
    async def hold(self, *args: Any) -> dict[str, Any]:
        return await self._submit("hold", args)

    @hold.validator
    def _validate_hold(self, *args: Any) -> None:
        self._validate("hold", args)

    @workflow.update(name="release")
    async def release(self, *args: Any) -> dict[str, Any]:
        return await self._submit("release", args)

    @release.validator
    def _validate_release(self, *args: Any) -> None:
        self._validate("release", args)

    @workflow.update(name="backtrack")
    async def backtrack_update(self, *args: Any) -> dict[str, Any]:
        return await self._submit("backtrack", args)

    @backtrack_update.validator
    def _validate_backtrack(self, *args: Any) -> None:
        self._validate("backtrack", args)

    @workflow.update(name="skip")
    async def skip(self, *args: Any) -> dict[str, Any]:
        return await self._submit("skip", args)

    @skip.validator
    def _validate_skip(self, *args: Any) -> None:
        self._validate("skip", args)

    @workflow.update(name="review")
    async def review(self, *args: Any) -> dict[str, Any]:
        return await self._submit("review", args)

    @review.validator
    def _validate_review(self, *args: Any) -> None:
        self._validate("review", args)

    @workflow.update(name="correct_address")
    async def correct_address(self, *args: Any) -> dict[str, Any]:
        return await self._submit("correct_address", args)

    @correct_address.validator
    def _validate_correct_address(self, *args: Any) -> None:
        self._validate("correct_address", args)

    @workflow.update(name="pickup")
    async def pickup(self, *args: Any) -> dict[str, Any]:
        return await self._submit("pickup", args)

    @pickup.validator
    def _validate_pickup(self, *args: Any) -> None:
        self._validate("pickup", args)

    @workflow.update(name="request_return")
    async def request_return_update(self, *args: Any) -> dict[str, Any]:
        return await self._submit("request_return", args)

    @request_return_update.validator
    def _validate_request_return(self, *args: Any) -> None:
        self._validate("request_return", args)

    @workflow.update(name="appease")
    async def appease_update(self, *args: Any) -> dict[str, Any]:
        return await self._submit("appease", args)

    @appease_update.validator
    def _validate_appease(self, *args: Any) -> None:
        self._validate("appease", args)

    @workflow.signal(dynamic=True)
    async def on_signal(self, name: str, args: Sequence[RawValue]) -> None:
        """Every signal of the order, by name, whatever it carries: the interventions (the
        body of the update of the same name), the carrier's events and the reports of the
        order's children. Taken raw, so no input, two inputs or bytes that are not JSON are
        journaled as rejected instead of failing the workflow task (see `workflows.messages`).
        """
        if name in INTERVENTIONS:
            self._signal(name, args)
        elif name == "carrier_event":
            await self._run.shipments.carrier_event(args)
        elif name in REPORTS:
            try:
                report = one_model(args, REPORTS[name])
            except Unreadable as why:
                if workflow.patched(patches.UNREADABLE_REPORTS_JOURNALED.id):
                    self.record(
                        EventType.SIGNAL_REJECTED, signal=name, reason=f"could not be read: {why}"
                    )
                return
            self._take_report(name, report)
        else:
            # A mistyped name from the Web UI or the CLI is journaled, never buffered forever.
            known = ", ".join(sorted([*INTERVENTIONS, "carrier_event"]))
            self.record(
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
            run.return_inbox.append(report)
        else:
            run.rewards_progressed(report)

    def _parse(self, kind: str, args: Sequence[Any]) -> InterventionRequest:
        try:
            return one_model(args, INTERVENTIONS[kind])
        except Unreadable as why:
            raise _refused(f"invalid {kind} request: {why}") from None

    def _validate(self, kind: str, args: Sequence[Any]) -> None:
        request = self._parse(kind, args)
        if error := rules.check(self._run, kind, request):
            raise _refused(error)

    async def _submit(self, kind: str, args: Sequence[Any]) -> dict[str, Any]:
        request = self._parse(kind, args)
        if isinstance(request, BacktrackRequest) and request.dry_run:
            return rules.backtrack_plan(self._run, request.to_step).model_dump(mode="json")
        command = Command(kind, request, request.actor or "operator", from_signal=False)
        self._commands.append(command)
        await workflow.wait_condition(lambda: command.done)
        if command.error is not None:
            raise _refused(command.error)
        return command.result

    def _signal(self, kind: str, args: Sequence[RawValue]) -> None:
        try:
            body = one_input(args)
        except Unreadable as why:
            self.record(
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
            refused = rules.check(self._run, kind, request)
        except ApplicationError as refusal:
            refused = refusal.message
        if refused is None and isinstance(request, BacktrackRequest) and request.dry_run:
            refused = "a dry run answers only as an update"
        if refused is not None or request is None:
            self.record(
                EventType.INTERVENTION_REJECTED,
                reason=refused,
                intervention=kind,
                via="signal",
                body=excerpt([body]),
            )
            return
        self._commands.append(Command(kind, request, request.actor or SIGNAL_ACTOR, True))

    async def drain(self) -> None:
        """Apply queued interventions, oldest first. Only called at safe points."""
        while self._commands:
            command = self._commands.pop(0)
            error = rules.check(self._run, command.kind, command.request)
            if error is None:
                try:
                    command.result = await interventions.apply(
                        self._run, command.kind, command.request, command.actor
                    )
                except (InterventionRefused, CannotUndo) as refused:
                    error = str(refused)
                except FlowRedirect:
                    command.result = self.order.view().model_dump(mode="json")
                    command.done = True
                    raise
            if error is not None:
                command.error = error
                self.record(
                    EventType.INTERVENTION_REJECTED,
                    actor=command.actor,
                    reason=error,
                    intervention=command.kind,
                    via="signal" if command.from_signal else "update",
                )
            command.done = True
