"""`oms patches`: how many running orders took each patch in `workflows/patches.py`, from the
`TemporalChangeVersion` search attribute the SDK sets when a run takes one. A patch whose
old path no running order needs any more can be deprecated, then removed
(docs/versioning.md). Visibility lags a little: counts are as of a second or two ago."""

from __future__ import annotations

from dataclasses import dataclass

from temporalio.client import Client

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
