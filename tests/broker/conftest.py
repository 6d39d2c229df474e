"""A real NATS server with JetStream for the broker's tests: one per session, on a free port,
its store in a temporary directory; and one of a test's own that it can stop and restart."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from oms.broker import nats_server_command
from tests.helpers.nats_server import NatsServer
from tests.helpers.stack import free_port


def answers(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`nats://127.0.0.1:<port>` of a running nats-server, stopped after the session."""
    port = free_port()
    home = tmp_path_factory.mktemp("nats")
    log = home / "nats-server.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            nats_server_command(port, home / "store"), stdout=output, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 15
    while not answers(port):
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            server.wait()
            raise RuntimeError(f"nats-server did not start: {log.read_text()[-2000:]}")
        time.sleep(0.05)
    try:
        yield f"nats://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


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
