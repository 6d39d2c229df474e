"""What an order's history asked of Temporal: the count of each event type (`event_counts`),
the figures per order the benchmark reports (`history_counts`), and the same-shape floor's
script (`shape_of`): each command and each wait of the history, in its order, with the sizes
of the start's input, the local and regular activities' results, the signals and the result.
Patch markers bring their own `TemporalChangeVersion` upsert, so those upserts are not
scripted; the rest of the order's upserts are, with the attributes and values it set."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from temporalio.api.common.v1 import Payload, Payloads
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import History, HistoryEvent
from temporalio.client import WorkflowHistory
from temporalio.converter import PayloadConverter

from bench.same_shape import SameShapeInput

CHANGE_VERSION = "TemporalChangeVersion"
LOCAL_ACTIVITY = "core_local_activity"
PATCH = "core_patch"


def type_name(event: HistoryEvent) -> str:
    return EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")


def event_counts(events: Iterable[HistoryEvent]) -> dict[str, int]:
    """How many events of each type (`MARKER_RECORDED`, ...), by name."""
    return dict(sorted(Counter(type_name(event) for event in events).items()))


def markers(events: Iterable[HistoryEvent]) -> Counter[str]:
    return Counter(
        event.marker_recorded_event_attributes.marker_name
        for event in events
        if event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
    )


def history_counts(history: WorkflowHistory) -> dict[str, int]:
    """One workflow's history in figures: its events, search-attribute upserts, local-activity
    and patch markers, workflow tasks, activities, signals, timers and size in bytes."""
    counts = event_counts(history.events)
    named = markers(history.events)
    return {
        "events": len(history.events),
        "upserts": counts.get("UPSERT_WORKFLOW_SEARCH_ATTRIBUTES", 0),
        "local_activity_markers": named[LOCAL_ACTIVITY],
        "patch_markers": named[PATCH],
        "workflow_tasks": counts.get("WORKFLOW_TASK_COMPLETED", 0),
        "activities": counts.get("ACTIVITY_TASK_SCHEDULED", 0),
        "signals": counts.get("WORKFLOW_EXECUTION_SIGNALED", 0),
        "timers": counts.get("TIMER_STARTED", 0),
        "bytes": History(events=history.events).ByteSize(),
    }


def load(path: Path) -> WorkflowHistory:
    """A recorded history file (`<name>__<workflow_id>.json`)."""
    return WorkflowHistory.from_json(path.stem.partition("__")[2], path.read_text())


@dataclass
class Shape:
    script: list[str] = field(default_factory=list)
    start_attributes: list[list[str]] = field(default_factory=list)  # [name, type, JSON]
    upsert_fields: list[list[str]] = field(default_factory=list)
    upsert_changes: list[dict[str, str]] = field(default_factory=list)
    signals: list[tuple[str, int]] = field(default_factory=list)  # name, input bytes
    signals_at_start: int = 0  # sent with the start: no step before their wait to tell
    input_bytes: int = 0
    result_bytes: int = 0
    summary_bytes: int = 0
    details_bytes: int = 0

    def counts(self) -> dict[str, int]:
        """The script's commands and waits by kind, to read beside `history_counts`."""
        kinds = Counter(token[0] for token in self.script)
        return {
            "patches": kinds["P"],
            "upserts": kinds["U"],
            "local_activities": kinds["L"],
            "activities": kinds["A"],
            "timers": kinds["T"],
            "signals": len(self.signals),
        }


def _size(payloads: Payloads) -> int:
    return sum(len(payload.data) for payload in payloads.payloads)


def _attributes(fields: dict[str, Payload]) -> list[list[str]]:
    return [
        [name, payload.metadata.get("type", b"Keyword").decode(), payload.data.decode()]
        for name, payload in fields.items()
    ]


