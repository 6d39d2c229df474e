"""A real NATS server with JetStream for the broker's tests: one per session, on a free port,
its store in a temporary directory; and one of a test's own that it can stop and restart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.nats_server import NatsServer


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`nats://127.0.0.1:<port>` of a running nats-server, stopped after the session."""
    server = NatsServer(tmp_path_factory.mktemp("nats"))
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    """A nats-server of the test's own, which it may stop and start again (same port, store)."""
    server = NatsServer(tmp_path / "nats")
    server.home.mkdir()
    server.start()
    try:
        yield server
    finally:
        server.stop()
