"""The shop's own HTTP services that flow steps call: a registered endpoint, what a step
asks of it and what it answers, and how each call is signed.

A call's body is compact JSON; `X-OMS-Signature` is `sha256=` and the hex HMAC-SHA256, under
the endpoint's secret, of `<X-OMS-Timestamp>.<body>`. `verify_signature` checks one.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
from collections.abc import Sequence
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, StringConstraints, field_validator

from domain.text import refuse_control_characters

NAME_PATTERN = r"^[a-z][a-z0-9-]{0,39}$"
DEFAULT_ALLOWED_HOSTS = ("127.0.0.1", "localhost", "::1")
MAX_URL_LENGTH = 2048
MAX_TIMEOUT_S = 60.0
SIGNATURE_PREFIX = "sha256="

EndpointName = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
OutputType = Literal["int", "str", "bool"]
OutputValue = bool | int | str  # bool first: a JSON `true` stays a bool, never 1


def _host(value: str) -> str:
    """A hostname or IP as compared: lowercase, no brackets or trailing dot, IPs canonical."""
    host = value.strip().lower().strip("[]").rstrip(".")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host


def url_host(url: str) -> str | None:
    """The host of an http(s) URL, as `_host` writes it; None when it names none."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return _host(parts.hostname)


def host_allowed(url: str, allowed: Sequence[str]) -> bool:
    """Whether the URL's host is one of `allowed` (hostnames or IPs, matched exactly)."""
    host = url_host(url)
    return host is not None and host in {_host(entry) for entry in allowed if entry.strip()}


def fingerprint(secret: str) -> str:
    """Names a secret without revealing it: the first 8 hex digits of its SHA-256."""
    return hashlib.sha256(secret.encode()).hexdigest()[:8]


class Endpoint(BaseModel):
    """A service of the shop's own: where it answers, how long it may take, its secret."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: EndpointName
    url: str = Field(max_length=MAX_URL_LENGTH, description="http or https")
    timeout_s: float = Field(10.0, gt=0, le=MAX_TIMEOUT_S)
    secret: SecretStr = Field(min_length=16, max_length=256, description="signs every call")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        refuse_control_characters(value)
        if any(character.isspace() for character in value):
            raise ValueError("must not contain whitespace")
        if url_host(value) is None:
            raise ValueError("must be an http or https URL with a host")
        parts = urlsplit(value)
        if parts.username is not None or parts.password is not None:
            raise ValueError("must not carry credentials; the secret signs each call")
        if parts.fragment:
            raise ValueError("must not have a fragment")
        return value

    @field_validator("secret")
    @classmethod
    def _printable_secret(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().isprintable():
            raise ValueError("must be printable text")
        return value

    def public(self) -> EndpointPublic:
        return EndpointPublic(
            name=self.name,
            url=self.url,
            timeout_s=self.timeout_s,
            secret_fingerprint=fingerprint(self.secret.get_secret_value()),
        )


class EndpointPublic(BaseModel):
    """An endpoint as the API shows it: never the secret, only that one is set."""

    name: str
    url: str
    timeout_s: float
    secret_set: bool = True
    secret_fingerprint: str | None = Field(
        description="the first 8 hex digits of sha256(secret); null when it is sealed with a "
        "payload key this process lacks"
    )


class EndpointCall(BaseModel):
    """What a step asks: call `endpoint` for this order, step and epoch (or undo it)."""

    order_id: str
    step_id: str
    epoch: int
    endpoint: str
    undo: bool = False
    outputs: dict[str, OutputType] = Field(default_factory=dict)
    facts: dict[str, Any] = Field(default_factory=dict)
    lines: list[dict[str, Any]] = Field(default_factory=list)

    @property
    def idempotency_key(self) -> str:
        """The same for every attempt of this step's epoch; an undo has its own."""
        key = f"{self.order_id}:{self.step_id}:{self.epoch}"
        return f"{key}:undo" if self.undo else key

    def body(self) -> bytes:
        """The exact bytes sent and signed: compact JSON, keys in this order."""
        document = {
            "order_id": self.order_id,
            "step_id": self.step_id,
            "epoch": self.epoch,
            "undo": self.undo,
            "facts": self.facts,
            "lines": self.lines,
        }
        return json.dumps(document, separators=(",", ":"), allow_nan=False).encode()


class EndpointAnswer(BaseModel):
    """A 2xx answer: its status and the declared outputs, typed (empty for an undo)."""

    status: int
    outputs: dict[str, OutputValue] = Field(default_factory=dict)


def _secret_bytes(secret: str | bytes | SecretStr) -> bytes:
    if isinstance(secret, SecretStr):
        secret = secret.get_secret_value()
    return secret if isinstance(secret, bytes) else secret.encode()


def sign(secret: str | bytes | SecretStr, timestamp: str | int, body: bytes) -> str:
    """The `X-OMS-Signature` value for `body` sent at `timestamp` (unix seconds)."""
    signed = f"{timestamp}.".encode() + body
    return SIGNATURE_PREFIX + hmac.new(_secret_bytes(secret), signed, hashlib.sha256).hexdigest()


def verify_signature(
    secret: str | bytes | SecretStr, timestamp: str | int, body: bytes, header: str | None
) -> bool:
    """Whether `header` (X-OMS-Signature) signs `body` with `timestamp` (X-OMS-Timestamp).
    How old a timestamp a receiver accepts is its own choice (`timestamp_fresh`)."""
    if not header or not str(timestamp).isdigit():
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), header.strip())


def timestamp_fresh(timestamp: str | int, now: float, tolerance_s: float = 300) -> bool:
    """Whether X-OMS-Timestamp is within `tolerance_s` of the receiver's clock `now`."""
    text = str(timestamp)
    return text.isdigit() and abs(now - int(text)) <= tolerance_s


def shown(text: str, limit: int = 60) -> str:
    """`text` safe to put in a message: printable characters only, at most `limit`."""
    printable = "".join(character for character in text if character.isprintable())
    return printable if len(printable) <= limit else printable[: limit - 1] + "…"


class OutputInvalid(ValueError):
    """An answer whose outputs are not the ones the step declared."""


def _is(value: Any, kind: OutputType) -> bool:
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)  # true is not 1 here
    return isinstance(value, bool if kind == "bool" else str)


def typed_outputs(answer: Any, declared: dict[str, OutputType]) -> dict[str, OutputValue]:
    """The declared outputs of a 2xx answer; `OutputInvalid` naming the key for an
    undeclared key, a missing one or one of another type."""
    if not isinstance(answer, dict):
        what = "null" if answer is None else type(answer).__name__
        raise OutputInvalid(f"answered {what}, not a JSON object")
    for key in answer:
        if key not in declared:
            raise OutputInvalid(f"answered the undeclared output {shown(key)!r}")
    for key, kind in declared.items():
        if key not in answer:
            raise OutputInvalid(f"did not answer the output {key!r} ({kind})")
        if not _is(answer[key], kind):
            got = "null" if answer[key] is None else type(answer[key]).__name__
            raise OutputInvalid(f"answered the output {key!r} as {got}, not {kind}")
    return dict(answer)
