"""Calls to the shop's own HTTP services (`domain/endpoints.py`): the endpoint's URL, timeout
and secret are read from the store at call time, so the workflow's history holds neither
the secret nor the URL. Refusals are non-retryable; 5xx, timeouts and unreachable services
are retryable (`EndpointUnavailable`), so the step's retry policy applies."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.endpoints import (
    DEFAULT_ALLOWED_HOSTS,
    Endpoint,
    EndpointAnswer,
    EndpointCall,
    OutputInvalid,
    host_allowed,
    shown,
    sign,
    typed_outputs,
    url_host,
)
from store.db import Store
from store.endpoints import get_endpoint
from store.sealed import SecretBox, SecretUnreadable

MAX_REQUEST_BYTES = 64 * 1024
HEARTBEAT_EVERY_S = 1.0
MAX_ANSWER_BYTES = 64 * 1024
MAX_REASON_CHARS = 200
USER_AGENT = "temporal-oms"

log = logging.getLogger("oms.endpoints")


def refused(kind: str, message: str, **details: Any) -> ApplicationError:
    """A failure a retry cannot mend: the step's failure policy decides."""
    return ApplicationError(message, details, type=kind, non_retryable=True)


def unavailable(message: str, **details: Any) -> ApplicationError:
    return ApplicationError(message, details, type="EndpointUnavailable", non_retryable=False)


def reason(content: bytes) -> str:
    """A short, printable reason from an error answer: its `detail`, `error`, `message` or
    `reason` when it is a JSON object saying one, else its text."""
    text = content.decode("utf-8", "replace")
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        document = None
    if isinstance(document, dict):
        for key in ("detail", "error", "message", "reason"):
            if isinstance(document.get(key), str):
                text = document[key]
                break
    return shown(" ".join(text.split()), MAX_REASON_CHARS) or "no reason given"


def _origin(url: str) -> tuple[str, str | None, int | None] | None:
    try:
        parts = urlsplit(url)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:  # a port that is not a number
        return None
    return parts.scheme, url_host(url), port


async def _read(response: httpx.Response, limit: int) -> tuple[bytes, bool]:
    """At most `limit` bytes of the answer, read as it streams, and whether there was more."""
    length = response.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        return b"", True
    content = bytearray()
    async for chunk in response.aiter_bytes():
        content += chunk
        if len(content) > limit:
            return bytes(content[:limit]), True
    return bytes(content), False


@contextlib.asynccontextmanager
async def _heartbeating(every_s: float = HEARTBEAT_EVERY_S) -> AsyncIterator[None]:
    """Heartbeat while a call waits for its answer, so a worker that dies mid-call is seen
    within the step's heartbeat timeout, not only after its start-to-close timeout."""
    if not activity.in_activity():
        yield
        return

    async def beat() -> None:
        while True:
            activity.heartbeat()
            await asyncio.sleep(every_s)

    beating = asyncio.create_task(beat())
    try:
        yield
    finally:
        beating.cancel()


