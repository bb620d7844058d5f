"""The lifecycle every loopback fake shares: an aiohttp app on 127.0.0.1, a random port by default.

`serve_until_interrupted` is the command lines' way to run one: until Ctrl-C, and a port that cannot
be had (in use, or privileged) is one line on stderr and exit code 1, not a traceback.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from typing import Any, Self

from aiohttp import web


class CannotListen(OSError):
    """The fake's address cannot be bound; the message says which and why."""


class LoopbackServer:
    """Subclasses build `app()` and set `host`, `port` (0: pick a free one) and `_runner = None`."""

    host: str
    port: int
    _runner: web.AppRunner | None
    shutdown_timeout: float = 0.5

    def app(self) -> web.Application:
        raise NotImplementedError

    async def start(self) -> Self:
        self._runner = web.AppRunner(
            self.app(), handle_signals=False, shutdown_timeout=self.shutdown_timeout, access_log=None
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            self._runner = None
            reason = exc.strerror or str(exc)
            if "in use" in str(exc).lower():
                reason = "address already in use"
            raise CannotListen(exc.errno, f"cannot listen on {self.host}:{self.port}: {reason}") from exc
        server: Any = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


def serve_until_interrupted(main: Coroutine[Any, Any, None], *, name: str) -> None:
    """Run a fake's `serve` coroutine until Ctrl-C (exit 0). An address it cannot bind is one line,
    naming the fake and what to do, and exit code 1."""
    try:
        asyncio.run(main)
    except KeyboardInterrupt:
        pass
    except CannotListen as exc:
        print(f"{name}: {exc.strerror}; stop what uses it or pick another with --port", file=sys.stderr)
        raise SystemExit(1) from None
