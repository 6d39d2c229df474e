"""What the API answers when something it depends on is down: a 503 naming it, never a 500.

The caller may retry: order placement is idempotent by key, interventions by their checks.

FastAPI's 422 keeps its shape, but what it echoes of the request is cut short and made safe
to encode (`invalid_request`): an echo of NaN or of a lone surrogate used to turn it into a 500.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from temporalio.client import WorkflowQueryFailedError
from temporalio.service import RPCError, RPCStatusCode

from domain.text import escaped

log = logging.getLogger("oms.api")

RETRY_AFTER_S = "2"
# Temporal refuses queries (and so validated updates) while an order's workflow task is being
# retried, e.g. after its worker was killed; it passes once another worker picks it up.
RECOVERING = "Workflow Task in failed state"
TEMPORAL_DOWN = {
    RPCStatusCode.UNAVAILABLE,
    RPCStatusCode.DEADLINE_EXCEEDED,
    RPCStatusCode.RESOURCE_EXHAUSTED,
}


def unavailable(what: str) -> JSONResponse:
    return JSONResponse(
        {"detail": f"{what} is unavailable right now; retry shortly (the request changed nothing)"},
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": RETRY_AFTER_S},
    )


def install(app: FastAPI) -> None:
    async def store_down(request: Request, error: Exception) -> JSONResponse:
        log.warning("store unavailable during %s %s: %s", request.method, request.url.path, error)
        return unavailable("the order store")

    async def temporal_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RPCError)
        if error.status == RPCStatusCode.FAILED_PRECONDITION and RECOVERING in error.message:
            # The worker that held the order's last task died; the next one replays it.
            return unavailable("the order's workflow (recovering after a worker restart)")
        if error.status in TEMPORAL_DOWN:
            log.warning(
                "Temporal unavailable during %s %s: %s", request.method, request.url.path, error
            )
            return unavailable("Temporal")
        log.error("Temporal refused %s %s: %s", request.method, request.url.path, error)
        return JSONResponse(
            {"detail": f"Temporal refused the request: {error.message}"},
            status_code=status.HTTP_502_BAD_GATEWAY,
        )

    async def query_failed(request: Request, error: Exception) -> JSONResponse:
        # The worker could not answer: the query handler raised, or the order's history
        # did not replay. The order itself is untouched; the worker's log says why.
        log.error("the workflow could not answer %s %s: %s", request.method, request.url, error)
        return JSONResponse(
            {"detail": f"the order's workflow could not answer the query: {error}"},
            status_code=status.HTTP_502_BAD_GATEWAY,
        )

    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(WorkflowQueryFailedError, query_failed)
    for error_type in (OperationalError, InterfaceError, PoolTimeout):
        app.add_exception_handler(error_type, store_down)
    app.add_exception_handler(RPCError, temporal_error)


# How much of what the client sent a 422 may echo, per error.
MAX_INPUT_ECHO = 80
MAX_TEXT = 300  # messages and ctx: ours, but a validator's message may quote the input
DROPPED = object()
SECRET_FIELDS = frozenset({"secret"})  # e.g. an endpoint's (POST /endpoints)


async def invalid_request(request: Request, error: Exception) -> Response:
    """FastAPI's 422, `{"detail": [{"type", "loc", "msg", "input", "ctx"}]}`, with `input`
    cut to a short excerpt (or left out when it is a whole object or list) and everything
    else made encodable: NaN, a lone surrogate or NUL in the input cannot make it a 500."""
    assert isinstance(error, RequestValidationError)
    detail = [_safe_error(entry) for entry in error.errors()]
    body = json.dumps({"detail": detail}, allow_nan=False, ensure_ascii=False)
    return Response(body.encode(), status_code=422, media_type="application/json")


def _safe_error(entry: Any) -> dict[str, Any]:
    if not isinstance(entry, dict):
        return {"type": "value_error", "loc": ["body"], "msg": _text(str(entry), MAX_TEXT)}
    safe: dict[str, Any] = {}
    for key, value in entry.items():
        if key == "loc":
            safe["loc"] = [
                part if isinstance(part, int) else _text(str(part), MAX_INPUT_ECHO)
                for part in value
            ]
        elif key == "input":
            if SECRET_FIELDS.intersection(map(str, entry.get("loc", ()))):
                continue  # a secret refused is not repeated, not even in part
            excerpt = _scalar(value, MAX_INPUT_ECHO)
            if excerpt is not DROPPED:
                safe["input"] = excerpt
        elif key == "ctx" and isinstance(value, dict):
            ctx = {str(name): _scalar(item, MAX_TEXT) for name, item in value.items()}
            safe["ctx"] = {name: item for name, item in ctx.items() if item is not DROPPED}
        else:
            safe[str(key)] = _text(str(value), MAX_TEXT)
    return safe


def _scalar(value: Any, limit: int) -> Any:
    """`value` if it encodes as JSON as it is, a short excerpt of it, or DROPPED."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        # str() of an int over 4300 digits raises; no field takes one this large anyway.
        return value if value.bit_length() <= 63 else f"an integer of {value.bit_length()} bits"
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        return _text(value, limit)
    if isinstance(value, (dict, list, tuple, set)):
        return DROPPED  # a whole object: the loc already names it
    return _text(str(value), limit)


def _text(value: str, limit: int) -> str:
    value = escaped(value)
    return value if len(value) <= limit else value[: limit - 1] + "…"
