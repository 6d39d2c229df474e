"""Reading what a signal or an update carries, whatever the sender put in it.

A message can arrive with no input (the Web UI's form left empty), with several, or with a
payload that is not JSON. Handlers take their arguments raw and read them here, so that each
of those becomes a refusal that says what was wrong instead of a failed workflow task.
See docs/decisions/0001-messages-take-any-input.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from temporalio import workflow
from temporalio.common import RawValue

with workflow.unsafe.imports_passed_through():
    from domain.text import escaped, text_problem

M = TypeVar("M", bound=BaseModel)

EXCERPT_CHARS = 2000


class Unreadable(Exception):
    """A message whose input cannot be read; the text says why, for the journal."""


def one_input(args: Sequence[Any]) -> Any:
    """The single JSON value a message carries (decoded when it came raw)."""
    value = _single(args)
    if isinstance(value, RawValue):
        try:
            return workflow.payload_converter().from_payload(value.payload)
        except Exception as error:  # any decoding failure means the bytes are not JSON
            raise Unreadable(f"not JSON ({type(error).__name__})") from None
    return value


def one_model(args: Sequence[Any], model: type[M]) -> M:
    """The single input of a message, as `model`; the refusal names each bad field. A raw
    input is decoded straight into the model, as the SDK decodes a typed handler's."""
    value = _single(args)
    try:
        if isinstance(value, RawValue):
            decoded: M = workflow.payload_converter().from_payload(value.payload, model)
            return decoded
        return model.model_validate(value)
    except ValidationError as error:
        raise Unreadable(problems(error)) from None
    except Exception as error:  # the payload converter's own failures: not JSON at all
        raise Unreadable(f"not JSON ({type(error).__name__})") from None


def _single(args: Sequence[Any]) -> Any:
    if not args:
        raise Unreadable("no input; expected one JSON object")
    if len(args) > 1:
        raise Unreadable(f"{len(args)} inputs, expected 1")
    value = args[0]
    if isinstance(value, RawValue):
        encoding = value.payload.metadata.get("encoding", b"").decode("utf-8", "replace")
        if encoding != "json/plain":
            raise Unreadable(f"not JSON (encoding {encoding or 'none'!r})")
    elif isinstance(value, bytes | bytearray):
        raise Unreadable("not JSON (binary/plain)")
    return value


def problems(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in error.errors()
    )


def excerpt(args: Sequence[Any]) -> Any:
    """What a refused message carried, bounded and printable, for the journal: never more
    than 2,000 characters, and no control characters (PostgreSQL text cannot hold NUL)."""
    values = []
    for value in args:
        if isinstance(value, RawValue):
            value = value.payload.data[:EXCERPT_CHARS].decode("utf-8", "replace")
        values.append(value)
    shown: Any = values[0] if len(values) == 1 else values
    try:
        text = repr(shown)
    except RecursionError:
        return "(nested too deeply to show)"
    if isinstance(shown, dict | list | str | int) and len(text) <= EXCERPT_CHARS:
        if _printable(shown):
            return shown
    return escaped(text[:EXCERPT_CHARS])


def _printable(value: Any) -> bool:
    """No string of `value` holds what the store cannot (`domain.text`); walked without
    recursion, so a deeply nested body cannot exhaust the stack."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str) and text_problem(item) is not None:
            return False
    return True
