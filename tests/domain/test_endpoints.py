"""Endpoints as data: what a registration takes, which hosts are allowed, how a call is keyed,
signed and verified, and which answers carry the declared outputs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError
from temporalio.contrib.pydantic import pydantic_data_converter

from domain.endpoints import (
    DEFAULT_ALLOWED_HOSTS,
    Endpoint,
    EndpointAnswer,
    EndpointCall,
    OutputInvalid,
    fingerprint,
    host_allowed,
    sign,
    timestamp_fresh,
    typed_outputs,
    verify_signature,
)

SECRET = "s3cret-for-the-shop-0123"


def endpoint(**changes: Any) -> Endpoint:
    values = {"name": "gift-wrap", "url": "http://127.0.0.1:9100/gift-wrap", "secret": SECRET}
    return Endpoint(**(values | changes))


def refused_field(**changes: Any) -> str:
    with pytest.raises(ValidationError) as refused:
        endpoint(**changes)
    [error] = refused.value.errors()
    return str(error["loc"][0])


def test_a_registration_takes_a_name_an_http_url_a_timeout_and_a_secret() -> None:
    made = endpoint()
    assert made.timeout_s == 10
    assert made.secret.get_secret_value() == SECRET
    assert SECRET not in repr(made) and SECRET not in made.model_dump_json()
    assert endpoint(url="https://[::1]:8443/x?y=1", timeout_s=60).timeout_s == 60


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": "Gift-Wrap"}, "name"),
        ({"name": "9lives"}, "name"),
        ({"name": "a" * 41}, "name"),
        ({"name": "gift_wrap"}, "name"),
        ({"url": "ftp://127.0.0.1/x"}, "url"),
        ({"url": "http:///x"}, "url"),
        ({"url": "http://user:pw@127.0.0.1/x"}, "url"),
        ({"url": "http://127.0.0.1/x#part"}, "url"),
        ({"url": "http://127.0.0.1:99999/x"}, "url"),
        ({"url": "http://127.0.0.1/a b"}, "url"),
        ({"url": "http://127.0.0.1/\x00"}, "url"),
        ({"timeout_s": 0}, "timeout_s"),
        ({"timeout_s": 60.5}, "timeout_s"),
        ({"secret": "x" * 15}, "secret"),
        ({"secret": "x" * 257}, "secret"),
        ({"secret": "x" * 20 + "\n"}, "secret"),
        ({"extra": 1}, "extra"),
    ],
)
def test_a_registration_refuses_naming_the_field(changes: dict[str, Any], field: str) -> None:
    assert refused_field(**changes) == field


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://127.0.0.1:8000/x", True),
        ("http://localhost/x", True),
        ("http://LOCALHOST./x", True),
        ("http://[::1]:9/x", True),
        ("http://[0:0:0:0:0:0:0:1]/x", True),
        ("http://127.0.0.2/x", False),
        ("http://localhost.example.com/x", False),
        ("http://example.com/127.0.0.1", False),
        ("http://127.0.0.1@example.com/x", False),
        ("file:///etc/passwd", False),
        ("not a url", False),
    ],
)
def test_only_listed_hosts_are_allowed(url: str, allowed: bool) -> None:
    assert host_allowed(url, DEFAULT_ALLOWED_HOSTS) is allowed


def test_allowed_hosts_are_names_or_ips_matched_exactly() -> None:
    assert host_allowed("https://shop.internal/x", ["shop.internal"])
    assert not host_allowed("https://api.shop.internal/x", ["shop.internal"])
    assert host_allowed("http://10.0.0.7/x", [" 10.0.0.7 "])
    assert not host_allowed("http://127.0.0.1/x", [])


def test_the_public_view_never_holds_the_secret() -> None:
    public = endpoint().public()
    assert public.secret_set is True
    assert public.secret_fingerprint == fingerprint(SECRET) and len(fingerprint(SECRET)) == 8
    assert SECRET not in public.model_dump_json()
    assert set(public.model_dump()) == {
        "name",
        "url",
        "timeout_s",
        "secret_set",
        "secret_fingerprint",
    }


def call(**changes: Any) -> EndpointCall:
    values = {"order_id": "ord_1", "step_id": "wrap", "epoch": 2, "endpoint": "gift-wrap"}
    return EndpointCall(**(values | changes))


def test_the_idempotency_key_is_the_order_the_step_and_the_epoch() -> None:
    assert call().idempotency_key == "ord_1:wrap:2"
    assert call(undo=True).idempotency_key == "ord_1:wrap:2:undo"


def test_the_body_is_compact_json_of_what_the_service_receives() -> None:
    made = call(facts={"gift": True}, lines=[{"sku": "MUG", "quantity": 1}], outputs={"a": "int"})
    body = made.body()
    assert b" " not in body
    assert json.loads(body) == {
        "order_id": "ord_1",
        "step_id": "wrap",
        "epoch": 2,
        "undo": False,
        "facts": {"gift": True},
        "lines": [{"sku": "MUG", "quantity": 1}],
    }
    with pytest.raises(ValueError):
        call(facts={"weight": float("nan")}).body()


def test_a_signature_covers_the_timestamp_and_the_exact_body() -> None:
    body = call().body()
    header = sign(SECRET, 1700000000, body)
    assert header.startswith("sha256=") and len(header) == 7 + 64
    assert verify_signature(SECRET, "1700000000", body, header)
    assert verify_signature(SecretStr(SECRET), 1700000000, body, header)
    assert not verify_signature(SECRET, "1700000001", body, header)
    assert not verify_signature(SECRET, "1700000000", body + b" ", header)
    assert not verify_signature("another-secret-000000", "1700000000", body, header)
    assert not verify_signature(SECRET, "", body, header)
    assert not verify_signature(SECRET, "1700000000", body, None)
    assert timestamp_fresh("1700000000", 1700000100)
    assert not timestamp_fresh("1700000000", 1700000301)
    assert not timestamp_fresh("-5", 0)


def test_outputs_are_the_declared_keys_with_the_declared_types() -> None:
    declared = {"fee": "int", "note": "str", "ok": "bool"}
    answer = {"fee": 250, "note": "wrapped", "ok": False}
    assert typed_outputs(answer, declared) == answer  # type: ignore[arg-type]
    for wrong, named in [
        ({**answer, "fee": True}, "'fee' as bool, not int"),
        ({**answer, "ok": 1}, "'ok' as int, not bool"),
        ({**answer, "fee": 2.5}, "'fee' as float, not int"),
        ({**answer, "note": None}, "'note' as null, not str"),
        ({"fee": 1, "note": "x"}, "did not answer the output 'ok'"),
        ({**answer, "surprise\x00": 1}, "undeclared output 'surprise'"),
        ([answer], "list, not a JSON object"),
    ]:
        with pytest.raises(OutputInvalid, match=named):
            typed_outputs(wrong, declared)  # type: ignore[arg-type]


def test_an_answer_keeps_bools_and_ints_apart_through_the_converter() -> None:
    answer = EndpointAnswer(status=200, outputs={"ok": True, "fee": 1, "note": "1"})
    [payload] = pydantic_data_converter.payload_converter.to_payloads([answer])
    [back] = pydantic_data_converter.payload_converter.from_payloads([payload], [EndpointAnswer])
    assert back.outputs == {"ok": True, "fee": 1, "note": "1"}
    assert [type(value) for value in back.outputs.values()] == [bool, int, str]
