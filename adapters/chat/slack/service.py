"""The Slack service: `create(runtime, role)`, the `draftloop.services` entry point.

- role "web" (`draftloop serve`): an aiohttp server on `$PORT` (default 3000) with
  `POST /slack/events` (events, slash commands, shortcuts, interactivity), `GET /healthz` (the
  process and its database's state, always 200 while the process runs) and `GET /readyz` (200 when
  the database answers, 503 when it does not).
  The edge (adapters/chat/slack/http.py) checks the signature and timestamp on the raw bytes
  before anything is parsed, bounds the body and the reads in flight, then checks the payload's
  shape; bolt sees only verified, well-formed requests. Needs `SLACK_BOT_TOKEN` and
  `SLACK_SIGNING_SECRET`.
- role "worker" (`draftloop worker`): Socket Mode when `SLACK_APP_TOKEN` is set (no public URL
  needed), over `DRAFTLOOP_SLACK_CONNECTIONS` connections (default 2; Slack allows 10). With only
  `SLACK_BOT_TOKEN`, the worker still registers the Slack platform, outbound only, so scheduled
  digests and resumed cycles can post to Slack.
- anything else, or Slack not configured: None.

The Web API base URL is `SLACK_API_URL` (default Slack's own).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_internals import build_async_context
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from adapters.chat.slack.commands import CommandListeners
from adapters.chat.slack.events import EventListeners
from adapters.chat.slack.home import NativeListeners
from adapters.chat.slack.http import SERVER_OPTIONS, EdgeLimits, SlackEdge, Verified
from adapters.chat.slack.intake import REPLAYING, SlackIntake
from adapters.chat.slack.interactivity import InteractivityListeners
from adapters.chat.slack.platform import PLATFORM, SlackPlatform, make_client
from bot.app.runtime import shared_port
from bot.loop.inbox import NotRecorded

if TYPE_CHECKING:
    from bot.app.runtime import Runtime

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
# Slack's last redelivery of an event (it tries three times after the first, over about an hour).
LAST_RETRY = "3"
NOT_TAKEN_IN = (
    "I could not take this in: our database did not answer, and Slack has stopped resending it. Please send it again."
)
EDGE = web.AppKey("slack_edge", SlackEdge)
# How long a stop waits for Slack to answer the close of a Socket Mode connection before dropping it.
SOCKET_CLOSE_SECONDS = 1.0


def _secret(value: Any) -> str | None:
    if value is None:
        return None
    raw = value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)
    return raw or None


def build_app(*, platform: SlackPlatform, runtime: Runtime) -> tuple[AsyncApp, SlackIntake]:
    """The bolt app with draftloop's listeners. Each listener runs before bolt answers Slack, and
    stores the delivery before it hands the work to `runtime.spawn` (adapters/chat/slack/intake.py).

    bolt's own signature check is off: over HTTP the edge has checked the raw bytes already, and
    `dispatch_verified` (the one caller in HTTP mode) takes only a `Verified` request. A second
    check on bolt's clock could refuse what the edge accepted a moment before, and bolt logs the
    whole body when it refuses. Socket Mode needs no signature.
    """
    app = AsyncApp(
        client=platform.client,
        signing_secret="",
        request_verification_enabled=False,
        # Record, then acknowledge: the listener (which stores the delivery) runs before the answer.
        process_before_response=True,
        logger=logging.getLogger("slack_bolt"),
    )
    intake = SlackIntake(
        platform=platform,
        settings=runtime.settings,
        spawn=runtime.spawn,
        handle=runtime.workflow.handle,
        inbox=runtime.workflow.inbox,
    )
    native = NativeListeners(intake, runtime)  # App Home, the assistant DM (home.py): before the catch-all
    for listeners in (native, EventListeners(intake), CommandListeners(intake), InteractivityListeners(intake)):
        listeners.register(app)

    @app.error
    async def not_acknowledged(error: Exception, body: dict[str, Any], request: AsyncBoltRequest) -> BoltResponse:
        """A delivery that could not be stored is not acknowledged, so Slack sends it again."""
        if isinstance(error, NotRecorded):
            log.warning("slack: %s; not acknowledged, so Slack sends it again", error)
            if _retry_num(request) == LAST_RETRY:
                await _tell_not_taken_in(platform, body)
        else:
            log.error("slack: a listener failed", exc_info=error)
        return BoltResponse(status=500, body="")

    runtime.workflow.inbox.register(PLATFORM, lambda payload: replay(app, payload))
    return app, intake


async def replay(app: AsyncApp, payload: str) -> None:
    """Hand a stored delivery to bolt again, as the listener call it was (its answer goes nowhere)."""
    body = json.loads(payload)
    token = REPLAYING.set(True)
    try:
        response = await app.async_dispatch(AsyncBoltRequest(body=body, mode="socket_mode"))
    finally:
        REPLAYING.reset(token)
    if response.status >= 500:
        raise RuntimeError(f"replaying a stored Slack delivery failed ({response.status})")


def _retry_num(request: AsyncBoltRequest) -> str | None:
    values = request.headers.get("x-slack-retry-num") or []
    if values:
        return str(values[0])
    attempt = request.body.get("retry_attempt") if isinstance(request.body, dict) else None
    return str(attempt) if attempt is not None else None


async def _tell_not_taken_in(platform: SlackPlatform, body: dict[str, Any]) -> None:
    """Slack's last try failed too: say so where the event happened (best effort)."""
    event = body.get("event") or {}
    channel, ts = event.get("channel"), event.get("thread_ts") or event.get("ts")
    if not channel or not ts:
        return
    from bot.events import ThreadRef
    from bot.replies import Reply, ReplyKind

    try:
        await platform.post(ThreadRef(PLATFORM, str(channel), str(ts)), Reply(NOT_TAKEN_IN, kind=ReplyKind.ERROR))
    except Exception as exc:  # noqa: BLE001
        log.warning("slack: could not say the event was not taken in: %s", type(exc).__name__)


