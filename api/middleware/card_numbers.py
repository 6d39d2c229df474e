"""Card numbers (PANs) in request data: the API takes gateway tokens (`tok_...`), never card
data, so anything that looks like one is refused before it is stored, journaled or logged.

One is 13 to 19 digits, optionally grouped by single spaces or dashes, that passes the Luhn
check, starts with a digit a payment network issues and stands on its own (not glued to a
letter or digit: hex ids, UUIDs, longer numbers are not one). `4111-1111-1111-1111` and
`tok_4111111111111111` are caught; order ids, SKUs, timestamps and amounts are not. Pure
functions; `request_guard` and `json_body` apply them to every request."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

Path = tuple[str | int, ...]

MIN_DIGITS = 13
MAX_DIGITS = 19
# Mastercard, Amex, Visa, Discover, UnionPay, JCB, Maestro.
ISSUER_DIGITS = frozenset("23456")

# A run of digit groups joined by single separators; what precedes and follows it is
# checked in code, so a group glued to a letter or digit never starts or ends a candidate.
_RUN = re.compile(r"\d+(?:[ -]\d+)*")
_GROUP = re.compile(r"\d+")
_MASK = "[card number removed]"

CARD_MESSAGE = (
    "looks like a card number; the API takes payment tokens (tok_...) only, never card data"
)


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) checksum of a string of digits."""
    if not digits.isdecimal():
        return False
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def is_card_number(digits: str) -> bool:
    """True for 13 to 19 digits with an issuer's first digit and a valid Luhn checksum."""
    return (
        MIN_DIGITS <= len(digits) <= MAX_DIGITS
        and digits[0] in ISSUER_DIGITS
        and luhn_valid(digits)
    )


def _free_before(text: str, start: int) -> bool:
    return start == 0 or not text[start - 1].isalnum()


def _free_after(text: str, end: int) -> bool:
    return end == len(text) or not text[end].isalnum()


def card_spans(text: str) -> Iterator[tuple[int, int]]:
    """Where `text` holds card numbers, as (start, end) character offsets. Within a run of
    grouped digits (`ref 12 4111 1111 1111 1111`) every span of whole groups is tried."""
    for run in _RUN.finditer(text):
        groups = [(g.start() + run.start(), g.end() + run.start()) for g in _GROUP.finditer(run[0])]
        found_until = -1
        for first in range(len(groups)):
            start = groups[first][0]
            if start < found_until or not _free_before(text, start):
                continue
            digits = ""
            for last in range(first, len(groups)):
                digits += text[groups[last][0] : groups[last][1]]
                if len(digits) > MAX_DIGITS:
                    break
                end = groups[last][1]
                if _free_after(text, end) and is_card_number(digits):
                    yield start, end
                    found_until = end
                    break


def contains_card_number(text: str) -> bool:
    return next(card_spans(text), None) is not None


def redact(text: str) -> str:
    """`text` with every card number replaced by a marker."""
    spans = list(card_spans(text))
    for start, end in reversed(spans):
        text = text[:start] + _MASK + text[end:]
    return text


def _scalar_has_card(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return contains_card_number(str(value))
    if isinstance(value, str):
        return contains_card_number(value)
    return False


_CARD_KEY = object()  # marks, on the walk's stack, an object one of whose keys is a card number


def find_card_numbers(value: Any, path: Path = ()) -> list[Path]:
    """The paths (keys and list indexes, as in a 422's `loc`) of every value in a decoded JSON
    document that holds a card number, in document order. A key that is one names the object
    holding it. Iterative: a client's nesting must not exhaust the interpreter's stack."""
    found: list[Path] = []
    pending: list[tuple[Any, Path]] = [(value, path)]
    while pending:
        item, where = pending.pop()
        if isinstance(item, dict):
            children: list[tuple[Any, Path]] = []
            for key, child in item.items():
                if isinstance(key, str) and contains_card_number(key):
                    children.append((_CARD_KEY, where))  # reported in document order
                children.append((child, (*where, key)))
            pending.extend(reversed(children))
        elif item is _CARD_KEY:
            if where not in found:
                found.append(where)
        elif isinstance(item, list):
            pending.extend((child, (*where, i)) for i, child in reversed(list(enumerate(item))))
        elif _scalar_has_card(item):
            found.append(where)
    return found
