"""A TCP gate in front of a server: what connects to its port reaches the server while the
gate is open; closing it cuts every connection and refuses new ones, as if the server were
gone, without touching the server (which other tests share)."""

from __future__ import annotations

import asyncio
import contextlib

from tests.helpers.stack import free_port


class Gate:
    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = free_port()
        self.server: asyncio.Server | None = None
        self.ends: set[asyncio.StreamWriter] = set()
        self.pipes: set[asyncio.Task[None]] = set()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def open(self) -> None:
        self.server = await asyncio.start_server(self._connect, "127.0.0.1", self.port)

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
        for end in list(self.ends):
            end.transport.abort()  # cut: both sides see the connection reset
        await asyncio.gather(*self.pipes, return_exceptions=True)

    async def _connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.pipes.add(task)
        self.ends.add(writer)
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            self.ends.discard(writer)
            self.pipes.discard(task)
            return
        self.ends.add(upstream_writer)
        try:
            await asyncio.gather(_copy(reader, upstream_writer), _copy(upstream_reader, writer))
        finally:
            for end in (writer, upstream_writer):
                end.close()
                self.ends.discard(end)
            self.pipes.discard(task)


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    with contextlib.suppress(OSError, RuntimeError):
        writer.write_eof()
