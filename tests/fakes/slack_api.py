"""A local fake of the Slack Web API on 127.0.0.1, for the real `slack_sdk` AsyncWebClient.

Point the client at it with `AsyncWebClient(token=..., base_url=fake.api_url)` (or `SLACK_API_URL`).
It is stateful per channel: `chat.postMessage` stores a message, `chat.update` changes it,
`conversations.replies` reads the thread back. It also serves the three-step `files_upload_v2`
flow, `views.open`, `reactions.add`, `chat.postEphemeral`, file downloads (`url_private`, bearer
token required) and a `response_url` sink. Socket Mode: `apps.connections.open` (an `xapp-` token)
and `/socket`; an app may hold several connections, and `socket_send` gives each envelope to one of
them in turn, as Slack spreads an app's events (who got what and who acked when: `socket_sent`,
`socket_acked`).

The AI-app surface (issue 17), each with its documented limits and refusals (docs/slack-notes.md):
`chat.startStream` / `chat.appendStream` / `chat.stopStream` (markdown_text ≤ 12,000 per call, a
recipient user and team outside DMs, append and stop only while the message streams, ≤ 50 blocks at
stop), `assistant.threads.setStatus` (≤ 10 loading messages; "" clears; a bot message in the thread
clears it, as Slack does), `assistant.threads.setSuggestedPrompts` (1 to 4 prompts with title and
message), `views.publish` (a home view, ≤ 100 blocks) and message blocks of the `markdown` (≤ 12,000
characters in all per message) and `context_actions` / `feedback_buttons` kinds. A workspace
without a feature is one line: `fake.unsupported.add("chat.startStream")` answers `unknown_method`.

Faults are one-shot and per method:

    fake.fail_next("chat.postMessage", status=429, retry_after=0)   # next call: HTTP 429
    fake.fail_next("chat.update", ok_false="msg_too_long")            # next call: 200 ok:false
    fake.fail_next("chat.postMessage", status=500, times=2)           # next two calls: 500

Every call is logged (`fake.calls`) and counted (`fake.counts()`). Helpers build signed inbound
payloads the way Slack sends them (`sign`, `event_envelope`, `slash_command_body`,
`interactive_body`), so tests and the benchmark drive the real bolt app.

Standalone, for the README walk-through and manual runs:

    python -m tests.fakes.slack_api serve --port 8090
    python -m tests.fakes.slack_api say "Write a haiku" --to http://127.0.0.1:3000/slack/events --secret S
    python -m tests.fakes.slack_api say "Write a haiku"            # Socket Mode: through the fake's socket
    python -m tests.fakes.slack_api state                          # what the bot posted, calls per method
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import itertools
import json
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from tests.fakes.loopback import LoopbackServer

# --------------------------------------------------------------------------- inbound helpers


def sign(secret: str, body: str, ts: int | None = None) -> dict[str, str]:
    """Headers Slack puts on a request: timestamp and `v0=` HMAC-SHA256 of `v0:ts:body`."""
    stamp = str(int(time.time()) if ts is None else ts)
    base = f"v0:{stamp}:{body}".encode()
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}"}


_event_ids = itertools.count(1)


def event_envelope(
    event: dict[str, Any], *, team_id: str = "T0001", bot_user_id: str = "UBOT", event_id: str | None = None
) -> dict[str, Any]:
    """The Events API `event_callback` wrapper around an inner event."""
    return {
        "token": "legacy",
        "team_id": team_id,
        "api_app_id": "A0001",
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{next(_event_ids):08d}{uuid.uuid4().hex[:6]}",
        "event_time": int(time.time()),
        "authorizations": [
            {"team_id": team_id, "user_id": bot_user_id, "is_bot": True, "is_enterprise_install": False}
        ],
        "is_ext_shared_channel": False,
    }


def slash_command_body(
    command: str,
    text: str,
    *,
    user_id: str,
    channel_id: str,
    response_url: str = "",
    trigger_id: str | None = None,
    team_id: str = "T0001",
) -> str:
    """A slash command as Slack posts it: url-encoded form fields, no `payload` wrapper."""
    return urlencode(
        {
            "token": "legacy",
            "team_id": team_id,
            "team_domain": "example",
            "channel_id": channel_id,
            "channel_name": "general",
            "user_id": user_id,
            "user_name": user_id.lower(),
            "command": command,
            "text": text,
            "api_app_id": "A0001",
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger_id or f"trig.{uuid.uuid4().hex[:10]}",
        }
    )


def interactive_body(payload: dict[str, Any]) -> str:
    """Interactivity (buttons, forms, shortcuts): one form field `payload` holding JSON."""
    return urlencode({"payload": json.dumps(payload)})


# --------------------------------------------------------------------------- the fake server


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    status: int
    at: float


@dataclass
class _Fault:
    status: int = 200
    retry_after: float | None = None
    ok_false: str | None = None


@dataclass
class Upload:
    file_id: str
    filename: str
    length: int
    content: bytes = b""
    channel: str | None = None
    thread_ts: str | None = None
    title: str = ""
    initial_comment: str = ""
    completed: bool = False


AI_APP_METHODS = frozenset(
    {
        "chat.startStream",
        "chat.appendStream",
        "chat.stopStream",
        "assistant.threads.setStatus",
        "assistant.threads.setSuggestedPrompts",
    }
)
MARKDOWN_CHARS = 12_000  # a markdown block (all of them in one message), and each stream call's markdown_text


def _refuse_blocks(blocks: Any, *, limit: int = 50) -> str | None:
    """Slack's refusal for a malformed or oversized `blocks` array, or None."""
    if not isinstance(blocks, list) or len(blocks) > limit:
        return "invalid_blocks"
    markdown = 0
    for block in blocks:
        if not isinstance(block, dict) or not block.get("type"):
            return "invalid_blocks"
        kind = block["type"]
        if kind == "markdown":
            if not isinstance(block.get("text"), str) or not block["text"]:
                return "invalid_blocks"
            markdown += len(block["text"])
        elif kind == "context_actions":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= 5:
                return "invalid_blocks"
            for element in elements:
                if element.get("type") == "feedback_buttons":
                    for side in ("positive_button", "negative_button"):
                        button = element.get(side)
                        if not isinstance(button, dict) or not button.get("value"):
                            return "invalid_blocks"
                        text = button.get("text") or {}
                        if text.get("type") != "plain_text" or not 0 < len(str(text.get("text", ""))) <= 75:
                            return "invalid_blocks"
                        if len(str(button["value"])) > 2000 or len(str(button.get("accessibility_label", ""))) > 75:
                            return "invalid_blocks"
                elif element.get("type") != "icon_button":
                    return "invalid_blocks"
        elif kind == "section":
            text = (block.get("text") or {}).get("text", "")
            if len(str(text)) > 3000:
                return "invalid_blocks"
    if markdown > MARKDOWN_CHARS:
        return "msg_blocks_too_long"
    return None


