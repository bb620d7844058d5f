"""The lifecycle every loopback fake shares: an aiohttp app on 127.0.0.1, a random port by default."""

from __future__ import annotations

from typing import Any, Self

from aiohttp import web


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
        await site.start()
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
