"""What the API answers when something it depends on is down: a 503 naming it, never a 500.

The caller may retry: order placement is idempotent by key, interventions by their checks.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from temporalio.client import WorkflowQueryFailedError
from temporalio.service import RPCError, RPCStatusCode

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

    app.add_exception_handler(WorkflowQueryFailedError, query_failed)
    for error_type in (OperationalError, InterfaceError, PoolTimeout):
        app.add_exception_handler(error_type, store_down)
    app.add_exception_handler(RPCError, temporal_error)
