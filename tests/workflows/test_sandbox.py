"""The sandboxes (`workers.sandbox`). In the worker's, which passes modules through,
payloads still reach a codec with the context the SDK gives them and `open()` is refused;
the strict one the replay suite runs in refuses the clock too."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowFailureError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import (
    ActivitySerializationContext,
    PayloadCodec,
    SerializationContext,
    WithSerializationContext,
    WorkflowSerializationContext,
)
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker, WorkflowRunner

from tests.workflows.reads_the_clock import ReadsTheClock
from workers.sandbox import strict_sandbox, workflow_runner


@activity.defn
async def greet(name: str) -> str:
    return f"hello {name}"


@workflow.defn
class Greeting:
    @workflow.run
    async def run(self, name: str) -> str:
        remote = await workflow.execute_activity(
            greet, name, start_to_close_timeout=timedelta(seconds=10)
        )
        local = await workflow.execute_local_activity(
            greet, remote, start_to_close_timeout=timedelta(seconds=10)
        )
        return local


@workflow.defn
class ReadsAFile:
    @workflow.run
    async def run(self) -> str:
        with open(__file__) as source:  # I/O belongs in an activity: the sandbox refuses it
            return source.read(10)


class ContextLog(PayloadCodec, WithSerializationContext):
    """Leaves payloads as they are and notes the context each one was encoded in."""

    def __init__(self, seen: list[tuple[SerializationContext | None, bytes]]) -> None:
        self.seen = seen
        self.context: SerializationContext | None = None

    def with_context(self, context: SerializationContext) -> ContextLog:
        made = ContextLog(self.seen)
        made.context = context
        return made

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        self.seen.extend((self.context, payload.data) for payload in payloads)
        return list(payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return list(payloads)


async def test_payloads_reach_the_codec_with_their_activity_or_workflow_context(
    temporal_env: WorkflowEnvironment,
) -> None:
    seen: list[tuple[SerializationContext | None, bytes]] = []
    converter = dataclasses.replace(pydantic_data_converter, payload_codec=ContextLog(seen))
    client = Client(temporal_env.client.service_client, data_converter=converter)
    queue = f"sandbox-{uuid.uuid4().hex[:8]}"
    workflow_id = f"greeting-{uuid.uuid4().hex[:8]}"
    async with Worker(
        client,
        task_queue=queue,
        workflows=[Greeting],
        activities=[greet],
        workflow_runner=workflow_runner(),
    ):
        result = await client.execute_workflow(
            Greeting.run,
            "ada",
            id=workflow_id,
            task_queue=queue,
            execution_timeout=timedelta(seconds=30),
        )
    assert result == "hello hello ada"

    def contexts_of(data: bytes) -> list[SerializationContext | None]:
        return [context for context, encoded in seen if encoded == data]

    # The activity's input and the local activity's, encoded by the workflow's completions.
    remote_input = [c for c in contexts_of(b'"ada"') if isinstance(c, ActivitySerializationContext)]
    assert [(c.activity_type, c.workflow_id, c.is_local) for c in remote_input] == [
        ("greet", workflow_id, False)
    ]
    # The first activity's result is the local one's input: the activity worker encodes the
    # one, the workflow the other.
    hello = [c for c in contexts_of(b'"hello ada"') if isinstance(c, ActivitySerializationContext)]
    assert sorted((c.activity_type, c.is_local) for c in hello) == [
        ("greet", False),
        ("greet", True),
    ]
    # The workflow's result is the workflow's own payload.
    assert WorkflowSerializationContext(
        namespace=client.namespace, workflow_id=workflow_id
    ) in contexts_of(b'"hello hello ada"')


async def failed_tasks(client: Client, workflow_cls: type, runner: WorkflowRunner) -> list[str]:
    """The messages of the workflow tasks a run of `workflow_cls` failed in `runner`."""
    queue = f"sandbox-{uuid.uuid4().hex[:8]}"
    async with Worker(client, task_queue=queue, workflows=[workflow_cls], workflow_runner=runner):
        handle = await client.start_workflow(
            workflow_cls.run,  # type: ignore[attr-defined]
            id=f"refused-{uuid.uuid4().hex[:8]}",
            task_queue=queue,
            execution_timeout=timedelta(seconds=3),
        )
        try:
            await handle.result()
        except WorkflowFailureError:
            pass
    return [
        event.workflow_task_failed_event_attributes.failure.message
        async for event in handle.fetch_history_events()
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
    ]


async def test_workflow_code_is_refused_io(temporal_env: WorkflowEnvironment) -> None:
    failures = await failed_tasks(temporal_env.client, ReadsAFile, workflow_runner())
    assert failures and "open" in failures[0]


async def test_the_strict_sandbox_refuses_the_clock_the_worker_sandbox_does_not(
    temporal_env: WorkflowEnvironment,
) -> None:
    # Why the replay suite runs in the strict sandbox: a recorded scenario whose code path
    # reads the clock fails there, where the worker would run it and differ on replay.
    strict = await failed_tasks(temporal_env.client, ReadsTheClock, strict_sandbox())
    assert strict and "datetime.datetime.now" in strict[0]
    assert await failed_tasks(temporal_env.client, ReadsTheClock, workflow_runner()) == []
