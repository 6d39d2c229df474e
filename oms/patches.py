"""`oms patches`: how many running orders took each patch in `workflows/patches.py`, from the
`TemporalChangeVersion` search attribute the SDK sets when a run takes one. A patch whose
old path no running order needs any more can be deprecated, then removed
(docs/versioning.md). Visibility lags a little: counts are as of a second or two ago."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from temporalio.client import Client

from oms.config.settings import Settings
from oms.config.temporal import connect
from workflows.patches import PATCHES

RUNNING_ORDERS = "WorkflowType = 'OrderWorkflow' AND ExecutionStatus = 'Running'"


@dataclass
class PatchCount:
    patch: str
    since: str
    running_with: int  # running orders that took it
    running_without: int  # started before it, or not yet at the code it guards


async def count_patches(client: Client, task_queue: str | None = None) -> list[PatchCount]:
    running = RUNNING_ORDERS + (f" AND TaskQueue = '{task_queue}'" if task_queue else "")
    total = (await client.count_workflows(running)).count
    counts = []
    for patch in PATCHES:
        took = await client.count_workflows(f"{running} AND TemporalChangeVersion = '{patch.id}'")
        counts.append(PatchCount(patch.id, patch.since, took.count, total - took.count))
    return counts


def render(counts: list[PatchCount]) -> str:
    rows = [("patch", "since", "running with it", "running without it")]
    rows += [(c.patch, c.since, str(c.running_with), str(c.running_without)) for c in counts]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
    return "\n".join(line.rstrip() for line in lines)


async def patches_command(settings: Settings, *, as_json: bool, task_queue: str | None) -> int:
    counts = await count_patches(await connect(settings), task_queue)
    print(json.dumps([asdict(c) for c in counts]) if as_json else render(counts))
    return 0
