"""How a step says it failed, and how activity errors are read."""

from __future__ import annotations

from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError

from domain.statuses import CancelReason


class StepFailed(Exception):
    """A business failure of a step: declined, out of stock, fraud, a failed shipment.

    `kind` names it for the review queue; `needs_review` sends it to a human whatever the
    flow says (the fraud review band); `final` ends the order whatever the flow says."""

    def __init__(
        self,
        message: str,
        *,
        kind: str = "step_failed",
        cancel_reason: CancelReason | None = None,
        needs_review: bool = False,
        final: bool = False,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.cancel_reason = cancel_reason
        self.needs_review = needs_review
        self.final = final


def error_type(error: BaseException) -> str | None:
    cause = error.cause if isinstance(error, ActivityError | ChildWorkflowError) else error
    return cause.type if isinstance(cause, ApplicationError) else None


def error_message(error: BaseException) -> str:
    cause = getattr(error, "cause", None)
    return str(cause or error)


def business_message(error: BaseException) -> str:
    """What a classified business failure (a decline, no stock) says, without the error type
    the SDK puts in front of it: the words an order shows its customer and operator."""
    cause = getattr(error, "cause", None) or error
    return cause.message if isinstance(cause, ApplicationError) else str(cause)


class Unclassified(StepFailed):
    """An activity error no step classified (its retries ran out): a person decides."""

    def __init__(self, message: str) -> None:
        super().__init__(message, needs_review=True)


class ApprovalRequired(StepFailed):
    """Not a failure: the flow asks a person to approve before it goes on."""

    def __init__(self, message: str) -> None:
        super().__init__(message, kind="approval", needs_review=True)
