"""`call_endpoint` against a real service on loopback (`tests/helpers/shop_service.py`): what
the service receives, how answers become outputs, and which failures a retry may mend."""

from __future__ import annotations

import base64
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import pytest
from pydantic import SecretStr
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.endpoints import MAX_ANSWER_BYTES, EndpointActivities
from domain.endpoints import EndpointAnswer, EndpointCall, verify_signature
from oms.config.codec import parse_key
from store.db import Store
from store.endpoints import register_endpoint
from store.sealed import SecretBox
from tests.helpers.shop_service import Answer, ShopService, shop_service
from tests.helpers.stack import free_port


@pytest.fixture
async def shop() -> AsyncIterator[ShopService]:
    async with shop_service() as service:
        yield service


@pytest.fixture
async def calls(own_store: Store, shop: ShopService) -> AsyncIterator[EndpointActivities]:
    for name in ("gift-wrap", "gift-wrap-cancel", "address-check"):
        await register_endpoint(own_store, shop.endpoint(name))
    activities = EndpointActivities(own_store)
    yield activities
    await activities.close()


def a_call(endpoint: str = "gift-wrap", **changes: Any) -> EndpointCall:
    values = {
        "order_id": "ord_1",
        "step_id": "wrap",
        "epoch": 1,
        "endpoint": endpoint,
        "outputs": {"wrap_fee_minor": "int"},
        "facts": {"order_type": "standard"},
        "lines": [{"line_id": "ln_1", "sku": "MUG-GIFT", "quantity": 1}],
    }
    return EndpointCall(**(values | changes))


async def failure(pending: Awaitable[Any]) -> ApplicationError:
    with pytest.raises(ApplicationError) as failed:
        await pending
    return failed.value


async def test_a_call_is_signed_keyed_and_answered(
    calls: EndpointActivities, shop: ShopService
) -> None:
    call = a_call()
    answer = await calls.call_endpoint(call)
    assert answer == EndpointAnswer(status=200, outputs={"wrap_fee_minor": 250})
    [received] = shop.requests("/gift-wrap")
    headers = received.headers
    assert received.body == call.body()
    assert set(received.json) == {"order_id", "step_id", "epoch", "undo", "facts", "lines"}
    assert headers["content-type"] == "application/json"
    assert headers["idempotency-key"] == "ord_1:wrap:1"
    assert headers["user-agent"] == "temporal-oms"
    assert abs(int(headers["x-oms-timestamp"]) - time.time()) < 60
    assert received.signature_valid
    assert verify_signature(
        shop.secret, headers["x-oms-timestamp"], received.body, headers["x-oms-signature"]
    )
    assert not verify_signature(
        "not-the-secret-000000",
        headers["x-oms-timestamp"],
        received.body,
        headers["x-oms-signature"],
    )


async def test_it_runs_as_an_activity(calls: EndpointActivities) -> None:
    answer = await ActivityEnvironment().run(calls.call_endpoint, a_call(lines=[]))
    assert answer.outputs == {"wrap_fee_minor": 0}


async def test_a_retry_has_the_same_key_and_no_second_effect(
    calls: EndpointActivities, shop: ShopService
) -> None:
    first = await calls.call_endpoint(a_call())
    again = await calls.call_endpoint(a_call())
    assert first == again
    [call] = shop.demo.report()["calls"]
    assert (call["key"], call["requests"], call["effects"]) == ("ord_1:wrap:1", 2, 1)


async def test_an_undo_has_its_own_key_and_its_answer_is_not_read(
    calls: EndpointActivities, shop: ShopService
) -> None:
    shop.script("/gift-wrap-cancel", Answer(200, json={"anything": [1, 2]}))
    answer = await calls.call_endpoint(a_call("gift-wrap-cancel", undo=True))
    assert answer == EndpointAnswer(status=200, outputs={})
    [received] = shop.requests("/gift-wrap-cancel")
    assert received.headers["idempotency-key"] == "ord_1:wrap:1:undo"
    assert received.json["undo"] is True and received.signature_valid


async def test_outputs_come_typed(calls: EndpointActivities, shop: ShopService) -> None:
    shop.script("/address-check", Answer(200, json={"n": 3, "s": "x", "b": True}))
    answer = await calls.call_endpoint(
        a_call("address-check", outputs={"n": "int", "s": "str", "b": "bool"})
    )
    assert answer.outputs == {"n": 3, "s": "x", "b": True}
    assert [type(value) for value in answer.outputs.values()] == [int, str, bool]


