"""Skip the SDK's payload passes over a workflow activation when they cannot change anything:
with no payload codec and no external storage (`OMS_PAYLOAD_KEY` unset), no converter is
built and no pass runs; with a codec every pass runs as before. It replaces private SDK
functions, so an upgrade that reshapes them fails `install()` at once.
See docs/decisions/0003-skip-idle-payload-passes.md.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

import temporalio.bridge.worker as bridge_worker
from temporalio.converter import DataConverter
from temporalio.converter._extstore import StorageOperationMetrics
from temporalio.worker import _workflow

_EXPECTED = {
    "decode_activation": ["activation", "data_converter", "decode_headers"],
    "encode_completion": ["completion", "data_converter", "encode_headers"],
}


def _command_aware_signature(
    instance: Any, context_free_dc: Any, workflow_context_dc: Any, workflow_context: Any
) -> None:
    """The parameters `_CommandAwareDataConverter.create` is called with, by name."""


def has_effect(converter: DataConverter) -> bool:
    """Whether a pass over payloads with this converter can change any of them."""
    return converter.payload_codec is not None or converter.external_storage is not None


def _unless_idle(
    payload_pass: Callable[..., Awaitable[StorageOperationMetrics]],
) -> Callable[..., Awaitable[StorageOperationMetrics]]:
    """`decode_activation` or `encode_completion`, returning at once when it has nothing to do."""

    async def run(
        message: Any, data_converter: DataConverter, *args: Any, **kwargs: Any
    ) -> StorageOperationMetrics:
        if not has_effect(data_converter):
            return StorageOperationMetrics()
        return await payload_pass(message, data_converter, *args, **kwargs)

    return run


def install() -> None:
    """Short-circuit the passes in this process (idempotent)."""
    if getattr(bridge_worker.decode_activation, "skips_idle_passes", False):
        return
    for name, leading in _EXPECTED.items():
        parameters = list(inspect.signature(getattr(bridge_worker, name)).parameters)
        if parameters[: len(leading)] != leading:
            raise RuntimeError(f"temporalio.bridge.worker.{name} changed: {parameters}")
    create = _workflow._CommandAwareDataConverter.create
    parameters = list(inspect.signature(create).parameters)
    if parameters != list(inspect.signature(_command_aware_signature).parameters):
        raise RuntimeError(f"_CommandAwareDataConverter.create changed: {parameters}")

    def command_aware(
        instance: Any,
        context_free_dc: DataConverter,
        workflow_context_dc: DataConverter,
        workflow_context: Any,
    ) -> DataConverter:
        # The SDK hands this converter to the passes, and converts a failed activation's
        # error with it: with no codec, the workflow's own converter does both as well.
        if not has_effect(workflow_context_dc):
            return workflow_context_dc
        return create(instance, context_free_dc, workflow_context_dc, workflow_context)

    decode_activation = _unless_idle(bridge_worker.decode_activation)
    decode_activation.skips_idle_passes = True  # type: ignore[attr-defined]
    bridge_worker.decode_activation = decode_activation  # type: ignore[assignment]
    bridge_worker.encode_completion = _unless_idle(bridge_worker.encode_completion)  # type: ignore[assignment]
    _workflow._CommandAwareDataConverter.create = staticmethod(command_aware)  # type: ignore[method-assign,assignment]
