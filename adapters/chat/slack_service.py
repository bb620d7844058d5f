"""The Slack service: `create(runtime, role)`, the `draftloop.services` entry point.

- role "web" (`draftloop serve`): an aiohttp server on `$PORT` (default 3000) with
  `POST /slack/events` (events, slash commands, shortcuts, interactivity; bolt verifies the
  signature and the timestamp, and answers 401 otherwise) and `GET /healthz`. Needs
  `SLACK_BOT_TOKEN` and `SLACK_SIGNING_SECRET`.
- role "worker" (`draftloop worker`): Socket Mode when `SLACK_APP_TOKEN` is set (no public URL
  needed). With only `SLACK_BOT_TOKEN`, the worker still registers the Slack platform, outbound
  only, so scheduled digests and resumed cycles can post to Slack.
- anything else, or Slack not configured: None.

The Web API base URL is `SLACK_API_URL` (default Slack's own).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.app.async_app import AsyncApp

from adapters.chat.slack_events import SlackEvents
from adapters.chat.slack_platform import SlackPlatform, make_client

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"


def _well_formed(body: Any) -> bool:
    """The envelope shapes bolt's middleware reads before signature and listeners."""
    if not isinstance(body, dict):
        return False
    return all(isinstance(body.get(key, {}), dict) for key in ("event", "user", "team", "channel", "view"))


def _secret(value: Any) -> str | None:
    if value is None:
        return None
    raw = value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)
    return raw or None


def build_app(*, platform: SlackPlatform, runtime: Runtime, signing_secret: str | None) -> tuple[AsyncApp, SlackEvents]:
    """The bolt app with draftloop's listeners; work runs after the ack through `runtime.spawn`."""
    app = AsyncApp(
        client=platform.client,
        signing_secret=signing_secret or "",
        request_verification_enabled=signing_secret is not None,
        process_before_response=False,
        logger=logging.getLogger("slack_bolt"),
    )
    events = SlackEvents(
        platform=platform,
        settings=runtime.settings,
        spawn=runtime.spawn,
        handle=runtime.workflow.handle,
    )
    events.register(app)
    return app, events


def build_web_app(app: AsyncApp) -> web.Application:
    """The aiohttp application `draftloop serve` runs: /slack/events and /healthz."""

    async def slack_events(request: web.Request) -> web.Response:
        try:
            bolt_request = await to_bolt_request(request)
        except ValueError:
            bolt_request = None  # bolt parses the body before it checks the signature
        if bolt_request is None or not _well_formed(bolt_request.body):
            # The sender's error, not ours: 400, and no retry. bolt would answer 500 from deep in its
            # middleware, which reads the fields before any listener runs.
            log.warning("slack: refused a malformed request")
            return web.json_response({"error": "malformed request"}, status=400, headers={"X-Slack-No-Retry": "1"})
        bolt_response = await app.async_dispatch(bolt_request)
        return await to_aiohttp_response(bolt_response)

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    web_app = web.Application(client_max_size=2 * 1024 * 1024)
    web_app.router.add_post(EVENTS_PATH, slack_events)
    web_app.router.add_get(HEALTH_PATH, healthz)
    return web_app


class SlackService:
    """One Slack connection for a process: HTTP endpoint, Socket Mode, or outbound only."""

    name = "slack"

    def __init__(self, runtime: Runtime, *, mode: str, host: str = "0.0.0.0") -> None:
        settings = runtime.settings
        token = _secret(settings.slack_bot_token)
        assert token is not None
        self.runtime = runtime
        self.mode = mode  # "http", "socket" or "outbound"
        self.host = host
        self.port: int = settings.port
        self.platform = SlackPlatform(make_client(token, base_url=settings.slack_api_url))
        secret = _secret(settings.slack_signing_secret) if mode == "http" else None
        self.app, self.events = build_app(platform=self.platform, runtime=runtime, signing_secret=secret)
        self._app_token = _secret(settings.slack_app_token)
        self._runner: web.AppRunner | None = None
        self._socket: Any = None
        runtime.register_platform(self.platform)

    async def start(self) -> None:
        if self.mode == "http":
            self._runner = web.AppRunner(
                build_web_app(self.app), handle_signals=False, shutdown_timeout=1.0, access_log=None
            )
            await self._runner.setup()
            site = web.TCPSite(self._runner, self.host, self.port)
            await site.start()
            server = site._server
            if server is not None and getattr(server, "sockets", None):
                self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
            log.info("slack: listening on %s:%s%s", self.host, self.port, EVENTS_PATH)
        elif self.mode == "socket":
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            self._socket = AsyncSocketModeHandler(self.app, app_token=self._app_token)
            await self._socket.connect_async()
            log.info("slack: connected in Socket Mode")
        else:
            log.info("slack: outbound only (no SLACK_APP_TOKEN for Socket Mode)")

    async def stop(self) -> None:
        """Stop taking new events; the runtime drains work already acked."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._socket is not None:
            try:
                await self._socket.close_async()
            except Exception as exc:  # noqa: BLE001 - closing a dead socket must not block shutdown
                log.warning("slack: socket close failed: %s", type(exc).__name__)
            self._socket = None


def create(runtime: Runtime, role: str) -> SlackService | None:
    settings = runtime.settings
    if not _secret(settings.slack_bot_token):
        return None
    if role == "web":
        if not _secret(settings.slack_signing_secret):
            log.warning("slack: SLACK_SIGNING_SECRET is not set; the HTTP endpoint stays off")
            return None
        return SlackService(runtime, mode="http")
    if role == "worker":
        mode = "socket" if _secret(settings.slack_app_token) else "outbound"
        return SlackService(runtime, mode=mode)
    return None
