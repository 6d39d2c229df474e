"""Workflow histories as JSON files: `oms history export` writes them, `oms history replay`
and the replay suite (`tests/replay/`) replay them against the current workflow code.

A file is `<name>__<workflow_id>.json` holding `WorkflowHistory.to_json()`. That JSON does
not carry the workflow id, so the file name does: everything after the first `__`.
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from google.protobuf.json_format import ParseError
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHistory
from temporalio.worker import Replayer

from oms.config.codec import decode_history
from oms.config.settings import Settings
from oms.config.temporal import connect
from workflows import search_attributes

DEFAULT_DIR = Path("tests/histories")
SEPARATOR = "__"
_NAME_UNSAFE = re.compile(r"[^a-z0-9_-]+")
_ID_UNSAFE = ("/", "\\", "\0")


def order_workflow_id(order_id: str) -> str:
    return f"order-{order_id}"


def clean_name(name: str) -> str:
    """Lowercase `[a-z0-9_-]`, and never `__`, so the first `__` of a file name is the split."""
    cleaned = _NAME_UNSAFE.sub("_", name.strip().lower())
    while SEPARATOR in cleaned:
        cleaned = cleaned.replace(SEPARATOR, "_")
    cleaned = cleaned.strip("_")
    if not cleaned:
        raise ValueError(f"history name {name!r} has nothing usable in it")
    return cleaned


def history_file_name(name: str, workflow_id: str) -> str:
    if any(char in workflow_id for char in _ID_UNSAFE):
        raise ValueError(f"workflow id {workflow_id!r} cannot be part of a file name")
    return f"{clean_name(name)}{SEPARATOR}{workflow_id}.json"


def workflow_id_of(path: Path) -> str:
    name, separator, workflow_id = path.stem.partition(SEPARATOR)
    if not separator or not name or not workflow_id:
        raise ValueError(f"{path.name}: expected <name>{SEPARATOR}<workflow_id>.json")
    return workflow_id


def history_files(directory: Path = DEFAULT_DIR) -> list[Path]:
    return sorted(directory.glob("*.json"))


def load_history(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(workflow_id_of(path), path.read_text())


def child_workflow_ids(history: WorkflowHistory) -> list[str]:
    """Children the workflow started, in start order (a shipment rebooked after a
    backtrack is a new child with a new id)."""
    ids: list[str] = []
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
            child = event.start_child_workflow_execution_initiated_event_attributes.workflow_id
            if child not in ids:
                ids.append(child)
    return ids


async def default_name(client: Client, workflow_id: str) -> str:
    """`<order type>_<status>` for an order (`standard_completed`), else
    `<workflow type>_<execution status>` (`shipment_running`)."""
    description = await client.get_workflow_handle(workflow_id).describe()
    attributes = description.typed_search_attributes
    kind = attributes.get(search_attributes.ORDER_TYPE) or description.workflow_type.removesuffix(
        "Workflow"
    )
    status = attributes.get(search_attributes.ORDER_STATUS) or (
        description.status.name if description.status else "unknown"
    )
    return clean_name(f"{kind}_{status}")


def write_history(history: WorkflowHistory, directory: Path, name: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / history_file_name(name, history.workflow_id)
    # Write then rename, so the replay suite never reads half a file.
    partial = path.with_suffix(".json.partial")
    partial.write_text(history.to_json() + "\n")
    partial.replace(path)
    return path


async def export_workflow(
    client: Client,
    workflow_id: str,
    directory: Path = DEFAULT_DIR,
    name: str | None = None,
    *,
    children: bool = True,
) -> list[Path]:
    """Write the workflow's history, then (with `children`) those of the children it
    started, under the same name. Returns the files written, parent first."""
    name = name or await default_name(client, workflow_id)
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    # Encrypted payloads are written decoded, so the replay suite needs no key.
    history = await decode_history(history, client.data_converter.payload_codec)
    paths = [write_history(history, directory, name)]
    if children:
        for child in child_workflow_ids(history):
            paths += await export_workflow(client, child, directory, name)
    return paths


async def export_order(
    client: Client, order_id: str, directory: Path = DEFAULT_DIR, name: str | None = None
) -> list[Path]:
    """The order workflow `order-{order_id}` and every child it started: its shipments,
    returns and rewards."""
    return await export_workflow(client, order_workflow_id(order_id), directory, name)


async def wait_closed(client: Client, workflow_id: str, timeout: float = 60) -> None:
    """Wait until the workflow and every child it started have closed, so a recorded
    history ends with its close event."""
    deadline = time.monotonic() + timeout
    handle = client.get_workflow_handle(workflow_id)
    while (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{workflow_id} still running after {timeout:.0f} s")
        await asyncio.sleep(0.2)
    for child in child_workflow_ids(await handle.fetch_history()):
        await wait_closed(client, child, max(deadline - time.monotonic(), 1))


async def export_command(
    settings: Settings,
    order_id: str | None,
    *,
    workflow_id: str | None = None,
    directory: Path = DEFAULT_DIR,
    name: str | None = None,
) -> list[Path]:
    """`oms history export`: an order with its shipments, or one workflow by id."""
    client = await connect(settings)
    if workflow_id:
        return await export_workflow(client, workflow_id, directory, name, children=False)
    assert order_id
    return await export_order(client, order_id, directory, name)


# A failure's reason is cut to this many characters, so each file stays one line.
REASON_CHARS = 400
_CORE_MESSAGE = re.compile(r'message: "((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Replayed:
    """One file replayed: `error` is why it did not replay (or could not be read), None when
    it replayed; `skipped` files were not history files (`.json`) at all."""

    path: Path
    error: BaseException | None = None
    skipped: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and not self.skipped

    @property
    def line(self) -> str:
        if self.skipped:
            return f"skip {self.path.name}: not a .json history file"
        if self.error is None:
            return f"ok {self.path.name}"
        text = str(self.error)
        # The SDK wraps core's failure in a debug dump; its message is the part worth reading.
        core = _CORE_MESSAGE.search(text)
        reason = " ".join(f"{type(self.error).__name__}: {core[1] if core else text}".split())
        if len(reason) > REASON_CHARS:
            reason = reason[: REASON_CHARS - 3] + "..."
        return f"FAIL {self.path.name}: {reason}"


async def replay_file(replayer: Replayer, path: Path) -> Replayed:
    """Replay one exported history with `replayer` (`workers.replay.strict_replayer`)."""
    if not path.exists():
        return Replayed(path, FileNotFoundError(f"no such file: {path}"))
    if path.suffix != ".json":
        return Replayed(path, skipped=True)
    try:
        history = load_history(path)
    except (OSError, ValueError, ParseError) as error:
        return Replayed(path, error)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    return Replayed(path, result.replay_failure)


async def replay_files(
    paths: Iterable[Path], replayer: Replayer | None = None
) -> AsyncIterator[Replayed]:
    """Each file replayed in turn; a directory stands for the `*.json` files in it."""
    if replayer is None:
        from workers.replay import strict_replayer

        replayer = strict_replayer()
    for path in paths:
        for file in history_files(path) if path.is_dir() else [path]:
            yield await replay_file(replayer, file)


async def replay_command(paths: Iterable[Path], out: TextIO | None = None) -> int:
    """`oms history replay`: one line per file, then a summary (on `out`, stdout by default);
    1 when any file failed or there was nothing to replay."""
    out = out or sys.stdout
    counts = {"ok": 0, "failed": 0, "skipped": 0}
    async for replayed in replay_files(paths):
        counts["skipped" if replayed.skipped else "ok" if replayed.ok else "failed"] += 1
        print(replayed.line, file=out, flush=True)
    summary = ", ".join(f"{count} {what}" for what, count in counts.items())
    print(f"replayed {counts['ok'] + counts['failed']} histories: {summary}", file=out)
    if not counts["ok"] + counts["failed"]:
        print(
            "nothing to replay: give exported history files (.json) or directories", file=sys.stderr
        )
        return 1
    return 1 if counts["failed"] else 0