@pytest.mark.parametrize(
    ("answered", "declared", "named"),
    [
        ({"n": True}, {"n": "int"}, "'n' as bool, not int"),
        ({"b": 1}, {"b": "bool"}, "'b' as int, not bool"),
        ({"n": "3"}, {"n": "int"}, "'n' as str, not int"),
        ({}, {"n": "int"}, "did not answer the output 'n'"),
        ({"n": 1, "extra": 2}, {"n": "int"}, "undeclared output 'extra'"),
        ({"address_ok": True}, {}, "undeclared output 'address_ok'"),
        ([1], {}, "list, not a JSON object"),
        ("not json", {}, "not JSON"),
    ],
)
async def test_outputs_other_than_declared_are_refused(
    calls: EndpointActivities,
    shop: ShopService,
    answered: Any,
    declared: dict[str, Any],
    named: str,
) -> None:
    body = answered.encode() if isinstance(answered, str) else json.dumps(answered).encode()
    shop.script("/address-check", Answer(200, body=body))
    error = await failure(calls.call_endpoint(a_call("address-check", outputs=declared)))
    assert error.type == "EndpointOutputInvalid" and error.non_retryable
    assert named in error.message


async def test_a_4xx_is_refused_for_good_with_its_reason(
    calls: EndpointActivities, shop: ShopService
) -> None:
    shop.script(
        "/gift-wrap",
        Answer(409, json={"detail": "already\n wrapped\x00 " + "x" * 400}),
        Answer(401, body=b"<html>nope</html>"),
    )
    error = await failure(calls.call_endpoint(a_call()))
    assert error.type == "EndpointRefused" and error.non_retryable
    assert error.message.startswith("gift-wrap answered 409: already wrapped x")
    reason = error.message.removeprefix("gift-wrap answered 409: ")
    assert len(reason) <= 200 and reason.isprintable()
    assert error.details == ({"status": 409},)
    error = await failure(calls.call_endpoint(a_call()))
    assert error.message == "gift-wrap answered 401: <html>nope</html>"


async def test_a_bad_signature_is_a_refusal(own_store: Store, shop: ShopService) -> None:
    endpoint = shop.endpoint("gift-wrap").model_copy(
        update={"secret": SecretStr("a-wrong-secret-00000")}
    )
    await register_endpoint(own_store, endpoint)
    activities = EndpointActivities(own_store)
    error = await failure(activities.call_endpoint(a_call()))
    await activities.close()
    assert error.type == "EndpointRefused" and "401" in error.message
    assert shop.requests()[0].signature_valid is False


async def test_a_5xx_is_retryable_and_a_later_attempt_succeeds(
    calls: EndpointActivities, shop: ShopService
) -> None:
    shop.script("/gift-wrap", Answer(503, json={"detail": "warming up"}, times=2))
    for _ in range(2):
        error = await failure(calls.call_endpoint(a_call()))
        assert error.type == "EndpointUnavailable" and not error.non_retryable
        assert error.message == "gift-wrap answered 503: warming up"
    assert (await calls.call_endpoint(a_call())).outputs == {"wrap_fee_minor": 250}
    keys = {r.headers["idempotency-key"] for r in shop.requests("/gift-wrap")}
    assert keys == {"ord_1:wrap:1"} and len(shop.requests("/gift-wrap")) == 3


async def test_a_slow_service_times_out_retryably(
    own_store: Store, calls: EndpointActivities, shop: ShopService
) -> None:
    await register_endpoint(own_store, shop.endpoint("gift-wrap", timeout_s=0.5))
    shop.script("/gift-wrap", Answer(200, json={"wrap_fee_minor": 1}, delay_s=3))
    started = time.monotonic()
    error = await failure(calls.call_endpoint(a_call()))
    assert time.monotonic() - started < 2
    assert error.type == "EndpointUnavailable" and not error.non_retryable
    assert error.message == "gift-wrap did not answer within 0.5 s"


async def test_a_service_that_is_down_is_retryable(
    own_store: Store, calls: EndpointActivities, shop: ShopService
) -> None:
    down = shop.endpoint("gift-wrap").model_copy(
        update={"url": f"http://127.0.0.1:{free_port()}/gift-wrap"}
    )
    await register_endpoint(own_store, down)
    error = await failure(calls.call_endpoint(a_call()))
    assert error.type == "EndpointUnavailable" and not error.non_retryable
    assert "could not be reached" in error.message and "127.0.0.1" not in error.message


async def test_a_redirect_is_followed_once_on_the_same_host(
    calls: EndpointActivities, shop: ShopService
) -> None:
    shop.script("/gift-wrap", Answer(307, headers={"Location": "/address-check"}))
    answer = await calls.call_endpoint(a_call(outputs={"address_ok": "bool"}))
    assert answer.outputs == {"address_ok": True}
    assert [r.path for r in shop.requests()] == ["/gift-wrap", "/address-check"]
    assert all(r.signature_valid for r in shop.requests())
    shop.script(
        "/gift-wrap",
        Answer(302, headers={"Location": "/gift-wrap-2"}),
    )
    shop.script("/gift-wrap-2", Answer(302, headers={"Location": "/address-check"}))
    error = await failure(calls.call_endpoint(a_call()))
    assert error.type == "EndpointRedirected" and error.non_retryable