class EndpointActivities:
    """One HTTP client for every call, no proxies from the environment: what is called is
    exactly the host the allowed list was checked against."""

    def __init__(
        self,
        store: Store,
        allowed_hosts: Sequence[str] = DEFAULT_ALLOWED_HOSTS,
        box: SecretBox | None = None,
    ) -> None:
        self.store = store
        self.allowed_hosts = list(allowed_hosts)
        self.box = box
        self._http: httpx.AsyncClient | None = None

    @property
    def http(self) -> httpx.AsyncClient:
        # Made at the first call, on the loop that runs the activities.
        if self._http is None:
            self._http = httpx.AsyncClient(follow_redirects=False, trust_env=False)
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()

    @activity.defn
    async def call_endpoint(self, call: EndpointCall) -> EndpointAnswer:
        endpoint = await self._endpoint(call.endpoint)
        if not host_allowed(endpoint.url, self.allowed_hosts):
            log.warning(
                "endpoint %s refused: host %s is not in OMS_CALL_ALLOWED_HOSTS",
                endpoint.name,
                url_host(endpoint.url),
            )
            raise refused(
                "EndpointNotAllowed",
                f"endpoint {endpoint.name}'s host is not in OMS_CALL_ALLOWED_HOSTS",
            )
        key = call.idempotency_key
        if not (key.isascii() and key.isprintable()) or len(key) > 255:
            raise refused(
                "EndpointRequestInvalid",
                "the order and step ids cannot make an Idempotency-Key header",
            )
        try:
            body = call.body()
        except ValueError as error:  # NaN or infinity among the facts
            raise refused("EndpointRequestInvalid", f"the call cannot be JSON: {error}") from None
        if len(body) > MAX_REQUEST_BYTES:
            raise refused(
                "EndpointRequestTooLarge",
                f"the call to {endpoint.name} is {len(body)} bytes, over {MAX_REQUEST_BYTES}",
            )
        started = time.monotonic()
        try:
            async with asyncio.timeout(endpoint.timeout_s), _heartbeating():
                status, content = await self._exchange(endpoint, call, body)
        except (TimeoutError, httpx.TimeoutException):
            self._log(call, "timeout", started)
            raise unavailable(
                f"{endpoint.name} did not answer within {endpoint.timeout_s:g} s"
            ) from None
        except httpx.RequestError as error:
            self._log(call, type(error).__name__, started)
            raise unavailable(
                f"{endpoint.name} could not be reached ({type(error).__name__})"
            ) from None
        self._log(call, status, started)
        return self._answer(endpoint, call, status, content)

    async def _endpoint(self, name: str) -> Endpoint:
        try:
            endpoint = await get_endpoint(self.store, name, self.box)
        except SecretUnreadable as error:
            raise refused("EndpointSecretUnreadable", str(error)) from None
        if endpoint is None:
            raise refused("EndpointUnknown", f"no endpoint {shown(name)!r} is registered")
        return endpoint

    async def _exchange(
        self, endpoint: Endpoint, call: EndpointCall, body: bytes
    ) -> tuple[int, tuple[bytes, bool] | None]:
        """The status and the answer's bytes (None for an undo's 2xx, which is not read),
        after at most one redirect to the same scheme, host and port."""
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "Accept-Encoding": "identity",
            "Idempotency-Key": call.idempotency_key,
            "X-OMS-Timestamp": timestamp,
            "X-OMS-Signature": sign(endpoint.secret, timestamp, body),
            "User-Agent": USER_AGENT,
        }
        url = endpoint.url
        for hop in range(2):
            async with self.http.stream(
                "POST", url, content=body, headers=headers, timeout=endpoint.timeout_s
            ) as response:
                status = response.status_code
                if 300 <= status < 400:
                    location = response.headers.get("location")
                    target = urljoin(url, location) if location else None
                    if hop or target is None or _origin(target) != _origin(endpoint.url):
                        log.warning(
                            "endpoint %s answered %s to %s",
                            endpoint.name,
                            status,
                            url_host(target) if target else "nowhere",
                        )
                        raise refused(
                            "EndpointRedirected",
                            f"{endpoint.name} answered {status}: a redirect is followed once, "
                            "and only to the same host",
                            status=status,
                        )
                    url = target
                    continue
                if call.undo and 200 <= status < 300:
                    return status, None
                return status, await _read(response, MAX_ANSWER_BYTES)
        raise AssertionError("unreachable: the second hop returns or raises")

    def _answer(
        self,
        endpoint: Endpoint,
        call: EndpointCall,
        status: int,
        content: tuple[bytes, bool] | None,
    ) -> EndpointAnswer:
        data, more = content if content is not None else (b"", False)
        if 200 <= status < 300:
            if call.undo:
                return EndpointAnswer(status=status)
            if more:
                raise refused(
                    "EndpointAnswerTooLarge",
                    f"{endpoint.name} answered more than {MAX_ANSWER_BYTES} bytes",
                    status=status,
                )
            try:
                document = json.loads(data) if data.strip() else {}
                outputs = typed_outputs(document, call.outputs)
            except OutputInvalid as error:
                raise refused(
                    "EndpointOutputInvalid", f"{endpoint.name} {error}", status=status
                ) from None
            except (ValueError, RecursionError):
                raise refused(
                    "EndpointOutputInvalid",
                    f"{endpoint.name} answered something that is not JSON",
                    status=status,
                ) from None
            return EndpointAnswer(status=status, outputs=outputs)
        if 400 <= status < 500:
            raise refused(
                "EndpointRefused",
                f"{endpoint.name} answered {status}: {reason(data)}",
                status=status,
            )
        raise unavailable(f"{endpoint.name} answered {status}: {reason(data)}", status=status)

    @staticmethod
    def _log(call: EndpointCall, outcome: int | str, started: float) -> None:
        took_ms = round((time.monotonic() - started) * 1000)
        log.info(
            "endpoint %s (step %s%s): %s in %d ms",
            call.endpoint,
            call.step_id,
            ", undo" if call.undo else "",
            outcome,
            took_ms,
            extra={"endpoint": call.endpoint, "outcome": outcome, "duration_ms": took_ms},
        )
