"""Request limits: bodies over OMS_API_MAX_BODY_BYTES are a 413 before anything parses them
(declared or streamed), a body that does not arrive in time is a 408, and uvicorn's
keep-alive timeout and connection limit come from the settings wherever the API is started."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn
import yaml
from uvicorn.main import main as uvicorn_cli

from api.middleware.request_guard import RequestGuard
from api.serve import uvicorn_cli_args, uvicorn_options
from oms import launcher
from oms.config.settings import Settings
from tests.helpers.keys import OPERATOR_KEY
from tests.helpers.orders import order_body
from tests.helpers.stack import Stack
from tests.test_compose import COMPOSE_FILE, command, environment

pytestmark = pytest.mark.security

LIMIT = Settings().api_max_body_bytes


def oversized_order() -> bytes:
    body = order_body()
    body["shipping_address"]["line2"] = "x" * (LIMIT + 1024)
    return json.dumps(body).encode()


def assert_too_large(response, limit: int = LIMIT) -> None:  # noqa: ANN001
    assert response.status_code == 413, response.text
    assert response.json()["detail"] == (
        f"the request body is larger than {limit} bytes (OMS_API_MAX_BODY_BYTES); "
        "it was not processed"
    )


def test_the_default_limit_is_64_kib() -> None:
    assert LIMIT == 64 * 1024


async def test_a_declared_length_over_the_limit_is_413(stack: Stack) -> None:
    async with stack.http(OPERATOR_KEY) as http:
        response = await http.post(
            "/orders",
            content=oversized_order(),
            headers={"Content-Type": "application/json", "Idempotency-Key": "too-large-1"},
        )
    assert "content-length" in response.request.headers
    assert_too_large(response)


async def test_a_chunked_body_over_the_limit_is_413(stack: Stack) -> None:
    payload = oversized_order()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(payload), 8192):
            yield payload[start : start + 8192]

    async with stack.http(OPERATOR_KEY) as http:
        response = await http.post(
            "/orders",
            content=chunks(),
            headers={"Content-Type": "application/json", "Idempotency-Key": "too-large-2"},
        )
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert_too_large(response)


async def test_the_413_comes_before_the_body_is_read_or_the_key_checked(stack: Stack) -> None:
    """A raw request that declares 10 MB and sends none of it: answered at once."""
    url = urlsplit(stack.base_url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        writer.write(
            b"POST /orders HTTP/1.1\r\nHost: oms\r\nContent-Type: application/json\r\n"
            b"Content-Length: 10000000\r\n\r\n"
        )
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
        assert head.startswith(b"HTTP/1.1 413 "), head
        assert b"connection: close" in head.lower()
    finally:
        writer.close()


async def test_a_body_under_the_limit_is_parsed_as_usual(stack: Stack) -> None:
    body = order_body()
    body["shipping_address"]["line2"] = "x" * (LIMIT - 2048)
    async with stack.http(OPERATOR_KEY) as http:
        response = await http.post(
            "/orders", json=body, headers={"Idempotency-Key": "just-under-the-limit"}
        )
    assert response.status_code == 422, response.text  # line2 has max_length 200
    assert response.json()["detail"][0]["loc"] == ["body", "shipping_address", "line2"]


# --- the guard on its own (ASGI) ---------------------------------------------------------


async def run_guard(
    guard: RequestGuard, messages: list[dict[str, Any]], headers: list[Any] | None = None
) -> tuple[list[dict[str, Any]], list[bytes]]:
    """One request through the guard; returns what it sent and the body the app got."""
    inbox = list(messages)
    sent: list[dict[str, Any]] = []
    received: list[bytes] = []

    async def receive() -> dict[str, Any]:
        if inbox:
            return inbox.pop(0)
        await asyncio.sleep(3600)  # a client that never sends the rest
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def app(scope, receive, send) -> None:  # noqa: ANN001
        message = await receive()
        received.append(message["body"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    guard.app = app
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/orders",
        "query_string": b"",
        "headers": headers or [(b"content-type", b"application/json")],
    }
    await guard(scope, receive, send)
    return sent, received


async def test_a_body_that_never_arrives_is_408() -> None:
    guard = RequestGuard(None, max_body_bytes=1024, body_timeout_s=0.2)
    first = {"type": "http.request", "body": b'{"a": ', "more_body": True}
    sent, received = await run_guard(guard, [first])
    assert sent[0]["status"] == 408
    assert b"did not arrive within 0.2 s" in sent[1]["body"]
    assert received == []


async def test_chunks_are_counted_and_passed_on_whole() -> None:
    guard = RequestGuard(None, max_body_bytes=1024, body_timeout_s=5)
    chunks = [
        {"type": "http.request", "body": b"[" + b"1," * 200, "more_body": True},
        {"type": "http.request", "body": b"1]", "more_body": False},
    ]
    sent, received = await run_guard(guard, chunks)
    assert sent[0]["status"] == 200
    assert received == [b"[" + b"1," * 200 + b"1]"]
    too_much = [{"type": "http.request", "body": b"x" * 600, "more_body": True}] * 2
    sent, received = await run_guard(guard, too_much)
    assert sent[0]["status"] == 413 and received == []


async def test_the_codec_routes_have_their_own_limit() -> None:
    guard = RequestGuard(
        None,
        max_body_bytes=1024,
        body_timeout_s=5,
        larger_limits={"/codec/": (4096, "OMS_CODEC_MAX_BODY_BYTES")},
    )
    assert guard.limit_for("/codec/decode") == (4096, "OMS_CODEC_MAX_BODY_BYTES")
    assert guard.limit_for("/orders") == (1024, "OMS_API_MAX_BODY_BYTES")


# --- uvicorn's timeouts and limits come from the settings --------------------------------


def test_uvicorn_options_come_from_the_settings() -> None:
    settings = Settings(api_timeout_keep_alive_s=7, api_limit_concurrency=321)
    assert uvicorn_options(settings) == {"timeout_keep_alive": 7, "limit_concurrency": 321}
    config = uvicorn.Config("api.main:create_app", factory=True, **uvicorn_options(settings))
    assert config.timeout_keep_alive == 7 and config.limit_concurrency == 321
    # The same as uvicorn command-line flags, which uvicorn's own CLI accepts.
    args = uvicorn_cli_args(settings)
    context = uvicorn_cli.make_context("uvicorn", ["--factory", "api.main:create_app", *args])
    assert context.params["timeout_keep_alive"] == 7
    assert context.params["limit_concurrency"] == 321
    unlimited = Settings(api_limit_concurrency=None)
    assert "--limit-concurrency" not in uvicorn_cli_args(unlimited)


def test_oms_run_starts_uvicorn_with_them(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    started: list[list[str]] = []

    class Exited:
        returncode = 1

        def __init__(self, args: list[str], **_: Any) -> None:
            started.append(args)

        def poll(self) -> int:
            return 1

        def wait(self, timeout: float | None = None) -> int:
            return 1

        def send_signal(self, signum: int) -> None:
            pass

    monkeypatch.setattr(subprocess, "Popen", Exited)
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    settings = Settings(
        data_dir=tmp_path,
        temporal_address="127.0.0.1:1",
        nats_url="nats://127.0.0.1:1",
        api_timeout_keep_alive_s=9,
        api_limit_concurrency=55,
    )
    try:
        with pytest.raises(SystemExit, match="the API exited"):
            launcher.run(settings)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    api = started[0]
    assert api[1:5] == ["-m", "uvicorn", "--factory", "api.main:create_app"]
    assert api[api.index("--timeout-keep-alive") + 1] == "9"
    assert api[api.index("--limit-concurrency") + 1] == "55"


def test_compose_serves_the_api_through_the_settings() -> None:
    api = yaml.safe_load(COMPOSE_FILE.read_text())["services"]["api"]
    assert command(api) == ["python", "-m", "api.serve"]
    env = environment(api)
    settings = Settings(**{k.removeprefix("OMS_").lower(): v for k, v in env.items()})
    assert (settings.api_host, settings.api_port) == ("0.0.0.0", 8000)
