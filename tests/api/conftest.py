"""A stack on PostgreSQL beside the session's SQLite one, for what only PostgreSQL refuses
(NUL in text, for one)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.helpers.stack import Stack, running_stack
from tests.helpers.stores import STORE_BACKENDS_RUN


@pytest.fixture(scope="session")
async def postgres_stack(
    temporal_env: WorkflowEnvironment, postgresql_url: str
) -> AsyncIterator[Stack]:
    async with running_stack(temporal_env, postgresql_url) as running:
        STORE_BACKENDS_RUN.add("postgresql")
        yield running


@pytest.fixture(params=["sqlite", "postgresql"])
def either_stack(request: pytest.FixtureRequest) -> Stack:
    """The API on each store: the session's SQLite stack, then the PostgreSQL one."""
    if request.param == "sqlite":
        STORE_BACKENDS_RUN.add("sqlite")
        return request.getfixturevalue("stack")
    return request.getfixturevalue("postgres_stack")