@pytest.mark.parametrize("to", ["http://localhost:{port}/gift-wrap", "https://127.0.0.1:{port}/x"])
async def test_a_redirect_elsewhere_is_refused(
    calls: EndpointActivities, shop: ShopService, to: str
) -> None:
    shop.script("/gift-wrap", Answer(301, headers={"Location": to.format(port=shop.port)}))
    error = await failure(calls.call_endpoint(a_call()))
    assert error.type == "EndpointRedirected" and error.non_retryable
    assert error.details == ({"status": 301},)
    assert len(shop.requests()) == 1


@pytest.mark.parametrize("stream", [False, True], ids=["content-length", "chunked"])
async def test_an_oversized_answer_is_refused(
    calls: EndpointActivities, shop: ShopService, stream: bool
) -> None:
    big = json.dumps({"wrap_fee_minor": 1, "pad": "x" * MAX_ANSWER_BYTES}).encode()
    shop.script("/gift-wrap", Answer(200, body=big, stream=stream))
    error = await failure(calls.call_endpoint(a_call()))
    assert error.type == "EndpointAnswerTooLarge" and error.non_retryable


async def test_an_oversized_call_is_not_sent(calls: EndpointActivities, shop: ShopService) -> None:
    lines = [{"sku": f"SKU-{n}", "note": "x" * 100} for n in range(700)]
    error = await failure(calls.call_endpoint(a_call(lines=lines)))
    assert error.type == "EndpointRequestTooLarge" and error.non_retryable
    assert shop.requests() == []


async def test_a_host_not_allowed_is_never_called(own_store: Store, shop: ShopService) -> None:
    await register_endpoint(own_store, shop.endpoint("gift-wrap"))
    activities = EndpointActivities(own_store, ["localhost"])  # the endpoint is at 127.0.0.1
    error = await failure(activities.call_endpoint(a_call()))
    await activities.close()
    assert error.type == "EndpointNotAllowed" and error.non_retryable
    assert shop.requests() == []


async def test_an_unknown_endpoint_is_refused(calls: EndpointActivities) -> None:
    for name in ("teleport", "Gift-Wrap", "nul\x00"):
        error = await failure(calls.call_endpoint(a_call(name)))
        assert error.type == "EndpointUnknown" and error.non_retryable


async def test_a_moved_endpoint_is_called_where_it_is_now(
    own_store: Store, calls: EndpointActivities, shop: ShopService
) -> None:
    async with shop_service() as elsewhere:
        await register_endpoint(own_store, elsewhere.endpoint("gift-wrap"))
        await calls.call_endpoint(a_call())
        assert len(elsewhere.requests("/gift-wrap")) == 1
    assert shop.requests() == []


async def test_neither_the_secret_nor_the_signature_is_logged(
    calls: EndpointActivities, shop: ShopService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    shop.script("/gift-wrap", Answer(503), Answer(409, json={"detail": "no"}))
    for _ in range(2):
        await failure(calls.call_endpoint(a_call()))
    await calls.call_endpoint(a_call())
    signatures = {r.headers["x-oms-signature"] for r in shop.requests()}
    assert "endpoint gift-wrap (step wrap): 200" in caplog.text
    assert shop.secret not in caplog.text
    assert not any(signature in caplog.text for signature in signatures)
    assert not any(signature.removeprefix("sha256=") in caplog.text for signature in signatures)


@pytest.mark.parametrize(
    "changes",
    [{"facts": {"weight": float("nan")}}, {"step_id": "wrap\r\nX-Evil: 1"}, {"order_id": "ördér"}],
    ids=["nan", "header-injection", "not-ascii"],
)
async def test_a_call_that_cannot_be_sent_is_refused_unsent(
    calls: EndpointActivities, shop: ShopService, changes: dict[str, Any]
) -> None:
    error = await failure(calls.call_endpoint(a_call(**changes)))
    assert error.type == "EndpointRequestInvalid" and error.non_retryable
    assert shop.requests() == []


async def test_a_sealed_secret_signs_as_the_plain_one_did(
    own_store: Store, shop: ShopService
) -> None:
    key = SecretBox(parse_key(base64.b64encode(os.urandom(32)).decode()))
    await register_endpoint(own_store, shop.endpoint("gift-wrap"), key)
    sealed = EndpointActivities(own_store, box=key)
    without_key = EndpointActivities(own_store)
    try:
        assert (await sealed.call_endpoint(a_call())).outputs == {"wrap_fee_minor": 250}
        error = await failure(without_key.call_endpoint(a_call()))
    finally:
        await sealed.close()
        await without_key.close()
    assert shop.requests()[0].signature_valid
    assert error.type == "EndpointSecretUnreadable" and error.non_retryable
    assert len(shop.requests()) == 1
