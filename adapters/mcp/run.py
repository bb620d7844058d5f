"""`draftloop mcp`: the MCP server over stdio (the default, for a local client that starts it) or
streamable HTTP (`--http`, at /mcp, behind the DRAFTLOOP_MCP_TOKEN bearer token).

The CLI (bot/app/cli.py) imports this module by name when the command runs: bot never imports adapters.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any

from adapters.mcp import auth, platforms
from adapters.mcp.server import build_server
from bot import redact
from bot.settings import Settings

if TYPE_CHECKING:
    from mcp.server import Server

    from bot.app.runtime import Runtime

MCP_PATH = "/mcp"


def check(settings: Settings, *, http: bool) -> None:
    """What can be refused before anything starts (exit 2): a missing or short token."""
    auth.token(settings, required=http)


async def main(
    settings: Settings,
    make_runtime: Callable[[Settings], Awaitable[Runtime]],
    *,
    http: bool,
    host: str,
    port: int,
    announce: Callable[[str], None],
) -> None:
    expected = auth.token(settings, required=http)
    runtime = await make_runtime(settings)
    if expected is not None:
        # The token is masked like the other secrets: in logs and in anything posted.
        masked = runtime.redactor.extended(expected)
        redact.configure(masked)
        runtime.redactor = runtime.workflow.platforms.redactor = masked
    close = None
    try:
        close = await platforms.connect(runtime)
        server = build_server(runtime)
        if http:
            assert expected is not None
            await _http(server, expected, host=host, port=port, announce=announce)
        else:
            await _stdio(server)
    finally:
        if close is not None:
            await close()
        await runtime.close()


async def _stdio(server: Server[Any]) -> None:
    from mcp.server.stdio import stdio_server

    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


async def _http(server: Server[Any], expected: str, *, host: str, port: int, announce: Callable[[str], None]) -> None:
    import uvicorn

    _Server = _uvicorn_server()
    from mcp.server.transport_security import TransportSecuritySettings

    # The bearer token is the guard: a page a DNS rebinding attack runs has no token. The SDK's Host check
    # would refuse a reverse proxy that forwards its own host name to 127.0.0.1, so it is off.
    open_hosts = TransportSecuritySettings(enable_dns_rebinding_protection=False)
    app = auth.BearerGate(
        server.streamable_http_app(streamable_http_path=MCP_PATH, host=host, transport_security=open_hosts), expected
    )
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named: asyncio turns Nagle off only on sockets that say they are TCP, and with Nagle on
    # a response's body waits for the client's delayed ACK of its headers (40 ms on every call).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    bound = sock.getsockname()[1]
    # log_config=None: uvicorn keeps draftloop's logging (one format, secrets masked) instead of its own.
    config = uvicorn.Config(
        app, interface="asgi3", lifespan="on", log_config=None, access_log=False, timeout_graceful_shutdown=5
    )
    web = _Server(config)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, web.stop)
    shown = f"[{host}]" if ":" in host else host
    announce(f"draftloop mcp: listening on http://{shown}:{bound}{MCP_PATH}")
    await web.serve(sockets=[sock])


def _uvicorn_server() -> type[Any]:
    import uvicorn

    class Quiet(uvicorn.Server):
        """uvicorn, without its signal handling: SIGTERM stops it and the process exits 0, as serve does
        (uvicorn's own re-raises the signal once stopped, which kills the process instead)."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

        def stop(self) -> None:
            self.should_exit = True

    return Quiet