async def dispatch_verified(app: AsyncApp, request: web.Request, verified: Verified) -> web.StreamResponse:
    """Hand a verified request to bolt, with the body the edge parsed and checked.

    bolt would parse the text again with its own rules (a form whose text merely contains the
    word "payload" comes out empty), so its request gets the edge's body and a context built
    from it.
    """
    parsed = verified.parsed
    bolt_request = AsyncBoltRequest(body="", query=request.query_string, headers=request.headers)  # type: ignore[arg-type]
    bolt_request.raw_body = parsed.text
    bolt_request.body = parsed.body
    bolt_request.context = build_async_context(AsyncBoltContext({}), parsed.body)
    return await to_aiohttp_response(await app.async_dispatch(bolt_request))


def build_web_app(
    app: AsyncApp, signing_secret: str, limits: EdgeLimits | None = None, *, runtime: Runtime | None = None
) -> web.Application:
    """The aiohttp application `draftloop serve` runs: /slack/events, /healthz and /readyz."""
    edge = SlackEdge(signing_secret, lambda request, verified: dispatch_verified(app, request, verified), limits)

    async def database() -> str:
        if runtime is None:
            return "unknown"
        return "ok" if await runtime.db.ping() else "unreachable"

    async def healthz(request: web.Request) -> web.Response:
        # Liveness: the process answers. The database's state is reported, not judged: a restart
        # would not bring the database back.
        return web.json_response({"ok": True, "database": await database()})

    async def readyz(request: web.Request) -> web.Response:
        state = await database()
        return web.json_response(
            {"ready": state != "unreachable", "database": state}, status=200 if state != "unreachable" else 503
        )

    async def flush_refusals(web_app: web.Application) -> None:
        edge.close()

    # The edge streams the body itself with its own limit; this only bounds other readers.
    web_app = web.Application(client_max_size=edge.limits.max_body)
    web_app[EDGE] = edge
    web_app.router.add_post(EVENTS_PATH, edge.handle)
    web_app.router.add_get(HEALTH_PATH, healthz)
    web_app.router.add_get(READY_PATH, readyz)
    for add_routes in runtime.web_routes if runtime is not None else ():
        add_routes(web_app)  # other front doors on the same port (the JSON API, adapters/mcp/http_api.py)
    web_app.on_cleanup.append(flush_refusals)
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
        self._signing_secret = _secret(settings.slack_signing_secret) if mode == "http" else None
        self.app, self.intake = build_app(platform=self.platform, runtime=runtime)
        self.web_app: web.Application | None = None
        self._app_token = _secret(settings.slack_app_token)
        self._runner: web.AppRunner | None = None
        self._sockets: list[Any] = []  # AsyncSocketModeHandler, one per Socket Mode connection
        self.connections = settings.draftloop_slack_connections
        runtime.register_platform(self.platform)

    async def start(self) -> None:
        # One pooled session for every Web API call: without one, slack_sdk opens a session, hence a TCP
        # (and TLS) connection, per call, several per reply (benchmarks/bench_reply_cost.py counts them).
        # Closed on stop, the client falls back to a session per call for the work still draining.
        client = self.platform.client
        if client.session is None or client.session.closed:
            client.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=client.timeout))
        if self.mode == "http":
            assert self._signing_secret is not None
            self.web_app = build_web_app(self.app, self._signing_secret, runtime=self.runtime)
            self._runner = web.AppRunner(
                self.web_app, handle_signals=False, shutdown_timeout=1.0, access_log=None, **SERVER_OPTIONS
            )
            await self._runner.setup()
            # A child of `serve --workers N` shares the port with its siblings; alone, a port in use is an error.
            site = web.TCPSite(self._runner, self.host, self.port, reuse_port=shared_port() or None)
            await site.start()
            server = site._server
            if server is not None and getattr(server, "sockets", None):
                self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
            log.info("slack: listening on %s:%s%s", self.host, self.port, EVENTS_PATH)
        elif self.mode == "socket":
            await self._connect_sockets()
        else:
            log.info("slack: outbound only (no SLACK_APP_TOKEN for Socket Mode)")

    async def _connect_sockets(self) -> None:
        """Open `DRAFTLOOP_SLACK_CONNECTIONS` Socket Mode connections for the one app.

        Slack hands each event to one of an app's open connections, and each connection here is bolt's
        own handler on the same AsyncApp, so an event is handled the same whichever one brought it.
        A redelivery that lands on another connection is dropped by the inbox's unique key, as over
        HTTP. Several connections keep events flowing while Slack refreshes one of them."""
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        self._sockets = [AsyncSocketModeHandler(self.app, app_token=self._app_token) for _ in range(self.connections)]
        await asyncio.gather(*(handler.connect_async() for handler in self._sockets))
        log.info("slack: connected in Socket Mode (%d connections)", len(self._sockets))

    async def stop(self) -> None:
        """Stop taking new events; the runtime drains work already acked."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        sockets, self._sockets = self._sockets, []
        await asyncio.gather(*(_close_socket(handler) for handler in sockets))
        session = self.platform.client.session
        if session is not None and not session.closed:
            await session.close()


async def _close_socket(handler: Any) -> None:
    """Close one Socket Mode connection, waiting at most SOCKET_CLOSE_SECONDS for the server's answer.

    slack_sdk waits up to 10 s for the server to answer its close frame. A server that is slow to
    answer, or a loop busy with a backlog, would otherwise spend the stop's grace on that wait instead
    of draining work (and the stop would be logged as unclean). Past the bound the connection is
    dropped: its client's tasks are cancelled and its HTTP session closed, which is what slack_sdk's
    own close does after the handshake."""
    client = handler.client
    try:
        await asyncio.wait_for(handler.close_async(), SOCKET_CLOSE_SECONDS)
        return
    except TimeoutError:
        log.info("slack: a Socket Mode connection did not close within %.0f s; dropped", SOCKET_CLOSE_SECONDS)
    except Exception as exc:  # noqa: BLE001 - closing a dead socket must not block shutdown
        log.warning("slack: socket close failed: %s", type(exc).__name__)
    for task in (client.message_processor, client.current_session_monitor, client.message_receiver):
        if task is not None:
            task.cancel()
    session = client.aiohttp_client_session
    if session is not None and not session.closed:
        await session.close()


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
