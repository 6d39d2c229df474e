"""The edge's parts on their own: the body check (api/middleware/json_body.py: where its depth scan
draws the line, what it names, that it never quotes what it refuses), the media type, FastAPI's
422 without the guard in front (api/middleware/errors.py), and the address model's own refusal."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from api.middleware import errors
from api.middleware.json_body import MAX_DEPTH, MAX_ERRORS, body_errors
from api.middleware.request_guard import media_type_problem
from api.models import LineCreate
from domain.addresses import Address
from domain.interventions import AddressCorrection
from tests.api.hostile import JSON, refused_at
from tests.helpers.orders import ADDRESS

VISA = "4111111111111111"


def locs(body: bytes, strict: bool = True) -> list[list]:
    return [error["loc"] for error in body_errors(body, strict_syntax=strict)]


def test_nesting_up_to_the_limit_passes_and_one_more_is_refused() -> None:
    assert body_errors(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH) == []
    [error] = body_errors(b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1))
    assert (error["type"], error["loc"]) == ("json_too_deep", ["body"])


def test_brackets_and_escaped_quotes_inside_strings_do_not_count() -> None:
    text = json.dumps({"note": "[" * 1000 + '\\"{' * 500, "a": ['"]]]\\\\']})
    assert body_errors(text.encode()) == []


def test_the_scan_is_linear_on_hostile_text() -> None:
    started = time.monotonic()
    for body in (b'"\\' * 30_000, b'"' * 60_000, b"[" * 60_000, b'{"' * 30_000):
        body_errors(body)
    assert time.monotonic() - started < 2


def test_each_refusal_names_its_path() -> None:
    body = (
        b'{"a": [1, NaN], "b": {"c": 1, "c": 2}, "d": 12345678901234567890,'
        b' "e": "x\\u0001", "f\\u0000": 1, "g": "\\udc00"}'
    )
    found = {(tuple(e["loc"]), e["type"]) for e in body_errors(body)}
    assert found == {
        (("body", "a", 1), "finite_number"),
        (("body", "b", "c"), "duplicate_key"),
        (("body", "d"), "int_too_large"),
        (("body", "e"), "string_character"),
        (("body", "f\\u0000"), "string_character"),
        (("body", "g"), "string_character"),
    }


def test_card_numbers_are_named_never_quoted() -> None:
    body = json.dumps({VISA: {"x": VISA}, "n": int(VISA)}).encode()
    errors = body_errors(body)
    assert [e["loc"] for e in errors] == [
        ["body"],
        ["body", "[card number removed]", "x"],
        ["body", "n"],
    ]
    assert VISA not in json.dumps(errors)


def test_invalid_json_is_one_error_without_the_text() -> None:
    [error] = body_errors(b'{"secret": "s3cr3t", ')
    assert error["type"] == "json_invalid" and error["loc"] == ["body"]
    assert "line 1 column" in error["msg"] and "s3cr3t" not in error["msg"]
    [error] = body_errors(b'{"a": "\xff"}')
    assert "not valid JSON text" in error["msg"]


def test_routes_with_their_own_parser_get_no_syntax_error_but_the_rest() -> None:
    assert locs(b"{not json", strict=False) == []
    assert locs(f"not json {VISA}".encode(), strict=False) == [["body"]]
    assert locs(b"[" * 5000, strict=False) == [["body"]]  # too deep, whatever the parser


def test_a_body_of_many_refusals_gets_a_short_answer() -> None:
    assert len(body_errors(b"[" + b"NaN," * 5000 + b"1]")) == MAX_ERRORS


def test_plain_documents_pass() -> None:
    document = {"a": [1, 2.5, -3, True, None, "tab\tnew\nline", "é😀"], "b": {"c": 10**17}}
    assert body_errors(json.dumps(document).encode()) == []
    assert body_errors(json.dumps(document).encode("utf-16")) == []


@pytest.mark.parametrize(
    ("content_type", "problem"),
    [
        (b"application/json", None),
        (b"application/json; charset=utf-8", None),
        (b"application/vnd.api+json", None),
        (b"text/plain", "the request body must be application/json (got text/plain)"),
        (b"text/json", "the request body must be application/json (got text/json)"),
        (None, "the request body must be application/json (got no Content-Type)"),
    ],
)
def test_media_types(content_type: bytes | None, problem: str | None) -> None:
    headers = [(b"content-type", content_type)] if content_type else []
    assert media_type_problem({"headers": headers}) == problem


async def test_fastapis_422_survives_nan_surrogates_and_nul_without_the_guard() -> None:
    """The handler alone: the input FastAPI echoes cannot break the 422's encoding."""
    app = FastAPI()
    errors.install(app)

    @app.post("/line")
    async def line(body: LineCreate) -> dict[str, str]:
        return {"sku": body.sku}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://oms") as http:
        for raw, loc in [
            (b'{"sku": "A", "quantity": NaN}', ["body", "quantity"]),
            (b'{"sku": "A", "quantity": 1e999}', ["body", "quantity"]),
            (b'{"sku": "\\ud800' + b"x" * 500 + b'", "quantity": 1.5}', ["body", "sku"]),
            # pydantic refuses the key itself, echoing it as the input
            (b'{"sku": "A", "quantity": 1, "\\ud800\\u0000": 2}', ["body"]),
            (b"x" * 5_000, ["body"]),  # sent as text/plain: the bytes are the input
        ]:
            plain = raw.startswith(b"x")
            headers = {"Content-Type": "text/plain"} if plain else JSON
            response = await http.post("/line", content=raw, headers=headers)
            refused_at(response, loc)
            assert len(response.content) < 1_000, response.text


def test_the_address_model_refuses_control_characters_whatever_the_door() -> None:
    """A broker intake or a signal validates the model, not the HTTP edge."""
    for bad in ("1 Main\x00 St", "a\x01", "a\ud800"):
        with pytest.raises(ValidationError) as refused:
            Address.model_validate(ADDRESS | {"line1": bad})
        assert [error["loc"] for error in refused.value.errors()] == [("line1",)]
    with pytest.raises(ValidationError) as refused:
        AddressCorrection.model_validate({"shipping_address": ADDRESS | {"region": "x\x00"}})
    assert refused.value.errors()[0]["loc"] == ("shipping_address", "region")
    assert Address.model_validate(ADDRESS | {"line2": "Flat 2\n\tRear"}).line2 == "Flat 2\n\tRear"
