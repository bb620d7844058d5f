"""A TCP proxy on 127.0.0.1 in front of PostgreSQL, for database faults the tests switch on and off.

Point `DATABASE_URL` at `proxy.port` instead of the server's and pick a mode from the test:

    async with PgProxy("127.0.0.1", 5432) as proxy:
        url = proxy.url_for("postgresql+asyncpg://postgres@127.0.0.1:5432/db")
        proxy.refuse()      # the database is down: open connections are reset, new ones refused
        proxy.reset_all()   # every open connection is reset once (a restart, a failover); new ones pass
        proxy.pass_through()

"Refused" is the real thing: the listening socket is closed, so a connect gets ECONNREFUSED, as
from a stopped server; `pass_through()` listens again on the same port. A reset closes both sides
with SO_LINGER 0, so the client reads ECONNRESET, not an orderly end of stream. The proxy counts
what it did (`accepted`, `refused_since`, `resets`) for the figures.

Standalone, for trying an outage by hand (a line on stdin switches the mode: pass, refuse, reset):

    python -m tests.fakes.pg_proxy --port 6543 --upstream 127.0.0.1:5432
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import struct
import sys
import time
from dataclasses import dataclass, field
from typing import Literal, Self
from urllib.parse import urlsplit, urlunsplit

Mode = Literal["pass", "refuse"]
_CHUNK = 64 * 1024


@dataclass(eq=False)
class _Pipe:
    """One client connection and its upstream twin."""

    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def reset(self) -> None:
        for writer in (self.client, self.upstream):
            if writer is not None:
                _abort(writer)
        for task in self.tasks:
            task.cancel()


def _abort(writer: asyncio.StreamWriter) -> None:
    """Close with RST: SO_LINGER on, zero seconds, then close."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class PgProxy:
    """Use as `async with PgProxy(upstream_host, upstream_port) as proxy:`."""

    def __init__(self, upstream_host: str = "127.0.0.1", upstream_port: int = 5432, *, port: int = 0) -> None:
        self.upstream_host = upstream_host
        self.upstream_port = upstream_port
        self.host = "127.0.0.1"
        self.port = port
        self.mode: Mode = "pass"
        self.accepted = 0  # connections proxied
        self.resets = 0  # connections reset by refuse() / reset_all()
        self.refused_at: float | None = None  # monotonic time of the last refuse(), None while passing
        self._server: asyncio.Server | None = None
        self._pipes: set[_Pipe] = set()

    # ---- lifecycle

    async def start(self) -> Self:
        await self._listen()
        return self

    async def stop(self) -> None:
        await self._close_listener()
        self._reset_open()

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def url_for(self, url: str) -> str:
        """`url` (a PostgreSQL URL) with its host and port replaced by the proxy's."""
        parts = urlsplit(url)
        auth = parts.netloc.rpartition("@")[0]
        netloc = f"{auth}@{self.host}:{self.port}" if auth else f"{self.host}:{self.port}"
        return urlunsplit(parts._replace(netloc=netloc))

    # ---- modes, switched from the test

    def pass_through(self) -> asyncio.Task[None] | None:
        """Accept connections again (listening on the same port). Returns the task that reopens
        the listener when it was closed; await it to know the port is open."""
        self.mode = "pass"
        self.refused_at = None
        if self._server is None:
            return asyncio.get_running_loop().create_task(self._listen())
        return None

    def refuse(self) -> None:
        """The database is down: every open connection is reset and new ones are refused."""
        self.mode = "refuse"
        self.refused_at = time.monotonic()
        server, self._server = self._server, None
        if server is not None:
            server.close()  # stops listening now; connections already accepted are ours to reset
        self._reset_open()

    def reset_all(self) -> int:
        """Reset every open connection once; new connections still pass. Returns how many."""
        return self._reset_open()

    @property
    def open_connections(self) -> int:
        return len(self._pipes)

    # ---- internals

    async def _listen(self) -> None:
        # SO_REUSEADDR (asyncio's default on POSIX) lets the same port be bound again after refuse().
        for _ in range(50):
            try:
                self._server = await asyncio.start_server(self._accept, self.host, self.port, reuse_address=True)
                break
            except OSError:
                if not self.port:
                    raise
                await asyncio.sleep(0.02)
        else:
            raise OSError(f"pg_proxy: cannot listen on {self.host}:{self.port} again")
        if not self.port:
            self.port = self._server.sockets[0].getsockname()[1]

    async def _close_listener(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 1.0)

    def _reset_open(self) -> int:
        pipes, self._pipes = self._pipes, set()
        for pipe in pipes:
            pipe.reset()
        self.resets += len(pipes)
        return len(pipes)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.mode != "pass":
            _abort(writer)
            return
        pipe = _Pipe(writer)
        self._pipes.add(pipe)
        try:
            up_reader, up_writer = await asyncio.open_connection(self.upstream_host, self.upstream_port)
        except OSError:
            self._pipes.discard(pipe)
            _abort(writer)
            return
        if pipe not in self._pipes:  # reset while connecting upstream
            _abort(up_writer)
            return
        pipe.upstream = up_writer
        self.accepted += 1
        loop = asyncio.get_running_loop()
        pipe.tasks = [loop.create_task(_copy(reader, up_writer)), loop.create_task(_copy(up_reader, writer))]
        try:
            await asyncio.wait(pipe.tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in pipe.tasks:
                task.cancel()
            if pipe in self._pipes:  # an orderly end from one side: close the other in order too
                self._pipes.discard(pipe)
                for w in (writer, up_writer):
                    with contextlib.suppress(Exception):
                        w.close()


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, asyncio.IncompleteReadError):
        while True:
            data = await reader.read(_CHUNK)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    with contextlib.suppress(OSError, RuntimeError):
        if writer.can_write_eof():
            writer.write_eof()


async def _main(args: argparse.Namespace) -> None:
    host, _, port = args.upstream.rpartition(":")
    proxy = await PgProxy(host or "127.0.0.1", int(port), port=args.port).start()
    print(f"pg_proxy on 127.0.0.1:{proxy.port} -> {args.upstream}; type pass, refuse or reset", flush=True)
    loop = asyncio.get_running_loop()
    try:
        while True:
            raw = await loop.run_in_executor(None, sys.stdin.readline)
            if not raw:  # end of input: keep proxying until interrupted
                await asyncio.Event().wait()
            line = raw.strip()
            if line == "pass":
                task = proxy.pass_through()
                if task is not None:
                    await task
            elif line == "refuse":
                proxy.refuse()
            elif line == "reset":
                print(f"reset {proxy.reset_all()} connections", flush=True)
            elif line:
                print("pass, refuse or reset", flush=True)
                continue
            print(f"mode {proxy.mode}; {proxy.open_connections} open, {proxy.accepted} accepted", flush=True)
    finally:
        await proxy.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="A TCP proxy in front of PostgreSQL that can refuse or reset")
    parser.add_argument("--port", type=int, default=6543)
    parser.add_argument("--upstream", default="127.0.0.1:5432")
    try:
        asyncio.run(_main(parser.parse_args()))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
