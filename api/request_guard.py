"""What every request passes before routing (pure ASGI, so before FastAPI parses anything):

- a body larger than `OMS_API_MAX_BODY_BYTES` is a 413, from its `Content-Length` or, for a
  chunked body, as soon as the bytes received pass the limit;
- a body not received within `OMS_API_BODY_TIMEOUT_S` is a 408;
- a card number anywhere in the JSON body or the query string is a 422 naming the field,
  in FastAPI's shape, without echoing the number (`api.card_numbers`).

The refused request never reaches a route, so nothing of it is stored, journaled or logged.
uvicorn's access log, which prints the query string, masks card numbers (`CardNumberFilter`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI

from api.card_numbers import contains_card_number, find_card_numbers, redact
from oms.settings import Settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

log = logging.getLogger("oms.api.guard")

CARD_MESSAGE = (
    "looks like a card number; the API takes payment tokens (tok_...) only, never card data"
)


class CardNumberFilter(logging.Filter):
    """Masks card numbers in a record's message and string arguments (uvicorn's access log
    passes the path with its query string as an argument)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {
                k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()
            }
        return True


def install_log_filter(logger_name: str = "uvicorn.access") -> None:
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, CardNumberFilter) for f in logger.filters):
        logger.addFilter(CardNumberFilter())


class BodyTooLarge(Exception):
    pass


def install(app: FastAPI, settings: Settings) -> None:
    """The guard on every request of `app`, with the limits from `settings` (the codec
    routes carry whole workflow payloads, so they get `OMS_CODEC_MAX_BODY_BYTES`)."""
    app.add_middleware(
        RequestGuard,
        max_body_bytes=settings.api_max_body_bytes,
        body_timeout_s=settings.api_body_timeout_s,
        larger_limits={
            "/codec/": (
                max(settings.codec_max_body_bytes, settings.api_max_body_bytes),
                "OMS_CODEC_MAX_BODY_BYTES",
            )
        },
    )
    install_log_filter()


class RequestGuard:
    """Size limit, body timeout and card-number check for every HTTP request."""

    def __init__(
        self,
        app: Any,
        max_body_bytes: int,
        body_timeout_s: float,
        larger_limits: dict[str, tuple[int, str]] | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_timeout_s = body_timeout_s
        self.larger_limits = larger_limits or {}

    def limit_for(self, path: str) -> tuple[int, str]:
        """The byte limit for a path, and the setting that sets it."""
        for prefix, limit in self.larger_limits.items():
            if path.startswith(prefix):
                return limit
        return self.max_body_bytes, "OMS_API_MAX_BODY_BYTES"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, setting = self.limit_for(scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _too_large(send, limit, setting)
            return
        try:
            body = await asyncio.wait_for(_read_body(receive, limit), self.body_timeout_s)
        except BodyTooLarge:
            await _too_large(send, limit, setting)
            return
        except TimeoutError:
            await _json_response(
                send,
                408,
                {"detail": f"the request body did not arrive within {self.body_timeout_s:g} s"},
                close=True,
            )
            return
        except _Disconnected:
            return
        errors = card_number_errors(scope, body)
        if errors:
            fields = ", ".join(".".join(str(part) for part in error["loc"]) for error in errors)
            path = redact(scope["path"])
            log.warning("refused %s %s: card number in %s", scope["method"], path, fields)
            await _json_response(send, 422, {"detail": errors})
            return
        await self.app(scope, _replay(body, receive), send)


class _Disconnected(Exception):
    pass


async def _read_body(receive: Receive, limit: int) -> bytes:
    """The whole body, counting bytes as they arrive (a chunked body declares no length)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _too_large(send: Send, limit: int, setting: str) -> None:
    detail = f"the request body is larger than {limit} bytes ({setting}); it was not processed"
    await _json_response(send, 413, {"detail": detail}, close=True)


def card_number_errors(scope: Scope, body: bytes) -> list[dict[str, Any]]:
    """422 entries for every card number in the query string or the body."""
    errors = []
    query = scope.get("query_string", b"").decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True):
        if contains_card_number(name):
            loc = ["query"]  # naming the parameter would echo the number
        elif contains_card_number(value):
            loc = ["query", name]
        else:
            continue
        if all(error["loc"] != loc for error in errors):
            errors.append(_error(loc))
    if body:
        try:
            document = json.loads(body)
        except ValueError:
            if contains_card_number(body.decode("utf-8", errors="replace")):
                errors.append(_error(["body"]))
        else:
            errors.extend(_error(["body", *path]) for path in find_card_numbers(document))
    return errors


def _error(loc: list[Any]) -> dict[str, Any]:
    return {"type": "value_error", "loc": loc, "msg": CARD_MESSAGE}


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body as one message, then whatever the client sends next (a disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _json_response(
    send: Send, status: int, content: dict[str, Any], close: bool = False
) -> None:
    body = json.dumps(content).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if close:
        # The rest of the body is never read; the connection cannot carry another request.
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
