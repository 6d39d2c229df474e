"""Text the OMS can store and show: no NUL or other C0 control characters (tab, line feed
and carriage return aside) and no lone surrogates.

PostgreSQL text cannot hold NUL at all, a lone surrogate cannot be encoded as UTF-8 (so it
cannot be written to the store, a log line or a JSON answer), and the other control
characters have no place in names, addresses or notes. Refusing them where text comes in
keeps every door (the API, a broker intake, a signal from the CLI) to the same rule.
"""

from __future__ import annotations

import re

_REFUSED = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")


def text_problem(value: str) -> str | None:
    """What is wrong with `value` as stored text, without quoting it; None when nothing is."""
    found = _REFUSED.search(value)
    if found is None:
        return None
    code = ord(found[0])
    if code == 0:
        return "must not contain a NUL character (U+0000)"
    if code >= 0xD800:
        return f"must not contain a lone surrogate (U+{code:04X}); it is not valid Unicode"
    return f"must not contain the control character U+{code:04X}"


def refuse_control_characters(value: str) -> str:
    """`value` unchanged, or a ValueError saying which character it must not hold (for
    pydantic validators: the error names the field, never the value)."""
    problem = text_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def escaped(value: str) -> str:
    """`value` with the characters `text_problem` refuses written as `\\uXXXX`, so that it
    can be encoded, logged and shown."""
    return _REFUSED.sub(lambda found: f"\\u{ord(found[0]):04x}", value)
