"""A minimal asyncio TCP proxy for fault injection (toxiproxy is not available here).

    proxy = TcpProxy("127.0.0.1", 25432)
    await proxy.start()               # listens on 127.0.0.1:<proxy.port>
    proxy.latency_s = 0.2             # every chunk, each way, is delayed
    proxy.reset_all()                 # RST every open connection (SO_LINGER 0)
    proxy.blackhole = True            # accept and read, forward nothing (a silent network partition)
    proxy.refuse = True               # close new connections at once
    await proxy.stop()

Only loopback targets; the proxy never dials anything but the one upstream it was given.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct


class TcpProxy:
    def __init__(self, upstream_host: str, upstream_port: int, *, listen_port: int = 0) -> None:
        assert upstream_host in ("127.0.0.1", "localhost", "::1"), "test traffic stays on loopback"
        self.upstream = (upstream_host, upstream_port)
        self.listen_port = listen_port
        self.latency_s = 0.0
        self.blackhole = False
        self.refuse = False
        self.connections = 0
        self._server: asyncio.AbstractServer | None = None
        self._pairs: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.sockets[0].getsockname()[1]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.listen_port)
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
        self.reset_all()
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def reset_all(self) -> int:
        """Abort every open connection with an RST; returns how many were reset."""
        n = 0
        for a, b in list(self._pairs):
            for w in (a, b):
                _rst(w)
            n += 1
        self._pairs.clear()
        return n

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self.refuse:
            _rst(writer)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            _rst(writer)
            return
        pair = (writer, up_writer)
        self._pairs.add(pair)
        tasks = [asyncio.create_task(self._pipe(reader, up_writer)), asyncio.create_task(self._pipe(up_reader, writer))]
        self._tasks.update(tasks)
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in tasks:
                t.cancel()
                self._tasks.discard(t)
            self._pairs.discard(pair)
            for w in (writer, up_writer):
                with contextlib.suppress(Exception):
                    w.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError, asyncio.IncompleteReadError):
            while True:
                data = await reader.read(65536)
                if not data:
                    return
                if self.blackhole:
                    continue  # swallowed: the peer waits for an answer that never comes
                if self.latency_s:
                    await asyncio.sleep(self.latency_s)
                writer.write(data)
                await writer.drain()


def _rst(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    with contextlib.suppress(Exception):
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(Exception):
        writer.transport.abort()
