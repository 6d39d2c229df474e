"""The return window closes when its timer fires, an event every replay sees in its place.

Orders placed before `return-window-closes-on-its-timer` closed it when the clock said so,
and the clock a workflow reads right after a local activity is not always the one its replay
reads (the fault drill found an order whose replay then took another path). Now whether the
order waits, and when the window closes, come from the history alone.
"""

from __future__ import annotations

from temporalio.api.enums.v1 import EventType
from temporalio.converter import PayloadConverter

from tests.helpers.orders import journal_types, order_body, place, wait_for_status
from tests.helpers.stack import Stack
from workers.replay import strict_replayer
from workflows.order import order_workflow_id

SUMMARY = "the return window closes"


async def test_the_window_closes_on_its_timer_and_the_order_replays(stack: Stack) -> None:
    async with stack.http() as http:
        order_id = (await place(http, order_body()))["order_id"]
        view = await wait_for_status(http, order_id, "COMPLETED", "FAILED")
        journal = await journal_types(http, order_id)
    assert view["status"] == "COMPLETED"

    history = await stack.client.get_workflow_handle(order_workflow_id(order_id)).fetch_history()
    converter = PayloadConverter.default
    window_timers = {
        event.event_id
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_TIMER_STARTED
        and converter.from_payload(event.user_metadata.summary, str) == SUMMARY
    }
    fired = [
        event
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_TIMER_FIRED
        and event.timer_fired_event_attributes.started_event_id in window_timers
    ]
    # One timer, as the Web UI shows it, fired before the order completed.
    assert len(window_timers) == 1 and len(fired) == 1
    assert history.events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED
    assert journal.index("ReturnWindowOpened") < journal.index("ReturnWindowClosed")
    assert journal.index("ReturnWindowClosed") < journal.index("OrderCompleted")

    result = await strict_replayer().replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, repr(result.replay_failure)
