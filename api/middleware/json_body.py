"""What a JSON request body must be before any route parses it: `body_errors` refuses text
that is not JSON, nesting deeper than `MAX_DEPTH`, NaN and Infinity, huge numbers, duplicate
keys, NUL, control characters and lone surrogates in strings, and card numbers, each as a 422
entry in FastAPI's shape naming the field and never quoting its value.

All of it is one iterative walk over the parsed document: nothing here recurses on what the
client sent.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from api.middleware.card_numbers import CARD_MESSAGE, contains_card_number, redact
from domain.text import escaped, text_problem

MAX_DEPTH = 32
MAX_INT_DIGITS = 18
MAX_ERRORS = 50  # enough to name what is wrong; a body of 10,000 NaNs gets a short answer
MAX_LOC_PART = 80

Loc = list[str | int]
_Path = tuple[str | int, ...]


def error(kind: str, loc: Loc, msg: str) -> dict[str, Any]:
    return {"type": kind, "loc": loc, "msg": msg}


def card_error(loc: Loc) -> dict[str, Any]:
    return error("value_error", loc, CARD_MESSAGE)


def loc_part(part: str | int) -> str | int:
    """A key as it may appear in a `loc`: control characters escaped, card numbers masked."""
    if isinstance(part, int):
        return part
    return redact(escaped(part))[:MAX_LOC_PART]


def body_errors(body: bytes, strict_syntax: bool = True) -> list[dict[str, Any]]:
    """Why `body` may not reach a route, as 422 entries (`type`, `loc`, `msg`); empty when it
    may. Refused:

    - text that is not JSON (syntax or encoding), with the parser's position;
    - nesting deeper than `MAX_DEPTH`, found by a scan of the text before anything parses it
      (the parsers recurse, so a 20 KB `[[[[...` would exhaust the interpreter's stack);
    - NaN and Infinity (not JSON numbers; they break the JSON of any answer that echoes
      them), and numbers too large for a float;
    - integers of more than `MAX_INT_DIGITS` digits (no field of the API takes one; Python
      refuses to parse those over 4300 digits at all);
    - an object that names the same key twice (which one counts is the parser's choice);
    - strings, keys included, holding NUL, other control characters or lone surrogates
      (`domain.text`): PostgreSQL cannot store NUL and a lone surrogate cannot be encoded;
    - card numbers (`card_numbers`).

    With `strict_syntax` off, text that is not JSON is only scanned for card numbers (for
    routes whose own parser answers a syntax error)."""
    try:
        # As json.loads does with bytes, so that the route parses the same text.
        text = body.decode(json.detect_encoding(body), "surrogatepass")
    except UnicodeDecodeError as problem:
        invalid = f"the body is not valid JSON text: {problem.reason} at byte {problem.start}"
        return _not_json(body.decode("utf-8", "replace"), invalid, strict_syntax)
    if _deeper_than(text, MAX_DEPTH):
        return [error("json_too_deep", ["body"], f"JSON nested more than {MAX_DEPTH} levels")]
    try:
        document = json.loads(
            text,
            parse_constant=_NonFinite,
            parse_float=_parse_float,
            parse_int=_parse_int,
            object_pairs_hook=_object,
        )
    except json.JSONDecodeError as problem:
        return _not_json(text, f"the body is not valid JSON: {problem}", strict_syntax)
    return _walk(document)


def _not_json(text: str, message: str, strict_syntax: bool) -> list[dict[str, Any]]:
    errors = [error("json_invalid", ["body"], message)] if strict_syntax else []
    if contains_card_number(text):
        errors.append(card_error(["body"]))
    return errors


_SPECIAL = re.compile(r'[\[\]{}"\\]')


def _deeper_than(text: str, limit: int) -> bool:
    """Whether arrays and objects nest more than `limit` deep; brackets inside strings do not
    count. Up to the first syntax error this reads the text as the parser does, so the parser
    never nests deeper than this saw."""
    depth = 0
    in_string = False
    escaped_at = -1
    for match in _SPECIAL.finditer(text):
        char, at = match[0], match.start()
        if in_string:
            if at == escaped_at:
                continue
            if char == "\\":
                escaped_at = at + 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


# What the parser's hooks leave in the document for the walk, which knows the field's path.


class _NonFinite(str):
    """NaN, Infinity, -Infinity, or a number too large for a float."""


class _HugeInt(int):
    """An integer with more than MAX_INT_DIGITS digits (its value is its digit count)."""


class _Object(dict):
    duplicates: tuple[str, ...] = ()


def _parse_float(text: str) -> float | _NonFinite:
    value = float(text)
    return value if math.isfinite(value) else _NonFinite(text)


def _parse_int(text: str) -> int:
    digits = len(text.lstrip("-"))
    return _HugeInt(digits) if digits > MAX_INT_DIGITS else int(text)


def _object(pairs: list[tuple[str, Any]]) -> _Object:
    found = _Object(pairs)
    if len(found) != len(pairs):
        seen: set[str] = set()
        twice: dict[str, None] = {}  # ordered, each key once
        for key, _ in pairs:
            if key in seen:
                twice[key] = None
            seen.add(key)
        found.duplicates = tuple(twice)
    return found


def _walk(document: Any) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []

    def refuse(kind: str, path: _Path, msg: str) -> None:
        found = error(kind, ["body", *(loc_part(part) for part in path)], msg)
        if found not in errors:  # e.g. two keys of one object that are card numbers
            errors.append(found)

    pending: list[tuple[Any, _Path]] = [(document, ())]
    while pending and len(errors) < MAX_ERRORS:
        value, path = pending.pop()
        if isinstance(value, dict):
            for key in getattr(value, "duplicates", ()):
                refuse("duplicate_key", (*path, key), "this key appears more than once")
            children = []
            for key, child in value.items():
                if problem := text_problem(key):
                    refuse("string_character", (*path, key), f"the key {problem}")
                if contains_card_number(key):
                    refuse("value_error", path, CARD_MESSAGE)  # naming the key would echo it
                children.append((child, (*path, key)))
            pending.extend(reversed(children))
        elif isinstance(value, list):
            pending.extend((child, (*path, i)) for i, child in reversed(list(enumerate(value))))
        elif isinstance(value, _NonFinite):
            refuse("finite_number", path, f"{_number_name(value)} is not a finite JSON number")
        elif isinstance(value, _HugeInt):
            msg = f"an integer of {int(value)} digits; at most {MAX_INT_DIGITS} are accepted"
            refuse("int_too_large", path, msg)
        elif isinstance(value, str):
            if problem := text_problem(value):
                refuse("string_character", path, f"the value {problem}")
            if contains_card_number(value):
                refuse("value_error", path, CARD_MESSAGE)
        elif isinstance(value, int) and not isinstance(value, bool):
            if contains_card_number(str(value)):
                refuse("value_error", path, CARD_MESSAGE)
    return errors[:MAX_ERRORS]


def _number_name(value: str) -> str:
    return value if value in ("NaN", "Infinity", "-Infinity") else "a number this large"