@dataclass
class FakeSlackAPI(LoopbackServer):
    """The fake Web API. Use as `async with FakeSlackAPI() as fake:`."""

    shutdown_timeout = 0.2

    token: str = "xoxb-test-token"
    bot_user_id: str = "UBOT"
    bot_id: str = "BBOT"
    team_id: str = "T0001"
    host: str = "127.0.0.1"
    port: int = 0
    calls: list[Call] = field(default_factory=list)
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    reactions: list[dict[str, str]] = field(default_factory=list)
    ephemerals: list[dict[str, Any]] = field(default_factory=list)
    views: list[dict[str, Any]] = field(default_factory=list)
    uploads: dict[str, Upload] = field(default_factory=dict)
    responses: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    usergroups: dict[str, list[str]] = field(default_factory=dict)
    # The AI-app surface: statuses per (channel, thread_ts), suggested prompts, published home views.
    statuses: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    status_log: list[tuple[str, str, str]] = field(default_factory=list)  # (channel, thread_ts, status)
    prompts: list[dict[str, Any]] = field(default_factory=list)
    home_views: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Methods this workspace does not have (answered `unknown_method`). By default the AI-app methods
    # (a workspace that never turned the AI-app surface on, as the older tests expect);
    # `FakeSlackAPI.with_ai_apps()` or `fake.unsupported.clear()` gives a workspace that has them all.
    unsupported: set[str] = field(default_factory=lambda: set(AI_APP_METHODS))

    def __post_init__(self) -> None:
        self._faults: dict[str, list[_Fault]] = {}
        self.delays: dict[str, float] = {}  # seconds a method takes to answer (a slow Slack)
        self._ts = itertools.count(1)
        self._base = int(time.time())
        self._runner: web.AppRunner | None = None
        self._changed = asyncio.Event()
        # Called after every successful Web API call with (method, params, result); benchmarks use it.
        self.observers: list[Any] = []
        # Socket Mode: connected app sockets and the envelope ids they acknowledged; per envelope id, the
        # connection number it was sent on and when (monotonic), and the one that acked it and when.
        self.sockets: list[web.WebSocketResponse] = []
        self.socket_acks: list[str] = []
        self.socket_sent: dict[str, tuple[int, float]] = {}
        self.socket_acked: dict[str, tuple[int, float]] = {}
        self._socket_ids: dict[web.WebSocketResponse, int] = {}
        self._socket_numbers = itertools.count(1)
        self._socket_turn = itertools.count()
        self._ack_waiters: dict[str, asyncio.Future[None]] = {}
        self.app_token_prefix = "xapp-"

    # ---- lifecycle

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/files/{name}", self._download)
        app.router.add_post("/response_url/{rid}", self._response_url)
        app.router.add_get("/socket", self._socket)
        app.router.add_post("/_socket/send", self._socket_send_http)
        app.router.add_get("/_state", self._state)
        app.router.add_post("/_user_message", self._user_message_http)
        return app

    @classmethod
    def with_ai_apps(cls, **kwargs: Any) -> FakeSlackAPI:
        """A workspace with the whole AI-app surface: streaming, status, suggested prompts."""
        return cls(unsupported=set(), **kwargs)

    @property
    def api_url(self) -> str:
        """What SLACK_API_URL should be."""
        return f"{self.url}/api/"

    # ---- test helpers

    def fail_next(
        self,
        method: str,
        *,
        status: int = 429,
        retry_after: float | None = 0,
        ok_false: str | None = None,
        times: int = 1,
    ) -> None:
        """The next `times` calls of `method` fail: HTTP `status` (429 gets Retry-After) or 200 ok:false."""
        fault = _Fault(status=200 if ok_false else status, retry_after=retry_after, ok_false=ok_false)
        self._faults.setdefault(method, []).extend([fault] * times)

    def counts(self) -> Counter[str]:
        """Calls per method (failed attempts included)."""
        return Counter(c.method for c in self.calls)

    def calls_of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def next_ts(self) -> str:
        n = next(self._ts)
        return f"{self._base + n // 1_000_000}.{n % 1_000_000:06d}"

    def add_user_message(
        self,
        channel: str,
        text: str,
        *,
        user: str,
        thread_ts: str | None = None,
        files: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """A message a human posted (so later API reads agree with the events a test sends)."""
        msg: dict[str, Any] = {"type": "message", "user": user, "text": text, "ts": self.next_ts()}
        if thread_ts:
            msg["thread_ts"] = thread_ts
        if files:
            msg["files"] = files
        self.messages.setdefault(channel, []).append(msg)
        return msg

    def add_file(self, name: str, content: bytes, *, mimetype: str = "text/plain") -> dict[str, Any]:
        """A file as it appears in an event's `files` list; `url_private` is served by the fake."""
        self.files[name] = content
        filetype = name.rsplit(".", 1)[-1] if "." in name else "binary"
        return {
            "id": f"F{uuid.uuid4().hex[:9].upper()}",
            "name": name,
            "title": name,
            "mimetype": mimetype,
            "filetype": filetype,
            "size": len(content),
            "url_private": f"{self.url}/files/{name}",
            "url_private_download": f"{self.url}/files/{name}",
        }

    def response_url(self, rid: str | None = None) -> str:
        return f"{self.url}/response_url/{rid or uuid.uuid4().hex[:8]}"

    def bot_messages(self, channel: str | None = None) -> list[dict[str, Any]]:
        chans = [channel] if channel else list(self.messages)
        return [m for c in chans for m in self.messages.get(c, []) if m.get("bot_id") == self.bot_id]

    def thread(self, channel: str, ts: str) -> list[dict[str, Any]]:
        return [m for m in self.messages.get(channel, []) if m["ts"] == ts or m.get("thread_ts") == ts]

    def find(self, channel: str, ts: str) -> dict[str, Any] | None:
        return next((m for m in self.messages.get(channel, []) if m["ts"] == ts), None)

    async def wait_until(self, predicate: Any, timeout: float = 10.0) -> None:
        """Wait until `predicate()` is true, re-checking after every API call."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not predicate():
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise TimeoutError(f"condition not met in {timeout} s; calls: {dict(self.counts())}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), timeout=min(left, 0.1))
            except TimeoutError:
                pass

    # ---- HTTP handlers

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            ctype = request.content_type
            if ctype == "application/json":
                body = await request.json()
                if isinstance(body, dict):
                    params.update(body)
            elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
                form = await request.post()
                params.update({k: v for k, v in form.items() if isinstance(v, str)})
        for key in ("blocks", "files", "view", "attachments"):
            value = params.get(key)
            if isinstance(value, str) and value[:1] in "[{":
                params[key] = json.loads(value)
        return params

    # ---- Socket Mode

    async def socket_send(
        self, kind: str, payload: dict[str, Any], *, retry_attempt: int = 0, to: int | None = None
    ) -> str:
        """Deliver one envelope (`events_api`, `slash_commands`, `interactive`) on one connected socket.

        As Slack does with an app's several connections: each envelope goes to one of them, here in
        turn (round robin), or to connection number `to` (`socket_ids`). Returns its envelope id; the
        connection it went to and when are in `socket_sent`, its ack in `socket_acked`."""
        if not self.sockets:
            raise RuntimeError("no app is connected to the fake's socket")
        envelope_id = uuid.uuid4().hex
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": kind != "events_api",
        }
        if retry_attempt:
            envelope.update(retry_attempt=retry_attempt, retry_reason="timeout")
        if to is None:
            ws = self.sockets[next(self._socket_turn) % len(self.sockets)]
        else:
            ws = next(w for w in self.sockets if self._socket_ids[w] == to)
        self.socket_sent[envelope_id] = (self._socket_ids[ws], time.monotonic())
        await ws.send_str(json.dumps(envelope))
        return envelope_id

    async def socket_acked_in(self, envelope_id: str, timeout: float) -> float | None:
        """Seconds from sending envelope `envelope_id` to its ack, once it comes; None if not within `timeout`."""
        sent = self.socket_sent[envelope_id][1]
        if envelope_id not in self.socket_acked:
            waiter = self._ack_waiters.setdefault(envelope_id, asyncio.get_running_loop().create_future())
            try:
                await asyncio.wait_for(asyncio.shield(waiter), max(0.0, sent + timeout - time.monotonic()))
            except TimeoutError:
                return None
            finally:
                self._ack_waiters.pop(envelope_id, None)
        return self.socket_acked[envelope_id][1] - sent

    @property
    def socket_ids(self) -> list[int]:
        """The connection numbers of the sockets open now (1 for the first ever opened, and so on)."""
        return [self._socket_ids[ws] for ws in self.sockets]

    def socket_counts(self) -> Counter[int]:
        """Envelopes sent per connection number."""
        return Counter(conn for conn, _ in self.socket_sent.values())

    async def wait_socket(self, timeout: float = 10.0, *, count: int = 1) -> None:
        """Wait until `count` sockets are connected."""
        await self.wait_until(lambda: len(self.sockets) >= count, timeout)

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        self._socket_ids[ws] = next(self._socket_numbers)
        self.sockets.append(ws)
        self._changed.set()
        await ws.send_str(
            json.dumps({"type": "hello", "num_connections": len(self.sockets), "connection_info": {"app_id": "A0001"}})
        )
        try:
            async for msg in ws:
                if msg.type.name == "TEXT":
                    data = json.loads(msg.data)
                    if data.get("envelope_id"):
                        self.socket_acks.append(data["envelope_id"])
                        self.socket_acked[data["envelope_id"]] = (self._socket_ids[ws], time.monotonic())
                        waiter = self._ack_waiters.get(data["envelope_id"])
                        if waiter is not None and not waiter.done():
                            waiter.set_result(None)
                        self._changed.set()
        finally:
            if ws in self.sockets:
                self.sockets.remove(ws)
        return ws

    async def _socket_send_http(self, request: web.Request) -> web.Response:
        body = await request.json()
        if not self.sockets:
            return web.json_response({"ok": False, "error": "no app is connected", "connected": 0}, status=409)
        envelope_id = await self.socket_send(body["type"], body["payload"])
        return web.json_response({"ok": True, "envelope_id": envelope_id, "connected": len(self.sockets)})

    async def _state(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "counts": dict(self.counts()),
                "messages": self.messages,
                "reactions": self.reactions,
                "ephemerals": self.ephemerals,
                "uploads": [u.filename for u in self.uploads.values()],
            }
        )

    async def _user_message_http(self, request: web.Request) -> web.Response:
        body = await request.json()
        msg = self.add_user_message(body["channel"], body["text"], user=body["user"], thread_ts=body.get("thread_ts"))
        return web.json_response(msg)

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization", "") == f"Bearer {self.token}"

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if self.delays.get(method):
            await asyncio.sleep(self.delays[method])
        params = await self._params(request)
        faults = self._faults.get(method)
        fault = faults.pop(0) if faults else None
        status = fault.status if fault and not fault.ok_false else 200
        self.calls.append(Call(method, params, status, time.monotonic()))
        self._changed.set()
        if fault is not None:
            if fault.ok_false:
                return web.json_response({"ok": False, "error": fault.ok_false})
            headers = {}
            if fault.status == 429 and fault.retry_after is not None:
                headers["Retry-After"] = str(int(fault.retry_after))
            error = "ratelimited" if fault.status == 429 else "fatal_error"
            return web.json_response({"ok": False, "error": error}, status=fault.status, headers=headers)
        if method == "apps.connections.open":
            if not request.headers.get("Authorization", "").startswith("Bearer " + self.app_token_prefix):
                return web.json_response({"ok": False, "error": "invalid_auth"})
            return web.json_response({"ok": True, "url": f"ws://{self.host}:{self.port}/socket"})
        if not self._authorized(request):
            return web.json_response({"ok": False, "error": "invalid_auth"})
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None or method in self.unsupported:
            return web.json_response({"ok": False, "error": "unknown_method"})
        result: dict[str, Any] = handler(params)
        for observe in self.observers:
            observe(method, params, result)
        return web.json_response(result)

    def _bot_message(self, params: dict[str, Any]) -> dict[str, Any]:
        msg: dict[str, Any] = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "text": params.get("text", ""),
            "ts": self.next_ts(),
        }
        if params.get("blocks"):
            msg["blocks"] = params["blocks"]
        if params.get("thread_ts"):
            msg["thread_ts"] = params["thread_ts"]
        return msg

    def _m_auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://example.slack.com/",
            "team": "Example",
            "user": "draftloop",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _m_chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = params.get("channel")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if not params.get("text") and not params.get("blocks"):
            return {"ok": False, "error": "no_text"}
        refused = _refuse_blocks(params.get("blocks") or [])
        if refused:
            return {"ok": False, "error": refused}
        if len(params.get("text") or "") > 40_000:
            return {"ok": False, "error": "msg_too_long"}
        msg = self._bot_message(params)
        self.messages.setdefault(str(channel), []).append(msg)
        self._bot_spoke(str(channel), params.get("thread_ts"))
        return {"ok": True, "channel": channel, "ts": msg["ts"], "message": msg}

    def _m_chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        msg = self.find(str(params.get("channel")), str(params.get("ts")))
        if msg is None:
            return {"ok": False, "error": "message_not_found"}
        if msg.get("streaming"):
            return {"ok": False, "error": "message_is_streaming"}
        refused = _refuse_blocks(params.get("blocks") or [])
        if refused:
            return {"ok": False, "error": refused}
        msg["text"] = params.get("text", msg.get("text", ""))
        msg.pop("markdown_text", None)  # an update replaces what a stream showed
        if "blocks" in params:
            msg["blocks"] = params["blocks"]
        msg["edited"] = {"user": self.bot_user_id, "ts": self.next_ts()}
        return {"ok": True, "channel": params["channel"], "ts": msg["ts"], "text": msg["text"]}

    def _m_chat_postEphemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("channel") or not params.get("user"):
            return {"ok": False, "error": "channel_not_found"}
        self.ephemerals.append(dict(params))
        return {"ok": True, "message_ts": self.next_ts()}

    def _m_reactions_add(self, params: dict[str, Any]) -> dict[str, Any]:
        item = {"channel": str(params.get("channel")), "ts": str(params.get("timestamp")), "name": params["name"]}
        if item in self.reactions:
            return {"ok": False, "error": "already_reacted"}
        self.reactions.append(item)
        return {"ok": True}

    def _m_views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("trigger_id"):
            return {"ok": False, "error": "invalid_trigger_id"}
        view = dict(params.get("view") or {})
        view["id"] = f"V{uuid.uuid4().hex[:9].upper()}"
        self.views.append({"trigger_id": params["trigger_id"], "view": view})
        return {"ok": True, "view": view}

    def _m_conversations_replies(self, params: dict[str, Any]) -> dict[str, Any]:
        msgs = self.thread(str(params.get("channel")), str(params.get("ts")))
        if not msgs:
            return {"ok": False, "error": "thread_not_found"}
        return {"ok": True, "messages": msgs, "has_more": False}

    def _m_usergroups_users_list(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "users": self.usergroups.get(str(params.get("usergroup")), [])}

    def _m_users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        # As Slack: a username, a real name, and a display name the person chose (each distinct here,
        # so a test sees which one is shown): UEXP → name "uexp", real "Uexp Real", display "Uexp".
        uid = str(params.get("user"))
        real = f"{uid.capitalize()} Real"
        profile = {"display_name": uid.capitalize(), "real_name": real}
        return {
            "ok": True,
            "user": {"id": uid, "name": uid.lower(), "real_name": real, "is_bot": False, "profile": profile},
        }

    # ---- the AI-app surface: streaming, status, suggested prompts, App Home

    def _bot_spoke(self, channel: str, thread_ts: Any) -> None:
        """A bot message in a thread clears the thread's status, as Slack does."""
        if thread_ts and self.statuses.pop((channel, str(thread_ts)), None) is not None:
            self.status_log.append((channel, str(thread_ts), ""))

    def streamed(self, channel: str, ts: str) -> str:
        """The markdown a streamed message shows so far (or showed when it stopped)."""
        msg = self.find(channel, ts)
        return "" if msg is None else str(msg.get("markdown_text", ""))

    def _stream_text(self, params: dict[str, Any]) -> tuple[str | None, str | None]:
        """(the markdown of a call, or None; an error): `markdown_text` or markdown_text chunks."""
        text = params.get("markdown_text")
        chunks = params.get("chunks")
        if text is not None and (params.get("text") or params.get("blocks") and "ts" not in params):
            return None, "invalid_arguments"  # markdown_text is not used with text (or blocks, at start)
        if chunks is not None:
            if text is not None or not isinstance(chunks, list):
                return None, "invalid_chunks"
            parts = []
            for chunk in chunks:
                if not isinstance(chunk, dict) or chunk.get("type") != "markdown_text" or "text" not in chunk:
                    return None, "invalid_chunks"
                parts.append(str(chunk["text"]))
            text = "".join(parts)
        if text is not None and len(str(text)) > MARKDOWN_CHARS:
            return None, "msg_too_long"
        return (None if text is None else str(text)), None

    def _m_chat_startStream(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel") or "")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if not params.get("thread_ts"):
            return {"ok": False, "error": "invalid_arguments"}  # streamed messages are replies
        if not channel.startswith("D") and not (params.get("recipient_user_id") and params.get("recipient_team_id")):
            return {"ok": False, "error": "invalid_arguments"}  # required outside a DM
        text, error = self._stream_text(params)
        if error:
            return {"ok": False, "error": error}
        msg = self._bot_message({"thread_ts": params["thread_ts"]})
        msg.update(markdown_text=text or "", streaming=True, text="")
        self.messages.setdefault(channel, []).append(msg)
        self._bot_spoke(channel, params["thread_ts"])
        return {"ok": True, "channel": channel, "ts": msg["ts"]}

    def _streaming(self, params: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
        msg = self.find(str(params.get("channel")), str(params.get("ts")))
        if msg is None:
            return None, "message_not_found"
        if not msg.get("streaming"):
            return None, "message_not_in_streaming_state"
        return msg, None

    def _m_chat_appendStream(self, params: dict[str, Any]) -> dict[str, Any]:
        msg, error = self._streaming(params)
        if msg is None:
            return {"ok": False, "error": error}
        text, error = self._stream_text(params)
        if error or not text:
            return {"ok": False, "error": error or "invalid_arguments"}  # markdown_text is required
        msg["markdown_text"] += text
        return {"ok": True, "channel": params["channel"], "ts": msg["ts"]}

    def _m_chat_stopStream(self, params: dict[str, Any]) -> dict[str, Any]:
        msg, error = self._streaming(params)
        if msg is None:
            return {"ok": False, "error": error}
        text, error = self._stream_text(params)
        if error:
            return {"ok": False, "error": error}
        blocks = params.get("blocks") or []
        refused = _refuse_blocks(blocks)
        if refused:
            return {"ok": False, "error": refused}
        msg["markdown_text"] += text or ""
        msg["streaming"] = False
        if blocks:
            msg["blocks"] = blocks  # rendered below the streamed text
        msg["text"] = msg["markdown_text"]
        return {"ok": True, "channel": params["channel"], "ts": msg["ts"], "message": msg}

    def _m_assistant_threads_setStatus(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, thread_ts = str(params.get("channel_id") or ""), str(params.get("thread_ts") or "")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if not thread_ts:
            return {"ok": False, "error": "invalid_thread_ts"}
        if "status" not in params:
            return {"ok": False, "error": "invalid_arguments"}
        loading = params.get("loading_messages")
        if loading is not None and (not isinstance(loading, list) or len(loading) > 10):
            return {"ok": False, "error": "invalid_arguments"}  # at most 10 loading messages
        status = str(params["status"])
        self.status_log.append((channel, thread_ts, status))
        if status:
            self.statuses[(channel, thread_ts)] = {"status": status, "loading_messages": loading or []}
        else:
            self.statuses.pop((channel, thread_ts), None)
        return {"ok": True}

    def _m_assistant_threads_setSuggestedPrompts(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("channel_id"):
            return {"ok": False, "error": "channel_not_found"}
        prompts = params.get("prompts")
        if not isinstance(prompts, list) or not 1 <= len(prompts) <= 4:
            return {"ok": False, "error": "invalid_arguments"}  # up to four prompts
        if any(not isinstance(p, dict) or not p.get("title") or not p.get("message") for p in prompts):
            return {"ok": False, "error": "invalid_arguments"}
        self.prompts.append(dict(params))
        return {"ok": True}

    def _m_views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        view = params.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        if not params.get("user_id"):
            return {"ok": False, "error": "invalid_arguments"}
        if not isinstance(view, dict) or view.get("type") != "home":
            return {"ok": False, "error": "invalid_arguments"}
        blocks = view.get("blocks") or []
        if len(blocks) > 100:
            return {"ok": False, "error": "invalid_arguments"}  # a home view holds at most 100 blocks
        refused = _refuse_blocks(blocks, limit=100)
        if refused:
            return {"ok": False, "error": refused}
        self.home_views[str(params["user_id"])] = view
        return {"ok": True, "view": {**view, "id": f"V{uuid.uuid4().hex[:9].upper()}"}}

    def _m_files_getUploadURLExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = f"F{uuid.uuid4().hex[:9].upper()}"
        self.uploads[file_id] = Upload(file_id, str(params.get("filename")), int(params.get("length", 0)))
        return {"ok": True, "upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}

    def _m_files_completeUploadExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        out = []
        for item in params.get("files") or []:
            upload = self.uploads.get(item["id"])
            if upload is None or len(upload.content) != upload.length:
                return {"ok": False, "error": "file_not_found"}
            upload.completed = True
            upload.title = item.get("title") or upload.filename
            upload.channel = params.get("channel_id") or params.get("channels")
            upload.thread_ts = params.get("thread_ts")
            upload.initial_comment = params.get("initial_comment", "")
            out.append({"id": upload.file_id, "name": upload.filename, "title": upload.title})
            if upload.channel:
                msg = self._bot_message({"text": upload.initial_comment, "thread_ts": upload.thread_ts})
                msg["files"] = [out[-1]]
                self.messages.setdefault(str(upload.channel), []).append(msg)
        return {"ok": True, "files": out}

    async def _upload(self, request: web.Request) -> web.Response:
        upload = self.uploads.get(request.match_info["file_id"])
        if upload is None:
            return web.Response(status=404)
        if request.content_type == "multipart/form-data":
            form = await request.post()
            part = next(iter(form.values()))
            upload.content = part.file.read() if hasattr(part, "file") else str(part).encode()
        else:
            upload.content = await request.read()
        self.calls.append(Call("upload", {"file_id": upload.file_id}, 200, time.monotonic()))
        self._changed.set()
        return web.Response(text="OK - " + str(len(upload.content)))

    async def _download(self, request: web.Request) -> web.Response:
        self.calls.append(Call("file_download", {"name": request.match_info["name"]}, 200, time.monotonic()))
        if not self._authorized(request):
            return web.Response(status=302, headers={"Location": f"{self.url}/login"})
        content = self.files.get(request.match_info["name"])
        if content is None:
            return web.Response(status=404)
        return web.Response(body=content)

    async def _response_url(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.responses.append({"id": request.match_info["rid"], **body})
        self.calls.append(Call("response_url", body, 200, time.monotonic()))
        self._changed.set()
        return web.Response(text="ok")


async def _serve(port: int, token: str) -> None:
    fake = FakeSlackAPI(token=token, port=port)
    await fake.start()
    print(f"fake Slack Web API at {fake.api_url} (bot token {token})", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await fake.stop()


async def _say(args: argparse.Namespace) -> None:
    """Post a human message in the fake and deliver its event (signed HTTP, or Socket Mode)."""
    import aiohttp

    async with aiohttp.ClientSession() as session:
        text = args.text if args.thread else f"<@UBOT> {args.text}"
        body = {"channel": args.channel, "text": text, "user": args.user, "thread_ts": args.thread}
        async with session.post(f"{args.fake}/_user_message", json=body) as resp:
            msg = await resp.json()
        if args.thread:
            event = {
                "type": "message",
                "channel": args.channel,
                "channel_type": "channel",
                "user": args.user,
                "text": text,
                "ts": msg["ts"],
                "thread_ts": args.thread,
                "event_ts": msg["ts"],
            }
        else:
            event = {
                "type": "app_mention",
                "channel": args.channel,
                "user": args.user,
                "text": text,
                "ts": msg["ts"],
                "event_ts": msg["ts"],
            }
        envelope = event_envelope(event)
        if args.to:
            raw = json.dumps(envelope)
            headers = {"Content-Type": "application/json", **sign(args.secret, raw)}
            async with session.post(args.to, data=raw, headers=headers) as resp:
                print(f"HTTP {resp.status}; message ts {msg['ts']}")
        else:
            payload = {"type": "events_api", "payload": envelope}
            async with session.post(f"{args.fake}/_socket/send", json=payload) as resp:
                print(f"socket: {await resp.json()}; message ts {msg['ts']}")


async def _state(fake_url: str) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as session, session.get(f"{fake_url}/_state") as resp:
        state = await resp.json()
    print("calls:", json.dumps(state["counts"], sort_keys=True))
    for channel, messages in state["messages"].items():
        for m in messages:
            who = "bot" if m.get("bot_id") else m.get("user")
            where = f" (thread {m['thread_ts']})" if m.get("thread_ts") else ""
            print(f"[{channel} {m['ts']}{where}] {who}: {m.get('text', '')[:160]!r}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakes.slack_api", description="A fake Slack Web API on 127.0.0.1, and a client for it"
    )
    sub = parser.add_subparsers(dest="cmd")
    serve = sub.add_parser("serve", help="run the fake (default)")
    serve.add_argument("--port", type=int, default=8090)
    serve.add_argument("--token", default="xoxb-test-token")
    say = sub.add_parser("say", help="post as a human and deliver the event to the app")
    say.add_argument("text")
    say.add_argument("--fake", default="http://127.0.0.1:8090")
    say.add_argument("--to", help="the app's /slack/events URL (HTTP mode); omit for Socket Mode")
    say.add_argument("--secret", default="", help="SLACK_SIGNING_SECRET, to sign HTTP deliveries")
    say.add_argument("--channel", default="C0GENERAL")
    say.add_argument("--user", default="U0ADMIN")
    say.add_argument("--thread", help="reply in this thread (ts) instead of mentioning the bot")
    state = sub.add_parser("state", help="print what the bot did: calls per method and messages")
    state.add_argument("--fake", default="http://127.0.0.1:8090")
    args = parser.parse_args(argv)
    # Imported here: this command-line section is kept apart from the fake above it.
    import sys

    from tests.fakes.loopback import serve_until_interrupted

    if args.cmd in ("say", "state"):
        import aiohttp

        try:
            asyncio.run(_say(args) if args.cmd == "say" else _state(args.fake))
        except aiohttp.ClientConnectionError as exc:
            print(f"cannot reach the fake or the app: {exc}; start the fake with: {parser.prog} serve", file=sys.stderr)
            raise SystemExit(1) from None
        return
    serve = _serve(getattr(args, "port", 8090), getattr(args, "token", "xoxb-test-token"))
    serve_until_interrupted(serve, name="fake Slack")


if __name__ == "__main__":
    main()
