"""How the order calls its activities: as regular activities, or (for the flow's own steps)
as local activities one at a time, in its lane. See docs/decisions/0005-one-local-activity-
at-a-time.md and docs/decisions/0007-order-runs-in-process.md."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.exceptions import TimeoutError as ActivityTimeout

with workflow.unsafe.imports_passed_through():
    from domain.flows import FlowStep


def step_options(step: FlowStep, defaults: dict[str, Any]) -> dict[str, Any]:
    """The activity options of a step: its kind's defaults, or the flow's retry settings."""
    if step.retry is None:
        return defaults
    return defaults | {
        "retry_policy": RetryPolicy(
            initial_interval=timedelta(seconds=step.retry.initial_interval_s),
            maximum_interval=timedelta(seconds=step.retry.maximum_interval_s),
            maximum_attempts=step.retry.max_attempts,
        )
    }


class ActivityLane:
    def __init__(self) -> None:
        self.lock = asyncio.Lock()  # held while one of the order's local activities runs
        self.local = False  # the order runs in process: its steps may be local activities

    async def call(
        self,
        activity: Callable[..., Any],
        arg: Any,
        *,
        summary: str,
        local: bool = False,
        **options: Any,
    ) -> Any:
        """Call an activity; `local=True` runs it as a local activity when the order runs in
        process. Only the flow's own steps are local: what depends on the order of messages
        (an intervention's releases, refunds, voids, carrier cancellations) stays a regular
        activity, recorded before it runs. Every call is idempotent by key either way."""
        if not (self.local and local):
            return await workflow.execute_activity_method(activity, arg, summary=summary, **options)
        try:
            async with self.lock:  # one at a time: markers follow the code's own order
                return await workflow.execute_local_activity_method(
                    activity, arg, summary=summary, **options
                )
        except (ApplicationError, ActivityTimeout) as failure:
            # A local activity's failure arrives bare; the steps read every activity's
            # failure the same way, as an ActivityError caused by it.
            raise ActivityError(
                str(failure),
                scheduled_event_id=0,
                started_event_id=0,
                identity="",
                activity_type=getattr(activity, "__name__", str(activity)),
                activity_id="",
                retry_state=None,
            ) from failure
