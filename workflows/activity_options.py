"""Timeouts and retry policies, one set per kind of activity."""

from datetime import timedelta
from typing import Any

from temporalio.common import RetryPolicy

# Gateway calls are idempotent by key, so retrying after a timeout is always safe.
PAYMENT: dict[str, Any] = {
    "start_to_close_timeout": timedelta(seconds=10),
    "retry_policy": RetryPolicy(
        initial_interval=timedelta(milliseconds=500),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=10),
        maximum_attempts=10,
    ),
}

INVENTORY: dict[str, Any] = {
    "start_to_close_timeout": timedelta(seconds=10),
    "retry_policy": RetryPolicy(
        initial_interval=timedelta(milliseconds=500),
        maximum_interval=timedelta(seconds=10),
        maximum_attempts=10,
    ),
}

CARRIER: dict[str, Any] = {
    "start_to_close_timeout": timedelta(seconds=30),
    "retry_policy": RetryPolicy(
        initial_interval=timedelta(seconds=1),
        maximum_interval=timedelta(seconds=30),
        maximum_attempts=10,
    ),
}

LICENSES: dict[str, Any] = INVENTORY
NOTIFICATIONS: dict[str, Any] = INVENTORY

# The journal must never lose an event: retry until the store is back.
JOURNAL: dict[str, Any] = {
    "start_to_close_timeout": timedelta(seconds=10),
    "retry_policy": RetryPolicy(
        initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=10)
    ),
}

REWARDS: dict[str, Any] = INVENTORY
CATALOG: dict[str, Any] = INVENTORY
