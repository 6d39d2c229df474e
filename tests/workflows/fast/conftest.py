"""The `fast` fixture: a worker of the test's own on the time-skipping server, every
activity a stub (`tests/helpers/fast_orders.py`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.helpers.fast_orders import FastOrders, fast_orders


@pytest.fixture
async def fast(skipping_env: WorkflowEnvironment) -> AsyncIterator[FastOrders]:
    async with fast_orders(skipping_env.client) as orders:
        yield orders
