"""`GET /metrics`: the API process's Prometheus metrics (no auth, text exposition); what they
count and how is `api.middleware.metrics`."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4

router = APIRouter(tags=["health"])


@router.get(
    "/metrics",
    response_class=Response,
    summary="Prometheus metrics (text exposition)",
    responses={200: {"content": {CONTENT_TYPE_PLAIN_0_0_4: {}}}},
)
async def metrics(request: Request) -> Response:
    body, content_type = await request.app.state.metrics.render(
        request.app.state.store, request.headers.get("accept", "")
    )
    return Response(body, headers={"Content-Type": content_type})
