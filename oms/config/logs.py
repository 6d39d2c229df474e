"""Logging for the API and worker processes: text by default, one JSON object per line with
`OMS_LOG_FORMAT=json`. Records carry the `order_id` they concern when it is known: inside an
activity from the workflow id (`order-{id}`, `shipment-{id}-{n}`, ...), inside an API request
from its path parameters (`/orders/{order_id}`, `/returns/{return_id}`)."""

from __future__ import annotations

import json
import logging
from collections.abc import MutableMapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from temporalio import activity

TEXT_FORMAT = "%(asctime)s %(name)s %(message)s"

# The ASGI scope of the request being handled; the router fills in its `path_params`.
request_scope: ContextVar[MutableMapping[str, Any] | None] = ContextVar(
    "oms_request_scope", default=None
)

# Attributes every LogRecord has; anything else was passed with `extra=` and is kept.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def order_id_from_workflow_id(workflow_id: str) -> str | None:
    """`order-ord_1`, `rewards-ord_1`, `shipment-ord_1-2`, `return-ord_1-2` → `ord_1`."""
    prefix, _, rest = workflow_id.partition("-")
    if not rest:
        return None
    if prefix in ("order", "rewards"):
        return rest
    if prefix in ("shipment", "return"):
        return rest.rsplit("-", 1)[0]
    return None


def current_order_id() -> str | None:
    if activity.in_activity():
        workflow_id = activity.info().workflow_id  # None for an activity run on its own
        return order_id_from_workflow_id(workflow_id) if workflow_id else None
    scope = request_scope.get()
    if scope is not None:
        params = scope.get("path_params") or {}
        if "order_id" in params:
            return str(params["order_id"])
        if "return_id" in params:
            return str(params["return_id"]).rsplit("-", 1)[0]
    return None


class OrderContextFilter(logging.Filter):
    """Sets `record.order_id` (None when no order is in context); never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "order_id", None) is None:
            record.order_id = current_order_id()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, order_id and any extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str)


def json_handler(stream: Any = None) -> logging.Handler:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(OrderContextFilter())
    return handler


def configure_logging(log_format: str = "text", level: int = logging.INFO) -> None:
    """Install the root handler for `log_format`. JSON also reformats uvicorn's own loggers
    (which do not propagate), so everything the process prints is one JSON per line."""
    root = logging.getLogger()
    root.setLevel(level)
    if log_format != "json":
        logging.basicConfig(level=level, format=TEXT_FORMAT)
        return
    for handler in list(root.handlers):
        if getattr(handler, "_oms", False):
            root.removeHandler(handler)
    handler = json_handler()
    handler._oms = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        for existing in logging.getLogger(name).handlers:
            existing.setFormatter(JsonFormatter())
            if not any(isinstance(f, OrderContextFilter) for f in existing.filters):
                existing.addFilter(OrderContextFilter())
