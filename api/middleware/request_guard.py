"""What every request passes before routing (pure ASGI, so before FastAPI parses anything):
the body's size (413), arrival time (408) and media type (415), JSON that cannot be handled
safely (`json_body`), card numbers (`card_numbers`) and control characters anywhere in the
request (422, naming the field without echoing it). See `RequestGuard`.

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

from api.middleware.card_numbers import CARD_MESSAGE, contains_card_number, redact
from api.middleware.json_body import body_errors, card_error, error, loc_part
from domain.text import escaped, text_problem
from oms.config.settings import Settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

log = logging.getLogger("oms.api.guard")

# Routes that read their body with a parser of their own and answer its errors themselves:
# the codec's protobuf JSON (`codec`). They get no media-type check and no syntax 422.
OWN_PARSERS = ("/codec/",)


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
        own_parsers=OWN_PARSERS,
    )
    install_log_filter()


class RequestGuard:
    """Size limit, body timeout, media type and input checks for every HTTP request:

    - a body larger than `OMS_API_MAX_BODY_BYTES` is a 413, from its `Content-Length` or, for
      a chunked body, as soon as the bytes received pass the limit;
    - a body not received within `OMS_API_BODY_TIMEOUT_S` is a 408;
    - a body that is not `application/json` (or `application/*+json`) is a 415, unread;
    - a JSON body that cannot be handled safely (too deep, NaN, huge integers, duplicate
      keys, NUL and other control characters, lone surrogates; `json_body`) is a 422 naming
      the field, in FastAPI's shape, without echoing the value;
    - a card number anywhere in the JSON body or the query string is a 422 naming the field,
      without echoing the number (`card_numbers`); so is a control character in the path or
      the query.

    The whole body has been read, so the connection goes on to the next request."""

    def __init__(
        self,
        app: Any,
        max_body_bytes: int,
        body_timeout_s: float,
        larger_limits: dict[str, tuple[int, str]] | None = None,
        own_parsers: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_timeout_s = body_timeout_s
        self.larger_limits = larger_limits or {}
        self.own_parsers = own_parsers

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
        own_parser = scope["path"].startswith(self.own_parsers)
        wrong_type = media_type_problem(scope) if body and not own_parser else None
        if wrong_type is not None:
            # A card number is still refused as one (and logged), whatever the body's type.
            errors = card_number_errors(scope, body)
            if not errors:
                await _json_response(send, 415, {"detail": wrong_type})
                return
        else:
            errors = input_errors(scope, body, strict_json=not own_parser)
        if errors:
            path = escaped(redact(scope["path"]))
            log.warning("refused %s %s: %s", scope["method"], path, _summary(errors))
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


def media_type_problem(scope: Scope) -> str | None:
    """Why a body's Content-Type is not JSON (FastAPI would validate the raw bytes as if they
    were the model and echo them all), or None when it is."""
    value = _header(scope, b"content-type")
    if value is None:
        got = "no Content-Type"
    else:
        media = value.decode("latin-1").split(";", 1)[0].strip().lower()
        if media == "application/json" or (
            media.startswith("application/") and media.endswith("+json")
        ):
            return None
        got = escaped(media)[:80] or "an empty Content-Type"
    return f"the request body must be application/json (got {got})"


def input_errors(scope: Scope, body: bytes, strict_json: bool = True) -> list[dict[str, Any]]:
    """422 entries for what the path, the query string and the body may not carry."""
    errors: list[dict[str, Any]] = []
    if problem := text_problem(scope.get("path", "")):
        # A path parameter with NUL would reach PostgreSQL (a 500) before any route could refuse it.
        errors.append(error("string_character", ["path"], f"the path {problem}"))
    errors.extend(query_errors(scope))
    if body:
        errors.extend(body_errors(body, strict_syntax=strict_json))
    return errors


def query_errors(scope: Scope) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    query = scope.get("query_string", b"").decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True):
        if contains_card_number(name):
            found = card_error(["query"])  # naming the parameter would echo the number
        elif problem := text_problem(name):
            found = error("string_character", ["query"], f"a parameter name {problem}")
        elif contains_card_number(value):
            found = card_error(["query", name])
        elif problem := text_problem(value):
            found = error("string_character", ["query", loc_part(name)], f"the value {problem}")
        else:
            continue
        if found not in errors:
            errors.append(found)
    return errors


def card_number_errors(scope: Scope, body: bytes) -> list[dict[str, Any]]:
    """The card-number entries among `input_errors`; a body that is not JSON is scanned as
    text."""
    errors = input_errors(scope, body, strict_json=False)
    return [entry for entry in errors if entry["msg"] == CARD_MESSAGE]


def _summary(errors: list[dict[str, Any]]) -> str:
    """What was refused where, for the log: `card number in body.payment.token; ...`."""
    by_kind: dict[str, list[str]] = {}
    for entry in errors:
        kind = "card number" if entry["msg"] == CARD_MESSAGE else entry["type"]
        by_kind.setdefault(kind, []).append(".".join(str(part) for part in entry["loc"]))
    return "; ".join(f"{kind} in {', '.join(fields)}" for kind, fields in by_kind.items())


def _header(scope: Scope, wanted: bytes) -> bytes | None:
    for name, value in scope.get("headers", []):
        if name.lower() == wanted:
            return value
    return None


def _content_length(scope: Scope) -> int | None:
    value = _header(scope, b"content-length")
    try:
        return None if value is None else int(value)
    except ValueError:
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
    body = json.dumps(content, allow_nan=False).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if close:
        # The rest of the body is never read; the connection cannot carry another request.
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
