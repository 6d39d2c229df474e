"""The order workflow's interventions: an update (validated before anything is written)
and a signal (journaled when refused) for each, turned into commands that the interpreter
applies at its safe points."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from pydantic import ValidationError
from temporalio import workflow
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain.interventions import INTERVENTIONS, BacktrackRequest, InterventionRequest
    from workflows import compensation, interventions
    from workflows.interventions import FlowRedirect, InterventionRefused

if TYPE_CHECKING:
    from domain.orders import Order
    from workflows.order import OrderWorkflow

SIGNAL_ACTOR = "operator (signal)"


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
    def _run(self) -> OrderWorkflow:
        return cast("OrderWorkflow", self)

    @workflow.update(name="cancel")
    async def cancel(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self._submit("cancel", body)

    @cancel.validator
    def _validate_cancel(self, body: dict[str, Any]) -> None:
        self._validate("cancel", body)

    @workflow.signal(name="cancel")
    def cancel_signal(self, body: RawValue) -> None:
        self._signal("cancel", body)

    @workflow.update(name="hold")
    async def hold(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self._submit("hold", body)

    @hold.validator
    def _validate_hold(self, body: dict[str, Any]) -> None:
        self._validate("hold", body)

    @workflow.signal(name="hold")
    def hold_signal(self, body: RawValue) -> None:
        self._signal("hold", body)

    @workflow.update(name="release")
    async def release(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self._submit("release", body)

    @release.validator
    def _validate_release(self, body: dict[str, Any]) -> None:
        self._validate("release", body)

    @workflow.signal(name="release")
    def release_signal(self, body: RawValue) -> None:
        self._signal("release", body)

    @workflow.update(name="backtrack")
    async def backtrack_update(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self._submit("backtrack", body)

    @backtrack_update.validator
    def _validate_backtrack(self, body: dict[str, Any]) -> None:
        self._validate("backtrack", body)

    @workflow.signal(name="backtrack")
    def backtrack_signal(self, body: RawValue) -> None:
        self._signal("backtrack", body)

    @workflow.update(name="skip")
    async def skip(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self._submit("skip", body)

    @skip.validator
    def _validate_skip(self, body: dict[str, Any]) -> None:
        self._validate("skip", body)

    @workflow.signal(name="skip")
    def skip_signal(self, body: RawValue) -> None:
        self._signal("skip", body)

    @workflow.update(name="review")
    async def review(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self._submit("review", body)

    @review.validator
    def _validate_review(self, body: dict[str, Any]) -> None:
        self._validate("review", body)

    @workflow.signal(name="review")
    def review_signal(self, body: RawValue) -> None:
        self._signal("review", body)

    @workflow.update(name="correct_address")
    async def correct_address(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self._submit("correct_address", body)

    @correct_address.validator
    def _validate_correct_address(self, body: dict[str, Any]) -> None:
        self._validate("correct_address", body)

    @workflow.signal(name="correct_address")
    def correct_address_signal(self, body: RawValue) -> None:
        self._signal("correct_address", body)

    @workflow.update(name="pickup")
    async def pickup(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self._submit("pickup", body)

    @pickup.validator
    def _validate_pickup(self, body: dict[str, Any]) -> None:
        self._validate("pickup", body)

    @workflow.signal(name="pickup")
    def pickup_signal(self, body: RawValue) -> None:
        self._signal("pickup", body)

    @workflow.update(name="request_return")
    async def request_return_update(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self._submit("request_return", body)

    @request_return_update.validator
    def _validate_request_return(self, body: dict[str, Any]) -> None:
        self._validate("request_return", body)

    @workflow.signal(name="request_return")
    def request_return_signal(self, body: RawValue) -> None:
        self._signal("request_return", body)

    @workflow.update(name="appease")
    async def appease_update(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self._submit("appease", body)

    @appease_update.validator
    def _validate_appease(self, body: dict[str, Any]) -> None:
        self._validate("appease", body)

    @workflow.signal(name="appease")
    def appease_signal(self, body: RawValue) -> None:
        self._signal("appease", body)

    @workflow.signal(dynamic=True)
    def unknown_signal(self, name: str, args: Sequence[RawValue]) -> None:
        # A mistyped signal name from the Web UI or the CLI is journaled, never buffered forever.
        known = ", ".join(sorted(INTERVENTIONS))
        self.record(
            "InterventionRejected",
            reason=f"unknown signal {name!r}; known: {known}",
            intervention=name,
            via="signal",
        )

    def _parse(self, kind: str, body: Any) -> InterventionRequest:
        try:
            return INTERVENTIONS[kind].model_validate(body)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}"
                for e in error.errors()
            )
            raise _refused(f"invalid {kind} request: {problems}") from None

    def _validate(self, kind: str, body: Any) -> None:
        request = self._parse(kind, body)
        if error := interventions.check(self._run, kind, request):
            raise _refused(error)

    async def _submit(self, kind: str, body: Any) -> dict[str, Any]:
        request = self._parse(kind, body)
        if isinstance(request, BacktrackRequest) and request.dry_run:
            return interventions.backtrack_plan(self._run, request.to_step).model_dump(mode="json")
        command = Command(kind, request, request.actor or "operator", from_signal=False)
        self._commands.append(command)
        await workflow.wait_condition(lambda: command.done)
        if command.error is not None:
            raise _refused(command.error)
        return command.result

    def _signal(self, kind: str, raw: RawValue) -> None:
        # Signals arrive raw and are decoded here, so that a body that is not JSON at all is
        # journaled and ignored like any other bad body; the SDK would drop it unrecorded.
        try:
            body = workflow.payload_converter().from_payload(raw.payload)
        except Exception as error:  # any decoding failure: the body is unreadable
            self.record(
                "InterventionRejected",
                reason=f"the signal's body could not be read: {type(error).__name__}",
                intervention=kind,
                via="signal",
                body=_printable(raw.payload.data[:2000].decode("utf-8", "replace")),
            )
            return
        request: InterventionRequest | None = None
        refused: str | None
        try:
            request = self._parse(kind, body)
            refused = interventions.check(self._run, kind, request)
        except ApplicationError as refusal:
            refused = refusal.message
        if refused is None and isinstance(request, BacktrackRequest) and request.dry_run:
            refused = "a dry run answers only as an update"
        if refused is not None or request is None:
            self.record(
                "InterventionRejected",
                reason=refused,
                intervention=kind,
                via="signal",
                body=_printable(body),
            )
            return
        self._commands.append(Command(kind, request, request.actor or SIGNAL_ACTOR, True))

    async def drain(self) -> None:
        """Apply queued interventions, oldest first. Only called at safe points."""
        while self._commands:
            command = self._commands.pop(0)
            error = interventions.check(self._run, command.kind, command.request)
            if error is None:
                try:
                    command.result = await interventions.apply(
                        self._run, command.kind, command.request, command.actor
                    )
                except (InterventionRefused, compensation.CannotUndo) as refused:
                    error = str(refused)
                except FlowRedirect:
                    command.result = self.order.view().model_dump(mode="json")
                    command.done = True
                    raise
            if error is not None:
                command.error = error
                self.record(
                    "InterventionRejected",
                    actor=command.actor,
                    reason=error,
                    intervention=command.kind,
                    via="signal" if command.from_signal else "update",
                )
            command.done = True


def _printable(body: Any) -> Any:
    """What a refused signal carried, bounded so a huge payload cannot bloat the journal."""
    text = repr(body)
    return body if len(text) <= 2000 and isinstance(body, dict | list | str | int) else text[:2000]
