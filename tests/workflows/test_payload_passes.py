"""The worker's short-circuit of the SDK's payload passes (`workers.payload_passes`): with no
codec an activation's payloads reach the workflow as the server sent them, without a pass;
with a codec every payload still goes through it. The whole stack with a codec runs in
tests/codec/test_encrypted_stack.py."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
import temporalio.bridge.worker as bridge_worker
from temporalio.api.common.v1 import Payload
from temporalio.bridge.proto.workflow_activation import WorkflowActivation
from temporalio.bridge.proto.workflow_completion import WorkflowActivationCompletion
from temporalio.contrib.pydantic import PydanticPayloadConverter, pydantic_data_converter
from temporalio.converter import DataConverter, PayloadCodec, WorkflowSerializationContext
from temporalio.worker import _workflow

from workers import payload_passes


class CountingCodec(PayloadCodec):
    """Marks each payload it encodes or decodes, and counts them."""

    def __init__(self) -> None:
        self.seen = 0

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        self.seen += len(payloads)
        return [Payload(metadata=p.metadata, data=b"encoded:" + p.data) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        self.seen += len(payloads)
        return [Payload(metadata=p.metadata, data=b"decoded:" + p.data) for p in payloads]


def signal_activation() -> WorkflowActivation:
    activation = WorkflowActivation(run_id="run-1")
    signal = activation.jobs.add().signal_workflow
    signal.signal_name = "carrier_event"
    signal.input.add(metadata={"encoding": b"json/plain"}, data=b'{"status":"delivered"}')
    return activation


def completion_with_result() -> WorkflowActivationCompletion:
    completion = WorkflowActivationCompletion(run_id="run-1")
    command = completion.successful.commands.add().complete_workflow_execution
    command.result.metadata["encoding"] = b"json/plain"
    command.result.data = b'{"status":"COMPLETED"}'
    return completion


@pytest.fixture(autouse=True)
def installed() -> None:
    payload_passes.install()
    payload_passes.install()  # a second worker in the process installs again: no change


async def test_without_a_codec_payloads_arrive_as_sent_without_a_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def no_pass(*args: object, **kwargs: object) -> None:
        raise AssertionError("a pass over the payloads ran")

    monkeypatch.setattr(bridge_worker.CommandAwarePayloadVisitor, "visit", no_pass)
    activation = signal_activation()
    await bridge_worker.decode_activation(
        activation, pydantic_data_converter, decode_headers=True, storage_concurrency_limit=1
    )
    assert activation.jobs[0].signal_workflow.input[0].data == b'{"status":"delivered"}'

    completion = completion_with_result()
    await bridge_worker.encode_completion(
        completion, pydantic_data_converter, encode_headers=True, storage_concurrency_limit=1
    )
    assert completion.successful.commands[0].complete_workflow_execution.result.data == (
        b'{"status":"COMPLETED"}'
    )


async def test_with_a_codec_every_payload_still_goes_through_it() -> None:
    codec = CountingCodec()
    converter = DataConverter(payload_converter_class=PydanticPayloadConverter, payload_codec=codec)
    activation = signal_activation()
    await bridge_worker.decode_activation(
        activation, converter, decode_headers=True, storage_concurrency_limit=1
    )
    assert activation.jobs[0].signal_workflow.input[0].data == (b'decoded:{"status":"delivered"}')

    completion = completion_with_result()
    await bridge_worker.encode_completion(
        completion, converter, encode_headers=True, storage_concurrency_limit=1
    )
    assert completion.successful.commands[0].complete_workflow_execution.result.data == (
        b'encoded:{"status":"COMPLETED"}'
    )
    assert codec.seen == 2


def test_no_command_aware_converter_is_built_without_a_codec() -> None:
    context = WorkflowSerializationContext(namespace="default", workflow_id="order-ord_1")
    plain = pydantic_data_converter.with_context(context)
    built = _workflow._CommandAwareDataConverter.create(
        instance=None,  # type: ignore[arg-type]
        context_free_dc=pydantic_data_converter,
        workflow_context_dc=plain,
        workflow_context=context,
    )
    assert built is plain

    encrypting = DataConverter(
        payload_converter_class=PydanticPayloadConverter, payload_codec=CountingCodec()
    )
    built = _workflow._CommandAwareDataConverter.create(
        instance=None,  # type: ignore[arg-type]
        context_free_dc=encrypting,
        workflow_context_dc=encrypting,
        workflow_context=context,
    )
    assert isinstance(built, _workflow._CommandAwareDataConverter)


def test_an_sdk_that_reshaped_the_passes_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    async def decode_activation(activation: object, converter: object, options: object) -> None:
        """What a newer SDK might pass instead: the short-circuit would call it wrongly."""

    monkeypatch.setattr(bridge_worker, "decode_activation", decode_activation)
    with pytest.raises(RuntimeError, match="decode_activation changed"):
        payload_passes.install()