def shape_of(history: WorkflowHistory) -> Shape:
    """The same-shape script of a history: its commands in order, a `W<k>` (k signals in
    all) or `F` (a timer fired) before each workflow task the signals or timers began."""
    shape = Shape()
    results = {
        event.activity_task_completed_event_attributes.scheduled_event_id: _size(
            event.activity_task_completed_event_attributes.result
        )
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
    }
    script = shape.script
    signalled = fired = tasks = 0
    base: dict[str, list[str]] = {}
    upserts: list[list[list[str]]] = []
    for event in history.events:
        kind = type_name(event)
        if kind == "WORKFLOW_EXECUTION_STARTED":
            started = event.workflow_execution_started_event_attributes
            shape.input_bytes = _size(started.input)
            shape.start_attributes = _attributes(dict(started.search_attributes.indexed_fields))
            shape.summary_bytes = len(event.user_metadata.summary.data)
            shape.details_bytes = len(event.user_metadata.details.data)
        elif kind == "WORKFLOW_TASK_STARTED":
            # What arrived before a task started is what that task saw.
            tasks += 1
            script.extend(["F"] * fired)
            if len(shape.signals) > signalled:
                signalled = len(shape.signals)
                script.append(f"W{signalled}")
            fired = 0
        elif kind == "WORKFLOW_EXECUTION_SIGNALED":
            signal = event.workflow_execution_signaled_event_attributes
            shape.signals.append((signal.signal_name, _size(signal.input)))
        elif kind == "TIMER_STARTED":
            script.append("T")
        elif kind == "TIMER_FIRED":
            fired += 1
        elif kind == "ACTIVITY_TASK_SCHEDULED":
            script.append(f"A{results.get(event.event_id, 0)}")
        elif kind == "MARKER_RECORDED":
            marker = event.marker_recorded_event_attributes
            if marker.marker_name == PATCH:
                script.append("P")
            elif marker.marker_name == LOCAL_ACTIVITY:
                result = marker.details["result"] if "result" in marker.details else Payloads()
                script.append(f"L{_size(result)}")
        elif kind == "UPSERT_WORKFLOW_SEARCH_ATTRIBUTES":
            upsert = event.upsert_workflow_search_attributes_event_attributes
            fields = dict(upsert.search_attributes.indexed_fields)
            if set(fields) != {CHANGE_VERSION}:
                script.append("U")
                upserts.append(_attributes(fields))
                for name, type_, value in upserts[-1]:
                    base.setdefault(name, [name, type_, value])
        elif kind == "WORKFLOW_EXECUTION_COMPLETED":
            shape.result_bytes = _size(event.workflow_execution_completed_event_attributes.result)
    shape.upsert_fields = list(base.values())
    shape.upsert_changes = [
        {name: value for name, _, value in each if value != base[name][2]} for each in upserts
    ]
    _tell(shape)
    return shape


def _tell(shape: Shape) -> None:
    """Mark the last local activity before each wait for signals to tell the driver, as a
    booking tells the carrier; a wait with none before it is told with the one before, or
    its signals go with the start."""
    script = shape.script
    last: int | None = None
    told: int | None = None
    for index, token in enumerate(script):
        if token[0] == "L":
            last = index
        elif token[0] == "W":
            at = last if last is not None else told
            if at is None:
                shape.signals_at_start = int(token[1:])
            else:
                script[at] = f"{script[at].partition(':')[0]}:{token[1:]}"
                told = at
            last = None


def same_shape_input(
    shape: Shape, driver: str, timer_s: float, converter: PayloadConverter
) -> SameShapeInput:
    """The workflow's input: the script, padded to the size of the order's input."""
    made = SameShapeInput(
        script=" ".join(shape.script),
        upsert_fields=shape.upsert_fields,
        upsert_changes=shape.upsert_changes,
        timer_s=timer_s,
        result_bytes=shape.result_bytes,
        driver=driver,
    )
    size = len(converter.to_payloads([made])[0].data)
    made.padding = "x" * max(0, shape.input_bytes - size)
    return made
