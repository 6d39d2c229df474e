"""A shop service on a free loopback port, served by uvicorn in this process: the demo shop
(`oms.demo_shop`) unless a path is scripted (`script("/gift-wrap", Answer(503, times=2))`:
503 twice, then the demo's answer; `Answer(409)`, `Answer(delay_s=3)`, the demo's answer
late with `demo=True`, a redirect, an oversized or chunked body). Every request is kept
(`requests(path)`) with its headers, body and whether its signature verifies.
`endpoint(name)` is an `Endpoint` pointing at it.

    async with shop_service() as shop: ...
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections import defaultdict, deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import SecretStr

from domain.endpoints import Endpoint, verify_signature
from oms.demo_shop import DemoShop
from tests.helpers.stack import free_port


@dataclass
class Answer:
    """One programmed answer, given to the next `times` requests of its path."""

    status: int = 200
    json: Any = None
    body: bytes | None = None  # raw bytes instead of `json`
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    stream: bool = False  # chunked, without a Content-Length
    times: int = 1
    demo: bool = False  # after the delay, the demo shop does the work and answers


@dataclass
class Received:
    path: str
    headers: dict[str, str]  # lowercase names
    body: bytes
    signature_valid: bool

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class ShopService:
    port: int
    secret: str
    demo: DemoShop
    received: list[Received] = field(default_factory=list)
    scripts: dict[str, deque[Answer]] = field(default_factory=lambda: defaultdict(deque))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def script(self, path: str, *answers: Answer) -> None:
        """Answers for `path`, in order; once they are used up the demo shop answers."""
        self.scripts[path].extend(replace(answer) for answer in answers)

    def requests(self, path: str | None = None) -> list[Received]:
        return [r for r in self.received if path is None or r.path == path]

    def endpoint(self, name: str, path: str | None = None, timeout_s: float = 5) -> Endpoint:
        """An endpoint called `name` for `path` (default `/<name>`) signed with the secret."""
        return Endpoint(
            name=name,
            url=f"{self.url}{path or '/' + name}",
            timeout_s=timeout_s,
            secret=SecretStr(self.secret),
        )

    def _next(self, path: str) -> Answer | None:
        queue = self.scripts.get(path)
        if not queue:
            return None
        answer = queue[0]
        answer.times -= 1
        if answer.times <= 0:
            queue.popleft()
        return answer


def _app(service: ShopService) -> FastAPI:
    app = FastAPI()

    @app.get("/calls")
    async def calls() -> dict[str, Any]:
        return service.demo.report()

    @app.api_route("/{path:path}", methods=["POST", "PUT", "GET"])
    async def anything(path: str, request: Request) -> Response:
        body = await request.body()
        headers = {name.lower(): value for name, value in request.headers.items()}
        valid = verify_signature(
            service.secret,
            headers.get("x-oms-timestamp", ""),
            body,
            headers.get("x-oms-signature"),
        )
        service.received.append(Received(f"/{path}", headers, body, valid))
        answer = service._next(f"/{path}")
        if answer is not None and answer.delay_s:
            await asyncio.sleep(answer.delay_s)
        if answer is None or answer.demo:
            status, document = service.demo.handle(path, headers, body)
            return Response(json.dumps(document), status, media_type="application/json")
        content = answer.body if answer.body is not None else json.dumps(answer.json).encode()
        if answer.stream:
            chunks = (content[at : at + 4096] for at in range(0, len(content), 4096))
            return StreamingResponse(chunks, answer.status, answer.headers)
        return Response(content, answer.status, answer.headers, media_type="application/json")

    return app


@contextlib.asynccontextmanager
async def shop_service(secret: str | None = None) -> AsyncIterator[ShopService]:
    secret = secret or secrets.token_urlsafe(32)
    service = ShopService(port=free_port(), secret=secret, demo=DemoShop(secret))
    config = uvicorn.Config(
        _app(service),
        host="127.0.0.1",
        port=service.port,
        log_level="warning",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield service
    finally:
        server.should_exit = True
        await task
