"""A small HTTP client for the OMS API, used by the operator commands (`oms orders ...`).

It talks to the API only, never to Temporal: whatever the API refuses, the client raises
as an `ApiError` carrying the status and the API's `detail`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

import httpx

# How long a live read waits for the order's workflow before showing the stored view instead.
LIVE_TIMEOUT_S = 10.0


class ApiError(Exception):
    """The API answered with an error status; `detail` is its explanation."""

    def __init__(self, status: int, detail: Any) -> None:
        self.status = status
        self.detail = detail
        super().__init__(f"{status}: {describe(detail)}")


class Unreachable(Exception):
    """Nothing answered at `url`."""

    def __init__(self, url: str, error: Exception) -> None:
        self.url = url
        super().__init__(f"cannot reach the API at {url} (OMS_API_URL): {error}")


def describe(detail: Any) -> str:
    """The API's `detail` as one readable text: a 422's list reads `body.reason: message`."""
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict) and "msg" in item:
                where = ".".join(str(part) for part in item.get("loc", []))
                parts.append(f"{where}: {item['msg']}" if where else str(item["msg"]))
            else:
                parts.append(str(item))
        return "; ".join(parts)
    return str(detail)


def segment(value: str) -> str:
    return quote(str(value), safe="")


@dataclass(frozen=True)
class OrderRead:
    """An order's view and where it came from: its workflow (`live`), or the read model
    (`stored`, as of journal event `seq`) because the workflow did not answer (`why`)."""

    view: dict[str, Any]
    source: Literal["live", "stored"]
    seq: str | None = None
    why: str | None = None


class OmsClient:
    """The API's routes an operator uses, as methods returning the decoded JSON."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout: float = 30,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=timeout, transport=transport
        )

    def __enter__(self) -> OmsClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def request(
        self, method: str, path: str, *, params: dict[str, Any] | None = None, body: Any = None
    ) -> Any:
        return self.send(method, path, params=params, body=body).json()

    def send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        timeout: float | None = None,
    ) -> httpx.Response:
        """The API's answer, headers and all; an error status raises `ApiError`."""
        options = {} if timeout is None else {"timeout": timeout}
        try:
            response = self._http.request(method, path, params=params, json=body, **options)
        except httpx.TransportError as error:
            raise Unreachable(self.base_url + path, error) from error
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except (ValueError, AttributeError):
                detail = response.text or response.reason_phrase
            raise ApiError(response.status_code, detail)
        return response

    # Orders
    def order(self, order_id: str) -> dict[str, Any]:
        """The view as the API serves it by default: from the read model."""
        return self.request("GET", f"/orders/{segment(order_id)}")

    def live_order(self, order_id: str) -> OrderRead:
        """The order as its workflow holds it now (`?consistent=true`). When the workflow
        does not answer (a 5xx: Temporal or the worker is down; or no answer in
        `LIVE_TIMEOUT_S`), the stored view, saying so and why."""
        path = f"/orders/{segment(order_id)}"
        try:
            live = self.send("GET", path, params={"consistent": "true"}, timeout=LIVE_TIMEOUT_S)
            return OrderRead(live.json(), "live")
        except ApiError as error:
            if error.status < 500:
                raise
            why = f"{error.status} {describe(error.detail)}"
        except Unreachable as error:
            if not isinstance(error.__cause__, httpx.TimeoutException):
                raise
            why = f"no answer within {LIVE_TIMEOUT_S:g}s"
        stored = self.send("GET", path)
        if stored.headers.get("X-Read-Model") == "live":  # nothing stored yet: the API asked
            return OrderRead(stored.json(), "live")
        return OrderRead(stored.json(), "stored", stored.headers.get("X-Journal-Seq"), why)

    def order_diagram(self, order_id: str) -> dict[str, Any]:
        """`{"mermaid": ...}`: the flow the order started with, marked where it stands."""
        return self.request("GET", f"/orders/{segment(order_id)}/diagram")

    def events(self, order_id: str) -> dict[str, Any]:
        return self.request("GET", f"/orders/{segment(order_id)}/events")

    def orders(self, **filters: Any) -> Any:
        params = {key: value for key, value in filters.items() if value is not None}
        return self.request("GET", "/orders", params=params)

    def returns(self, order_id: str) -> dict[str, Any]:
        return self.request("GET", f"/orders/{segment(order_id)}/returns")

    def intervene(self, order_id: str, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        """`kind` is the route: cancel, hold, release, backtrack, skip, review."""
        return self.request("POST", f"/orders/{segment(order_id)}/{kind}", body=body)

    # Flows
    def flows(self) -> dict[str, Any]:
        return self.request("GET", "/flows")

    def flow_versions(self, flow_type: str) -> dict[str, Any]:
        return self.request("GET", f"/flows/{segment(flow_type)}")

    def flow(self, flow_type: str, version: int) -> dict[str, Any]:
        return self.request("GET", f"/flows/{segment(flow_type)}/{version}")
