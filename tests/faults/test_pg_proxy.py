"""The proxy the database-outage scenario stands on (tests/fakes/pg_proxy.py), over an echo server:
it passes bytes both ways, resets open connections (the client reads ECONNRESET, not an orderly
end), refuses new ones as a stopped server does (ECONNREFUSED), and listens again on the same port."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from tests.fakes.pg_proxy import PgProxy


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await reader.read(1024):
            writer.write(data)
            await writer.drain()
    writer.close()


@pytest.fixture
async def upstream() -> AsyncIterator[int]:
    server = await asyncio.start_server(_echo, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1]


async def _roundtrip(port: int, payload: bytes = b"ping") -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(payload)
    assert await asyncio.wait_for(reader.readexactly(len(payload)), 2) == payload
    return reader, writer


async def test_pass_reset_refuse_and_pass_again(upstream: int) -> None:
    async with PgProxy("127.0.0.1", upstream) as proxy:
        reader, writer = await _roundtrip(proxy.port)
        assert proxy.open_connections == 1

        assert proxy.reset_all() == 1
        with pytest.raises(ConnectionResetError):
            writer.write(b"again")
            await writer.drain()
            data = await asyncio.wait_for(reader.read(10), 2)
            if not data:  # some kernels report the RST at the next read only
                await asyncio.wait_for(reader.read(10), 2)
        writer.close()
        _, kept = await _roundtrip(proxy.port)  # new connections still pass after a reset

        proxy.refuse()
        assert proxy.open_connections == 0
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection("127.0.0.1", proxy.port)

        port = proxy.port
        reopened = proxy.pass_through()
        assert reopened is not None
        await reopened
        assert proxy.port == port
        _, again = await _roundtrip(proxy.port, b"back")
        assert proxy.accepted == 3 and proxy.resets == 2
        for w in (kept, again):
            w.close()


def test_url_for_keeps_the_user_and_database() -> None:
    proxy = PgProxy(port=6543)
    assert proxy.url_for("postgresql+asyncpg://postgres@127.0.0.1:5432/db_1") == (
        "postgresql+asyncpg://postgres@127.0.0.1:6543/db_1"
    )
    assert (
        proxy.url_for("postgresql://u:p@db.example:5432/x?ssl=require")
        == "postgresql://u:p@127.0.0.1:6543/x?ssl=require"
    )
