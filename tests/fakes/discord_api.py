"""A fake Discord: gateway (aiohttp websocket) and REST API on 127.0.0.1, for the real discord.py client.

Point the library at it with `discord.http.Route.BASE = fake.api_base` and
`discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)` (or, through draftloop,
DISCORD_API_URL / DISCORD_GATEWAY_URL). What it does, as Discord does it:

- login: `GET /users/@me`, `GET /oauth2/applications/@me`; gateway HELLO → IDENTIFY → READY + GUILD_CREATE,
  heartbeats (op 1 → op 11), RESUME with replay of the events a dropped connection missed, op 7 RECONNECT;
- messages: create (JSON or multipart with files), edit, fetch; the bot's own posts are echoed back as
  MESSAGE_CREATE / MESSAGE_UPDATE; the 2,000-character limit answers 400 / 50035;
- threads from a message (thread id = starter message id), forum posts, archived threads (400 / 50083) and
  channels the bot may not write in (403 / 50013);
- reactions, DMs, interaction callbacks (`?with_response=1` shape), follow-ups and `@original` edits through
  the webhook routes, application command sync;
- 429 injection with `Via` and a JSON `retry_after`, as discord.py needs to retry instead of giving up;
- a call log: every REST call as (method, route template, status), with counts per route.

Tests drive users through `message()`, `react()`, `slash()`, `click()`, `submit_modal()`, `forum_post()`,
`edit_by_user()` and wait with `wait_for()`.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import re
import secrets
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.discord_components import (
    EPHEMERAL,
    IS_COMPONENTS_V2,
    MAX_CONTENT,
    Refused,
    buttons,
    check_message,
    check_modal,
    submission,
    text_of,
)
from tests.fakes.loopback import LoopbackServer, serve_until_interrupted

__all__ = [
    "EPHEMERAL",
    "IS_COMPONENTS_V2",
    "MANAGE_CHANNELS",
    "MANAGE_THREADS",
    "MAX_CONTENT",
    "FakeDiscord",
    "FakeUser",
    "InteractionRecord",
    "buttons",
    "text_of",
]

API_PREFIX = "/api/v10"
# Permission bits (discord.com/developers/docs/topics/permissions).
MANAGE_CHANNELS = 1 << 4
MANAGE_THREADS = 1 << 34
# What the README's invite link grants: view, send, threads, embeds, files, history.
INSTALL_PERMISSIONS = 309_237_763_072
MAX_FORUM_TAGS = 20
MAX_APPLIED_TAGS = 5
TAG_NAME_MAX = 20

JSON_HEADERS = {"Content-Type": "application/json"}  # exactly this: discord.py parses nothing else as JSON

_ids = itertools.count(1_300_000_000_000_000_000 + (int(time.time()) % 1000) * 1_000_000)


def snowflake() -> int:
    return next(_ids)


def _now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass
class FakeUser:
    id: int
    name: str
    bot: bool = False
    roles: tuple[int, ...] = ()

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "username": self.name,
            "global_name": self.name,
            "discriminator": "0",
            "avatar": None,
            "bot": self.bot,
            "public_flags": 0,
        }

    def member(self, *, with_user: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "roles": [str(r) for r in self.roles],
            "joined_at": "2025-01-01T00:00:00+00:00",
            "deaf": False,
            "mute": False,
            "flags": 0,
            "nick": None,
            "avatar": None,
            "pending": False,
            "permissions": "2251799813685247",
        }
        if with_user:
            data["user"] = self.payload()
        return data


@dataclass
class Call:
    method: str
    route: str
    status: int
    path: str
    at: float


@dataclass
class _Session:
    id: str
    seq: int = 0
    buffer: list[dict[str, Any]] = field(default_factory=list)
    ws: web.WebSocketResponse | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    intents: int = 0


@dataclass
class InteractionRecord:
    id: int
    token: str
    kind: int
    channel_id: int
    user: FakeUser
    data: dict[str, Any]
    created: float
    responses: list[dict[str, Any]] = field(default_factory=list)  # callback bodies
    responded_at: float | None = None
    original_id: int | None = None

    @property
    def response_type(self) -> int | None:
        return self.responses[0]["type"] if self.responses else None


# Route templates, most specific first. Names in the call log are these templates.
_ROUTES: list[tuple[str, str]] = [
    ("GET", "/users/@me"),
    ("GET", "/oauth2/applications/@me"),
    ("GET", "/gateway"),
    ("GET", "/gateway/bot"),
    ("POST", "/users/@me/channels"),
    ("PUT", "/applications/{application_id}/commands"),
    ("GET", "/applications/{application_id}/commands"),
    ("PUT", "/applications/{application_id}/guilds/{guild_id}/commands"),
    ("GET", "/applications/{application_id}/guilds/{guild_id}/commands"),
    ("POST", "/interactions/{interaction_id}/{token}/callback"),
    ("POST", "/webhooks/{application_id}/{token}"),
    ("GET", "/webhooks/{application_id}/{token}/messages/{message_id}"),
    ("PATCH", "/webhooks/{application_id}/{token}/messages/{message_id}"),
    ("DELETE", "/webhooks/{application_id}/{token}/messages/{message_id}"),
    ("POST", "/channels/{channel_id}/messages/{message_id}/threads"),
    ("POST", "/channels/{channel_id}/threads"),
    ("PUT", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me"),
    ("POST", "/channels/{channel_id}/messages"),
    ("GET", "/channels/{channel_id}/messages/{message_id}"),
    ("PATCH", "/channels/{channel_id}/messages/{message_id}"),
    ("DELETE", "/channels/{channel_id}/messages/{message_id}"),
    ("GET", "/channels/{channel_id}"),
    ("PATCH", "/channels/{channel_id}"),
    ("GET", "/guilds/{guild_id}/members/{user_id}"),
]


def _compile(template: str) -> re.Pattern[str]:
    pattern = re.escape(template)
    pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", pattern)
    return re.compile(f"^{pattern}$")


_COMPILED = [(m, t, _compile(t)) for m, t in _ROUTES]


class FakeDiscord(LoopbackServer):
    """One guild, a few text channels, a forum channel, roles and members; see the module docstring."""

    def __init__(self, *, heartbeat_interval_ms: int = 41_250, host: str = "127.0.0.1", port: int = 0) -> None:
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.host = host
        self.application_id = snowflake()
        self.bot = FakeUser(self.application_id, "draftloop", bot=True)
        self.guild_id = snowflake()
        self.token = "fake-discord-token"
        self.roles: dict[int, str] = {}
        self.role_ids: dict[str, int] = {}
        self.role_permissions: dict[int, int] = {}
        for name, allowed in (
            ("@everyone", 68608),  # view channels, send messages, read history
            ("Writers", 68608),
            ("Analysts", 68608),
            ("Moderators", 2251799813685247),
            ("draftloop", INSTALL_PERMISSIONS),  # the bot's own role, as the invite link made it
        ):
            rid = self.guild_id if name == "@everyone" else snowflake()
            self.roles[rid] = name
            self.role_ids[name] = rid
            self.role_permissions[rid] = allowed
        self.bot.roles = (self.role_ids["draftloop"],)
        self.channels: dict[int, dict[str, Any]] = {}
        self.general = self._add_channel("general", 0)
        self.second = self._add_channel("requests", 0)
        self.forum = self._add_channel("jobs", 15)
        self.users: dict[int, FakeUser] = {}
        self.alice = self.add_user("alice", roles=())  # a requester
        self.wendy = self.add_user("wendy", roles=(self.role_ids["Writers"],))  # a writing expert
        self.dana = self.add_user("dana", roles=(self.role_ids["Analysts"],))  # a data expert
        self.mod = self.add_user("mod", roles=(self.role_ids["Moderators"],))  # an admin by role
        self.eve = self.add_user("eve", roles=())  # nobody in particular
        self.other_bot = self.add_user("otherbot", bot=True)
        self.messages: dict[int, dict[str, Any]] = {}
        self.order: list[int] = []  # message ids in creation order
        self.edits: Counter[int] = Counter()
        self.controls_at: dict[int, float] = {}  # message id -> when it first showed buttons (monotonic)
        self.reactions: list[tuple[int, int, str, int]] = []  # (channel, message, emoji, user)
        self.files: dict[tuple[int, str], bytes] = {}
        self.interactions: dict[int, InteractionRecord] = {}
        self.commands: list[dict[str, Any]] = []
        self.guild_commands: list[dict[str, Any]] = []
        self.dms: dict[int, int] = {}  # user id -> dm channel id
        self.denied: set[int] = set()  # channels where the bot lacks Send Messages
        self.calls: list[Call] = []
        self.refusals: list[str] = []  # why each malformed payload was refused
        self.identifies = 0
        self.resumes = 0
        self._fail: list[tuple[str, str, int, float]] = []  # (method, route, status, retry_after)
        self._sessions: dict[str, _Session] = {}
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = port

    # ------------------------------------------------------------------ set-up
    def _add_channel(self, name: str, kind: int) -> int:
        cid = snowflake()
        self.channels[cid] = {
            "id": str(cid),
            "type": kind,
            "name": name,
            "guild_id": str(self.guild_id),
            "position": len(self.channels),
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
            "topic": None,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "flags": 0,
            "available_tags": [],
            "default_auto_archive_duration": 1440,
        }
        return cid

    def add_user(self, name: str, *, roles: Iterable[int] = (), bot: bool = False) -> FakeUser:
        user = FakeUser(snowflake(), name, bot=bot, roles=tuple(roles))
        self.users[user.id] = user
        return user

    @property
    def api_base(self) -> str:
        """What DISCORD_API_URL should be."""
        return f"http://{self.host}:{self.port}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        """What DISCORD_GATEWAY_URL should be."""
        return f"ws://{self.host}:{self.port}/gateway"

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/attachments/{key}/{filename}", self._attachment)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._rest)
        # The command line's client (`say`, `click`, `state`) drives users from another process.
        app.router.add_post("/_user_message", self._user_message_http)
        app.router.add_post("/_click", self._click_http)
        app.router.add_get("/_state", self._state_http)
        return app

    async def stop(self) -> None:
        for session in self._sessions.values():
            if session.ws is not None and not session.ws.closed:
                await session.ws.close(code=1001)
        await super().stop()

    # ------------------------------------------------------------------ payload helpers
    def guild_payload(self) -> dict[str, Any]:
        roles = [
            {
                "id": str(rid),
                "name": name,
                "color": 0,
                "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
                "hoist": False,
                "position": i,
                "permissions": str(self.role_permissions[rid]),
                "managed": name == "draftloop",
                "mentionable": True,
                "flags": 0,
                "icon": None,
                "unicode_emoji": None,
            }
            for i, (rid, name) in enumerate(self.roles.items())
        ]
        channels = [dict(c) for c in self.channels.values() if c["type"] in (0, 15)]
        threads = [dict(c) for c in self.channels.values() if c["type"] == 11]
        return {
            "id": str(self.guild_id),
            "name": "Freelancers",
            "icon": None,
            "owner_id": str(self.mod.id),
            "roles": roles,
            "emojis": [],
            "stickers": [],
            "features": [],
            "channels": channels,
            "threads": threads,
            "members": [self.bot.member(with_user=True)],
            "member_count": len(self.users) + 1,
            "large": False,
            "unavailable": False,
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "nsfw_level": 0,
            "system_channel_flags": 0,
            "joined_at": "2025-01-01T00:00:00+00:00",
        }

    def _message_payload(
        self,
        *,
        channel_id: int,
        author: FakeUser,
        content: str,
        mid: int | None = None,
        embeds: list[dict[str, Any]] | None = None,
        components: list[dict[str, Any]] | None = None,
        attachments: list[dict[str, Any]] | None = None,
        reference: int | None = None,
        flags: int = 0,
        webhook: bool = False,
    ) -> dict[str, Any]:
        mid = mid if mid is not None else snowflake()
        mentions = []
        if f"<@{self.bot.id}>" in content:
            mentions.append(self.bot.payload())
        mention_roles = list(re.findall(r"<@&(\d+)>", content))
        data: dict[str, Any] = {
            "id": str(mid),
            "channel_id": str(channel_id),
            "guild_id": str(self.guild_id) if self._in_guild(channel_id) else None,
            "author": author.payload(),
            "content": content,
            "timestamp": _now(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": mentions,
            "mention_roles": mention_roles,
            "attachments": attachments or [],
            "embeds": embeds or [],
            "components": components or [],
            "pinned": False,
            "type": 19 if reference else 0,
            "flags": flags,
        }
        if data["guild_id"] is None:
            del data["guild_id"]
        elif not webhook:
            data["member"] = author.member()
        if reference:
            data["message_reference"] = {"message_id": str(reference), "channel_id": str(channel_id)}
        return data

    def _in_guild(self, channel_id: int) -> bool:
        ch = self.channels.get(channel_id)
        return ch is not None and ch["type"] != 1

    def _store(self, msg: dict[str, Any]) -> None:
        mid = int(msg["id"])
        self.messages[mid] = msg
        self.order.append(mid)
        ch = self.channels.get(int(msg["channel_id"]))
        if ch is not None:
            ch["last_message_id"] = msg["id"]
            if ch["type"] == 11:
                ch["message_count"] = ch.get("message_count", 0) + 1
        self._changed.set()

    def _thread_payload(self, *, tid: int, parent: int, name: str, owner: int) -> dict[str, Any]:
        return {
            "id": str(tid),
            "type": 11,
            "guild_id": str(self.guild_id),
            "parent_id": str(parent),
            "name": name,
            "owner_id": str(owner),
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "message_count": 0,
            "member_count": 1,
            "flags": 0,
            "applied_tags": [],
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": 1440,
                "archive_timestamp": _now(),
                "locked": False,
            },
        }

    # ------------------------------------------------------------------ queries for tests
    def bot_messages(self, channel_id: int | None = None) -> list[dict[str, Any]]:
        return [
            self.messages[m]
            for m in self.order
            if self.messages[m]["author"]["id"] == str(self.bot.id)
            and (channel_id is None or self.messages[m]["channel_id"] == str(channel_id))
        ]

    def threads(self, parent: int | None = None) -> list[dict[str, Any]]:
        return [
            c for c in self.channels.values() if c["type"] == 11 and (parent is None or c["parent_id"] == str(parent))
        ]

    def counts(self) -> Counter[tuple[str, str]]:
        return Counter((c.method, c.route) for c in self.calls)

    def calls_since(self, index: int) -> Counter[tuple[str, str]]:
        return Counter((c.method, c.route) for c in self.calls[index:])

    async def wait_for(self, predicate: Callable[[], Any], *, timeout: float = 10.0, what: str = "") -> Any:
        """Wait until `predicate()` is truthy (re-checked on every change); return its value."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            value = predicate()
            if value:
                return value
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {what or predicate}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), timeout=min(left, 0.05))
            except TimeoutError:
                pass

    def fail_next(
        self, method: str, route: str, *, status: int = 429, retry_after: float = 0.05, times: int = 1
    ) -> None:
        """Answer the next `times` calls to (method, route template) with `status` (429 → Discord's shape)."""
        for _ in range(times):
            self._fail.append((method, route, status, retry_after))

    def deny(self, channel_id: int) -> None:
        self.denied.add(channel_id)

    def grant(self, *bits: int) -> None:
        """Give the bot's role more permissions (MANAGE_CHANNELS, MANAGE_THREADS); call before it connects."""
        rid = self.role_ids["draftloop"]
        for bit in bits:
            self.role_permissions[rid] |= bit

    def bot_may(self, bit: int) -> bool:
        return any(self.role_permissions[r] & (bit | 8) for r in (*self.bot.roles, self.guild_id))  # 8: admin

    def add_forum_tag(self, name: str, *, moderated: bool = False, forum: int | None = None) -> int:
        """A tag an admin made by hand in the forum."""
        tid = snowflake()
        tag = {"id": str(tid), "name": name, "moderated": moderated, "emoji_id": None, "emoji_name": None}
        self.channels[forum or self.forum]["available_tags"].append(tag)
        return tid

    def forum_tags(self, forum: int | None = None) -> dict[str, int]:
        """The forum's tags by name."""
        channel = self.channels[forum or self.forum]
        return {t["name"]: int(t["id"]) for t in channel.get("available_tags") or []}

    def applied(self, thread: int) -> list[str]:
        """The names of the tags applied to a forum post."""
        parent = int(self.channels[thread]["parent_id"])
        names = {v: k for k, v in self.forum_tags(parent).items()}
        return [names.get(int(t), t) for t in self.channels[thread].get("applied_tags") or []]

    def archive(self, thread_id: int, *, locked: bool = True) -> None:
        meta = self.channels[thread_id]["thread_metadata"]
        meta["archived"] = True
        meta["locked"] = locked

    # ------------------------------------------------------------------ gateway
    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        for session in list(self._sessions.values()):
            async with session.lock:
                session.seq += 1
                frame = {"op": 0, "t": event, "s": session.seq, "d": data}
                session.buffer.append(frame)
                del session.buffer[:-2000]
                if session.ws is not None and not session.ws.closed:
                    try:
                        await session.ws.send_str(json.dumps(frame))
                    except (ConnectionError, RuntimeError):
                        session.ws = None

    async def reconnect(self) -> None:
        """Ask every client to reconnect (op 7); discord.py closes and RESUMEs."""
        for session in self._sessions.values():
            if session.ws is not None and not session.ws.closed:
                await session.ws.send_str(json.dumps({"op": 7, "d": None}))

    async def drop(self) -> None:
        """Close every gateway connection abruptly (code 4000, resumable), as an outage would."""
        for session in self._sessions.values():
            ws, session.ws = session.ws, None
            if ws is not None and not ws.closed:
                await ws.close(code=4000)

    @property
    def connected(self) -> int:
        return sum(1 for s in self._sessions.values() if s.ws is not None and not s.ws.closed)

    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms}}))
        session: _Session | None = None
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            frame = json.loads(msg.data)
            op = frame.get("op")
            if op == 1:
                await ws.send_str(json.dumps({"op": 11}))
            elif op == 2:
                self.identifies += 1
                session = _Session(id=secrets.token_hex(8), ws=ws, intents=int(frame["d"].get("intents", 0)))
                self._sessions[session.id] = session
                ready = {
                    "v": 10,
                    "user": self.bot.payload(),
                    "guilds": [{"id": str(self.guild_id), "unavailable": True}],
                    "session_id": session.id,
                    "resume_gateway_url": self.gateway_url,
                    "application": {"id": str(self.application_id), "flags": 0},
                    "private_channels": [],
                    "relationships": [],
                    "shard": [0, 1],
                }
                async with session.lock:
                    for event, data in (("READY", ready), ("GUILD_CREATE", self.guild_payload())):
                        session.seq += 1
                        await ws.send_str(json.dumps({"op": 0, "t": event, "s": session.seq, "d": data}))
                self._changed.set()
            elif op == 6:
                self.resumes += 1
                data = frame["d"]
                found = self._sessions.get(data.get("session_id", ""))
                if found is None:
                    await ws.send_str(json.dumps({"op": 9, "d": False}))
                    continue
                session = found
                async with session.lock:
                    last = int(data.get("seq") or 0)
                    for missed in session.buffer:
                        if missed["s"] > last:
                            await ws.send_str(json.dumps(missed))
                    session.seq += 1
                    session.ws = ws
                    resumed = {"op": 0, "t": "RESUMED", "s": session.seq, "d": {}}
                    await ws.send_str(json.dumps(resumed))
                self._changed.set()
        if session is not None and session.ws is ws:
            session.ws = None
            if ws.close_code == 1000:  # the client closed for good: Discord ends the session
                self._sessions.pop(session.id, None)
        self._changed.set()
        return ws

    # ------------------------------------------------------------------ REST
    async def _attachment(self, request: web.Request) -> web.Response:
        key = int(request.match_info["key"])
        name = request.match_info["filename"]
        body = self.files.get((key, name))
        if body is None:
            return web.Response(status=404)
        return web.Response(body=body, content_type="application/octet-stream")

    def _json(self, data: Any, status: int = 200) -> web.Response:
        # body= (not text=) so aiohttp adds no "; charset=utf-8": discord.py wants the bare type
        return web.Response(status=status, body=json.dumps(data).encode(), headers=JSON_HEADERS)

    def _error(self, status: int, code: int, message: str) -> web.Response:
        return self._json({"message": message, "code": code}, status)

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        for method, template, pattern in _COMPILED:
            if method != request.method:
                continue
            match = pattern.match(path)
            if match is None:
                continue
            response = await self._answer(request, method, template, match.groupdict())
            self.calls.append(Call(method, template, response.status, path, time.monotonic()))
            self._changed.set()
            return response
        self.calls.append(Call(request.method, path, 404, path, time.monotonic()))
        return self._error(404, 0, f"404: Not Found ({request.method} {path})")

    async def _answer(self, request: web.Request, method: str, template: str, params: dict[str, str]) -> web.Response:
        for i, (m, route, status, retry_after) in enumerate(self._fail):
            if m == method and route == template:
                del self._fail[i]
                if status == 429:
                    return web.Response(
                        status=429,
                        body=json.dumps(
                            {"message": "You are being rate limited.", "retry_after": retry_after, "global": False}
                        ).encode(),
                        headers={**JSON_HEADERS, "Via": "1.1 google", "Retry-After": str(max(1, int(retry_after)))},
                    )
                return self._error(status, 0, f"injected {status}")
        handler = getattr(self, "_h_" + re.sub(r"[^a-z]+", "_", f"{method} {template}".lower()).strip("_"))
        result: web.Response = await handler(request, **params)
        return result

    async def _read_body(self, request: web.Request) -> tuple[Any, list[tuple[str, bytes]]]:
        if request.content_type.startswith("multipart/"):
            payload: dict[str, Any] = {}
            files: list[tuple[str, bytes]] = []
            reader = await request.multipart()
            while True:
                part = await reader.next()
                if part is None:
                    break
                if part.name == "payload_json":  # type: ignore[union-attr]
                    payload = json.loads(await part.text())  # type: ignore[union-attr]
                else:
                    files.append((part.filename or "file", bytes(await part.read())))  # type: ignore[union-attr]
            return payload, files
        if request.can_read_body:
            return await request.json(), []
        return {}, []

    def _attachments(self, mid: int, payload: dict[str, Any], files: list[tuple[str, bytes]]) -> list[dict[str, Any]]:
        out = []
        for index, (fallback, body) in enumerate(files):
            meta = (payload.get("attachments") or [{}] * len(files))[index] if payload.get("attachments") else {}
            name = meta.get("filename") or fallback
            self.files[(mid, name)] = body
            url = f"http://{self.host}:{self.port}/attachments/{mid}/{name}"
            out.append(
                {
                    "id": str(snowflake()),
                    "filename": name,
                    "size": len(body),
                    "url": url,
                    "proxy_url": url,
                    "content_type": "text/markdown" if name.endswith(".md") else "application/octet-stream",
                }
            )
        return out

    @staticmethod
    def _filenames(payload: dict[str, Any], files: list[tuple[str, bytes]]) -> tuple[str, ...]:
        meta = payload.get("attachments") or []
        return tuple(
            (meta[i].get("filename") if i < len(meta) else None) or fallback for i, (fallback, _) in enumerate(files)
        )

    def _check(
        self,
        payload: dict[str, Any],
        files: list[tuple[str, bytes]] = (),  # type: ignore[assignment]
        *,
        existing: dict[str, Any] | None = None,
        create: bool = False,
    ) -> web.Response | None:
        """Discord's refusal of a malformed message payload (tests/fakes/discord_components.py), or None."""
        try:
            check_message(
                payload, existing=existing, filenames=self._filenames(payload, list(files)), require_body=create
            )
        except Refused as exc:
            self.refusals.append(exc.message)
            return self._error(exc.status, exc.code, exc.message)
        return None

    def _writable(self, channel_id: int) -> web.Response | None:
        if channel_id in self.denied:
            return self._error(403, 50013, "Missing Permissions")
        ch = self.channels.get(channel_id)
        if ch is None:
            return self._error(404, 10003, "Unknown Channel")
        meta = ch.get("thread_metadata")
        if meta and meta.get("archived"):
            if meta.get("locked"):
                return self._error(400, 50083, "Thread is archived")
            meta["archived"] = False
        return None

    async def _h_get_users_me(self, request: web.Request) -> web.Response:
        return self._json(self.bot.payload())

    async def _h_get_oauth_applications_me(self, request: web.Request) -> web.Response:
        return self._json(
            {
                "id": str(self.application_id),
                "name": "draftloop",
                "icon": None,
                "description": "",
                "bot_public": True,
                "bot_require_code_grant": False,
                "owner": self.mod.payload(),
                "verify_key": "00",
                "flags": 0,
                "summary": "",
            }
        )

    async def _h_get_gateway(self, request: web.Request) -> web.Response:
        return self._json({"url": self.gateway_url})

    async def _h_get_gateway_bot(self, request: web.Request) -> web.Response:
        return self._json(
            {
                "url": self.gateway_url,
                "shards": 1,
                "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1},
            }
        )

    async def _h_post_users_me_channels(self, request: web.Request) -> web.Response:
        body, _ = await self._read_body(request)
        uid = int(body["recipient_id"])
        cid = self.dms.get(uid)
        if cid is None:
            cid = snowflake()
            self.dms[uid] = cid
            self.channels[cid] = {"id": str(cid), "type": 1, "last_message_id": None}
        user = self.users[uid]
        return self._json({"id": str(cid), "type": 1, "last_message_id": None, "recipients": [user.payload()]})

    async def _sync(self, request: web.Request, into: list[dict[str, Any]]) -> web.Response:
        body, _ = await self._read_body(request)
        into.clear()
        for cmd in body:
            into.append({**cmd, "id": str(snowflake()), "application_id": str(self.application_id), "version": "1"})
        return self._json(into)

    async def _h_put_applications_application_id_commands(self, request: web.Request, **_: str) -> web.Response:
        return await self._sync(request, self.commands)

    async def _h_get_applications_application_id_commands(self, request: web.Request, **_: str) -> web.Response:
        return self._json(self.commands)

    async def _h_put_applications_application_id_guilds_guild_id_commands(
        self, request: web.Request, **_: str
    ) -> web.Response:
        return await self._sync(request, self.guild_commands)

    async def _h_get_applications_application_id_guilds_guild_id_commands(
        self, request: web.Request, **_: str
    ) -> web.Response:
        return self._json(self.guild_commands)

    # messages
    async def _create_message(
        self, channel_id: int, payload: dict[str, Any], files: list[tuple[str, bytes]], *, webhook: bool = False
    ) -> dict[str, Any]:
        mid = snowflake()
        reference = (payload.get("message_reference") or {}).get("message_id")
        msg = self._message_payload(
            channel_id=channel_id,
            author=self.bot,
            content=payload.get("content") or "",
            mid=mid,
            embeds=payload.get("embeds"),
            components=payload.get("components"),
            attachments=self._attachments(mid, payload, files),
            reference=int(reference) if reference else None,
            flags=int(payload.get("flags") or 0),
            webhook=webhook,
        )
        msg["allowed_mentions"] = payload.get("allowed_mentions")
        if msg["components"]:
            self.controls_at.setdefault(mid, time.monotonic())
        self._store(msg)
        if not msg["flags"] & 64:
            await self.dispatch("MESSAGE_CREATE", {k: v for k, v in msg.items() if k != "allowed_mentions"})
        return msg

    async def _h_post_channels_channel_id_messages(self, request: web.Request, channel_id: str) -> web.Response:
        payload, files = await self._read_body(request)
        refused = self._writable(int(channel_id)) or self._check(payload, files, create=True)
        if refused is not None:
            return refused
        msg = await self._create_message(int(channel_id), payload, files)
        return self._json(msg)

    async def _edit(self, mid: int, payload: dict[str, Any], files: list[tuple[str, bytes]]) -> web.Response:
        msg = self.messages.get(mid)
        if msg is None:
            return self._error(404, 10008, "Unknown Message")
        refused = self._check(payload, files, existing=msg)
        if refused is not None:
            return refused
        for key in ("content", "embeds", "components"):
            if key in payload:
                msg[key] = payload[key] if payload[key] is not None else ([] if key != "content" else "")
        if payload.get("flags") is not None:
            # Only these may change on an edit; the V2 flag is kept once set (checked above).
            settable = 4 | IS_COMPONENTS_V2
            msg["flags"] = (
                (msg["flags"] & ~settable) | (int(payload["flags"]) & settable) | (msg["flags"] & IS_COMPONENTS_V2)
            )
        if files or "attachments" in payload:
            kept = [a for a in msg["attachments"] if any(a["id"] == str(p.get("id")) for p in payload["attachments"])]
            msg["attachments"] = kept + self._attachments(mid, payload, files)
        msg["edited_timestamp"] = _now()
        if msg["components"]:
            self.controls_at.setdefault(mid, time.monotonic())
        self.edits[mid] += 1
        self._changed.set()
        if not msg["flags"] & 64:
            await self.dispatch("MESSAGE_UPDATE", {k: v for k, v in msg.items() if k != "allowed_mentions"})
        return self._json(msg)

    async def _h_patch_channels_channel_id_messages_message_id(
        self, request: web.Request, channel_id: str, message_id: str
    ) -> web.Response:
        payload, files = await self._read_body(request)
        refused = self._writable(int(channel_id))
        if refused is not None:
            return refused
        return await self._edit(int(message_id), payload, files)

    async def _h_get_channels_channel_id_messages_message_id(
        self, request: web.Request, channel_id: str, message_id: str
    ) -> web.Response:
        msg = self.messages.get(int(message_id))
        if msg is None:
            return self._error(404, 10008, "Unknown Message")
        return self._json(msg)

    async def _h_delete_channels_channel_id_messages_message_id(
        self, request: web.Request, channel_id: str, message_id: str
    ) -> web.Response:
        self.messages.pop(int(message_id), None)
        return web.Response(status=204)

    async def _h_get_channels_channel_id(self, request: web.Request, channel_id: str) -> web.Response:
        ch = self.channels.get(int(channel_id))
        if ch is None:
            return self._error(404, 10003, "Unknown Channel")
        return self._json(ch)

    async def _h_patch_channels_channel_id(self, request: web.Request, channel_id: str) -> web.Response:
        body, _ = await self._read_body(request)
        ch = self.channels.get(int(channel_id))
        if ch is None:
            return self._error(404, 10003, "Unknown Channel")
        try:
            tags = self._tags_change(ch, body)
            applied = self._applied_change(ch, body)
        except Refused as exc:
            self.refusals.append(exc.message)
            return self._error(exc.status, exc.code, exc.message)
        if "archived" in body and ch.get("thread_metadata"):
            ch["thread_metadata"]["archived"] = bool(body["archived"])
        if tags is not None:
            ch["available_tags"] = tags
        if applied is not None:
            ch["applied_tags"] = applied
        self._changed.set()
        if ch["type"] == 11:
            await self.dispatch("THREAD_UPDATE", dict(ch))
        elif tags is not None:
            await self.dispatch("CHANNEL_UPDATE", dict(ch))
        return self._json(ch)

    def _tags_change(self, ch: dict[str, Any], body: dict[str, Any]) -> list[dict[str, Any]] | None:
        """A forum's new `available_tags` (Manage Channels; at most 20, names of at most 20 characters)."""
        if "available_tags" not in body:
            return None
        if ch["type"] != 15:
            raise Refused("Invalid Form Body: available_tags: only a forum or media channel has tags")
        if not self.bot_may(MANAGE_CHANNELS):
            raise Refused("Missing Permissions", code=50013, status=403)
        wanted = list(body["available_tags"] or [])
        if len(wanted) > MAX_FORUM_TAGS:
            raise Refused(f"Invalid Form Body: available_tags: Must be {MAX_FORUM_TAGS} or fewer in length.")
        known = {t["id"]: t for t in ch.get("available_tags") or []}
        out = []
        for i, tag in enumerate(wanted):
            name = str(tag.get("name") or "")
            if not 1 <= len(name) <= TAG_NAME_MAX:
                raise Refused(f"Invalid Form Body: available_tags.{i}.name: Must be between 1 and 20 in length.")
            tid = str(tag.get("id") or "")
            base = known.get(tid) or {"id": str(snowflake())}
            out.append(
                {
                    "id": base["id"],
                    "name": name,
                    "moderated": bool(tag.get("moderated", False)),
                    "emoji_id": tag.get("emoji_id"),
                    "emoji_name": tag.get("emoji_name"),
                }
            )
        return out

    def _applied_change(self, ch: dict[str, Any], body: dict[str, Any]) -> list[str] | None:
        """A forum post's new `applied_tags` (at most 5 of its forum's tags; Manage Threads unless the bot
        opened the post, and always for a moderated tag; an archived post must be unarchived with it)."""
        if "applied_tags" not in body:
            return None
        parent = self.channels.get(int(ch.get("parent_id") or 0), {})
        if ch["type"] != 11 or parent.get("type") != 15:
            raise Refused("Invalid Form Body: applied_tags: only a forum post has tags")
        wanted = [str(t) for t in body["applied_tags"] or []]
        if len(wanted) > MAX_APPLIED_TAGS:
            raise Refused(f"Invalid Form Body: applied_tags: Must be {MAX_APPLIED_TAGS} or fewer in length.")
        tags = {t["id"]: t for t in parent.get("available_tags") or []}
        if any(t not in tags for t in wanted):
            raise Refused("Invalid Form Body: applied_tags: Unknown tag")
        meta = ch.get("thread_metadata") or {}
        if meta.get("archived") and body.get("archived") is not False:
            raise Refused("Thread is archived", code=50083)
        before = set(ch.get("applied_tags") or [])
        moved = before.symmetric_difference(wanted)
        owner = str(ch.get("owner_id")) == str(self.bot.id)
        moderated = any(tags.get(t, {}).get("moderated") for t in moved)
        if (not owner or moderated) and not self.bot_may(MANAGE_THREADS):
            raise Refused("Missing Permissions", code=50013, status=403)
        return wanted

    async def _h_get_guilds_guild_id_members_user_id(
        self, request: web.Request, guild_id: str, user_id: str
    ) -> web.Response:
        user = self.users.get(int(user_id))
        if user is None:
            return self._error(404, 10007, "Unknown Member")
        return self._json(user.member(with_user=True))

    # threads
    async def _h_post_channels_channel_id_messages_message_id_threads(
        self, request: web.Request, channel_id: str, message_id: str
    ) -> web.Response:
        body, _ = await self._read_body(request)
        cid, mid = int(channel_id), int(message_id)
        if cid in self.denied:
            return self._error(403, 50013, "Missing Permissions")
        if mid in self.channels:
            return self._error(400, 160004, "A thread has already been created for this message")
        if mid not in self.messages:
            return self._error(404, 10008, "Unknown Message")
        name = str(body.get("name", ""))
        if not 1 <= len(name) <= 100:
            return self._error(400, 50035, "Invalid Form Body: name: Must be between 1 and 100 in length.")
        thread = self._thread_payload(tid=mid, parent=cid, name=name, owner=self.bot.id)
        self.channels[mid] = thread
        self._changed.set()
        await self.dispatch("THREAD_CREATE", {**thread, "newly_created": True})
        return self._json(thread, 201)

    async def _h_post_channels_channel_id_threads(self, request: web.Request, channel_id: str) -> web.Response:
        body, files = await self._read_body(request)
        cid = int(channel_id)
        tid = snowflake()
        thread = self._thread_payload(tid=tid, parent=cid, name=str(body.get("name", "")), owner=self.bot.id)
        self.channels[tid] = thread
        await self.dispatch("THREAD_CREATE", {**thread, "newly_created": True})
        msg = await self._create_message(tid, body.get("message") or {}, files)
        return self._json({**thread, "message": msg}, 201)

    async def _h_put_channels_channel_id_messages_message_id_reactions_emoji_me(
        self, request: web.Request, channel_id: str, message_id: str, emoji: str
    ) -> web.Response:
        from urllib.parse import unquote

        self.reactions.append((int(channel_id), int(message_id), unquote(emoji), self.bot.id))
        return web.Response(status=204)

    # interactions
    def _record_for_token(self, token: str) -> InteractionRecord | None:
        return next((r for r in self.interactions.values() if r.token == token), None)

    async def _h_post_interactions_interaction_id_token_callback(
        self, request: web.Request, interaction_id: str, token: str
    ) -> web.Response:
        record = self.interactions.get(int(interaction_id))
        if record is None or record.token != token:
            return self._error(404, 10062, "Unknown interaction")
        if record.responses:
            return self._error(400, 40060, "Interaction has already been acknowledged.")
        body, files = await self._read_body(request)
        kind = int(body["type"])
        data = body.get("data") or {}
        if kind == 9:
            try:
                check_modal(data)
            except Refused as exc:  # the interaction stays unanswered, as on Discord
                self.refusals.append(exc.message)
                return self._error(exc.status, exc.code, exc.message)
        elif kind in (4, 7):
            existing = None
            if kind == 7 and "message" in record.data:
                existing = self.messages.get(int(record.data["message"]["id"]))
            refused = self._check(data, files, existing=existing, create=kind == 4)
            if refused is not None:
                return refused
        record.responses.append(body)
        record.responded_at = time.monotonic()
        info: dict[str, Any] = {
            "id": str(record.id),
            "type": record.kind,
            "response_message_loading": kind == 5,
            "response_message_ephemeral": bool(int(data.get("flags") or 0) & 64),
        }
        result: dict[str, Any] = {"interaction": info}
        if kind in (4, 5):
            payload = dict(data)
            if kind == 5:
                payload = {"content": "", "flags": int(data.get("flags") or 0) | 128}
            msg = await self._create_message(record.channel_id, payload, files, webhook=True)
            msg["interaction_metadata"] = {"id": str(record.id), "type": record.kind, "user": record.user.payload()}
            record.original_id = int(msg["id"])
            info["response_message_id"] = msg["id"]
            result["resource"] = {"type": kind, "message": msg}
        elif kind == 7 and record.original_id is None and "message" in record.data:
            mid = int(record.data["message"]["id"])
            await self._edit(mid, data, files)
            result["resource"] = {"type": kind, "message": self.messages[mid]}
        self._changed.set()
        return self._json(result)

    async def _h_post_webhooks_application_id_token(
        self, request: web.Request, application_id: str, token: str
    ) -> web.Response:
        record = self._record_for_token(token)
        if record is None:
            return self._error(404, 10015, "Unknown Webhook")
        payload, files = await self._read_body(request)
        refused = self._check(payload, files, create=True)
        if refused is not None:
            return refused
        msg = await self._create_message(record.channel_id, payload, files, webhook=True)
        return self._json(msg)

    def _webhook_message_id(self, token: str, message_id: str) -> int | None:
        if message_id != "@original":
            return int(message_id)
        record = self._record_for_token(token)
        return record.original_id if record else None

    async def _h_patch_webhooks_application_id_token_messages_message_id(
        self, request: web.Request, application_id: str, token: str, message_id: str
    ) -> web.Response:
        mid = self._webhook_message_id(token, message_id)
        if mid is None:
            return self._error(404, 10008, "Unknown Message")
        payload, files = await self._read_body(request)
        msg = self.messages.get(mid)
        if msg is not None and msg["flags"] & 128:
            msg["flags"] &= ~128
        return await self._edit(mid, payload, files)

    async def _h_get_webhooks_application_id_token_messages_message_id(
        self, request: web.Request, application_id: str, token: str, message_id: str
    ) -> web.Response:
        mid = self._webhook_message_id(token, message_id)
        if mid is None or mid not in self.messages:
            return self._error(404, 10008, "Unknown Message")
        return self._json(self.messages[mid])

    async def _h_delete_webhooks_application_id_token_messages_message_id(
        self, request: web.Request, application_id: str, token: str, message_id: str
    ) -> web.Response:
        mid = self._webhook_message_id(token, message_id)
        if mid is not None:
            self.messages.pop(mid, None)
        return web.Response(status=204)

    # ------------------------------------------------------------------ the command line's client
    def find_user(self, who: str) -> FakeUser:
        """A member by name (alice, wendy, dana, mod, eve) or id."""
        for user in self.users.values():
            if who in (user.name, str(user.id)):
                return user
        raise LookupError(f"no member {who!r}; there are {', '.join(u.name for u in self.users.values())}")

    def find_channel(self, where: str) -> int:
        """A channel or thread by id, name (`general`, `#general`) or project number (`#3`, `3`: the
        thread draftloop named `#3 …`)."""
        key = where.strip()
        if key.isdigit() and int(key) in self.channels:
            return int(key)
        number = key.removeprefix("#")
        if number.isdigit():
            for cid, ch in self.channels.items():
                if ch["type"] == 11 and re.match(rf"#{number}(\s|$)", ch.get("name", "")):
                    return cid
            raise LookupError(f"no thread for project #{number} yet")
        for cid, ch in self.channels.items():
            if ch.get("name") == number:
                return cid
        names = ", ".join(c["name"] for c in self.channels.values() if c["type"] in (0, 15))
        raise LookupError(f"no channel {where!r}; there are {names}")

    def _describe(self, message: dict[str, Any]) -> dict[str, Any]:
        ch = self.channels.get(int(message["channel_id"]), {})
        return {
            "id": message["id"],
            "where": ch.get("name") or message["channel_id"],
            "author": message["author"]["username"],
            "content": text_of(message),
            "buttons": [b.get("label") for b in buttons(message)],
            "embeds": [e.get("title") for e in message.get("embeds") or []],
            "files": [a["filename"] for a in message.get("attachments") or []],
            "edits": self.edits[int(message["id"])],
        }

    @staticmethod
    def _refused(exc: LookupError) -> web.Response:
        return web.json_response({"error": str(exc.args[0])}, status=400)

    async def _user_message_http(self, request: web.Request) -> web.Response:
        body = await request.json()
        try:
            author = self.find_user(str(body.get("user") or self.alice.name))
            channel = self.find_channel(str(body.get("channel") or "general"))
        except LookupError as exc:
            return self._refused(exc)
        msg = await self.message(channel, author, str(body["text"]), mention=bool(body.get("mention")))
        return web.json_response(self._describe(msg))

    async def _click_http(self, request: web.Request) -> web.Response:
        body = await request.json()
        wanted = str(body["button"]).lower()
        try:
            user = self.find_user(str(body.get("user") or self.alice.name))
            channel = self.find_channel(str(body["thread"]))
        except LookupError as exc:
            return self._refused(exc)
        found = next(
            (
                (message, button)
                for message in reversed(self.bot_messages(channel))
                for button in buttons(message)
                if str(button.get("label", "")).lower().startswith(wanted)
            ),
            None,
        )
        if found is None:
            return self._refused(LookupError(f"no {body['button']!r} button in {body['thread']}"))
        message, button = found
        record = await self.click(user, message, str(button["custom_id"]))
        await self.wait_for(lambda: record.responses, timeout=10, what="the bot to answer the click")
        return web.json_response({"clicked": button.get("label"), "response_type": record.response_type})

    async def _state_http(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "counts": {f"{m} {route}": n for (m, route), n in sorted(self.counts().items())},
                "connected": self.connected,
                "messages": [self._describe(self.messages[m]) for m in self.order if m in self.messages],
            }
        )

    # ------------------------------------------------------------------ driving users
    async def message(
        self,
        channel_id: int,
        author: FakeUser,
        content: str,
        *,
        mention: bool = False,
        attachments: Iterable[tuple[str, bytes]] = (),
        reference: int | None = None,
    ) -> dict[str, Any]:
        """A user posts `content` in a channel or thread (with a bot mention in front when `mention`)."""
        if mention:
            content = f"<@{self.bot.id}> {content}".rstrip()
        mid = snowflake()
        msg = self._message_payload(channel_id=channel_id, author=author, content=content, mid=mid, reference=reference)
        msg["attachments"] = self._attachments(mid, {}, list(attachments))
        self._store(msg)
        await self.dispatch("MESSAGE_CREATE", msg)
        return msg

    async def edit_by_user(self, message: dict[str, Any], content: str) -> None:
        message["content"] = content
        message["edited_timestamp"] = _now()
        await self.dispatch("MESSAGE_UPDATE", message)

    async def forum_post(
        self, author: FakeUser, title: str, content: str, *, tags: Iterable[int] = ()
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """A member opens a post in the forum channel (with tags they chose): THREAD_CREATE then the
        starter MESSAGE_CREATE."""
        tid = snowflake()
        thread = self._thread_payload(tid=tid, parent=self.forum, name=title, owner=author.id)
        thread["applied_tags"] = [str(t) for t in tags]
        self.channels[tid] = thread
        await self.dispatch("THREAD_CREATE", {**thread, "newly_created": True})
        msg = self._message_payload(channel_id=tid, author=author, content=content, mid=tid)
        self._store(msg)
        await self.dispatch("MESSAGE_CREATE", msg)
        return thread, msg

    async def react(self, channel_id: int, message_id: int, user: FakeUser, emoji: str) -> None:
        self.reactions.append((channel_id, message_id, emoji, user.id))
        author = self.messages.get(message_id, {}).get("author", {}).get("id")
        data: dict[str, Any] = {
            "user_id": str(user.id),
            "channel_id": str(channel_id),
            "message_id": str(message_id),
            "guild_id": str(self.guild_id),
            "member": user.member(with_user=True),
            "emoji": {"id": None, "name": emoji},
            "burst": False,
            "type": 0,
        }
        if author:
            data["message_author_id"] = author
        await self.dispatch("MESSAGE_REACTION_ADD", data)

    def _channel_stub(self, channel_id: int) -> dict[str, Any]:
        ch = self.channels.get(channel_id, {"id": str(channel_id), "type": 0})
        return dict(ch)

    async def _interaction(
        self, kind: int, user: FakeUser, channel_id: int, data: dict[str, Any], message: dict[str, Any] | None = None
    ) -> InteractionRecord:
        record = InteractionRecord(
            id=snowflake(),
            token="tok-" + secrets.token_hex(12),
            kind=kind,
            channel_id=channel_id,
            user=user,
            data={"message": message} if message else {},
            created=time.monotonic(),
        )
        self.interactions[record.id] = record
        payload: dict[str, Any] = {
            "id": str(record.id),
            "application_id": str(self.application_id),
            "type": kind,
            "data": data,
            "guild_id": str(self.guild_id),
            "channel_id": str(channel_id),
            "channel": self._channel_stub(channel_id),
            "member": user.member(with_user=True),
            "token": record.token,
            "version": 1,
            "app_permissions": "2251799813685247",
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(self.guild_id)},
            "context": 0,
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        if message is not None:
            payload["message"] = message
        await self.dispatch("INTERACTION_CREATE", payload)
        return record

    def _command(self, name: str) -> dict[str, Any]:
        for cmd in self.guild_commands + self.commands:
            if cmd["name"] == name:
                return cmd
        raise AssertionError(f"command /{name} was never synced")

    async def slash(
        self,
        user: FakeUser,
        channel_id: int,
        name: str,
        options: dict[str, Any] | None = None,
        *,
        sub: str | None = None,
    ) -> InteractionRecord:
        """A member runs `/name [sub] option:value…` (the command must have been synced)."""
        cmd = self._command(name)
        opts = [{"name": k, "type": 3, "value": v} for k, v in (options or {}).items()]
        if sub is not None:
            opts = [{"name": sub, "type": 1, "options": opts}]
        data = {"id": cmd["id"], "name": name, "type": 1, "options": opts}
        if cmd in self.guild_commands:
            data["guild_id"] = str(self.guild_id)
        return await self._interaction(2, user, channel_id, data)

    async def click(self, user: FakeUser, message: dict[str, Any], custom_id: str) -> InteractionRecord:
        channel_id = int(message["channel_id"])
        return await self._interaction(3, user, channel_id, {"custom_id": custom_id, "component_type": 2}, message)

    async def submit_modal(
        self,
        user: FakeUser,
        channel_id: int,
        custom_id: str,
        values: dict[str, str],
        message: dict[str, Any] | None = None,
        *,
        opened_by: InteractionRecord | None = None,
    ) -> InteractionRecord:
        """A member submits a modal. With `opened_by` (the interaction the bot answered with that modal),
        the submission has the modal's own shape (labels, radio groups) and only what the form allows."""
        if opened_by is not None:
            modal = opened_by.responses[0]
            assert modal["type"] == 9, f"{opened_by.id} was not answered with a modal"
            assert modal["data"]["custom_id"] == custom_id, f"the modal is {modal['data']['custom_id']}"
            rows = submission(modal["data"], values)
        else:
            rows = [
                {"type": 1, "components": [{"type": 4, "custom_id": key, "value": value}]}
                for key, value in values.items()
            ]
        data = {"custom_id": custom_id, "components": rows}
        return await self._interaction(5, user, channel_id, data, message)


# ---------------------------------------------------------------------- command line
def _members(fake: FakeDiscord) -> str:
    def one(user: FakeUser) -> str:
        roles = [fake.roles[r] for r in user.roles]
        return f"{user.name} ({', '.join(roles)})" if roles else user.name

    return ", ".join(one(u) for u in fake.users.values() if not u.bot)


async def _serve(host: str, port: int) -> None:
    fake = FakeDiscord(host=host, port=port)
    await fake.start()
    print(f"fake Discord (REST and gateway) on {fake.url}", flush=True)
    print("  server Freelancers: #general, #requests and the forum #jobs", flush=True)
    print(f"  members: {_members(fake)}", flush=True)
    print("export the bot's side in the worker's shell:", flush=True)
    print(f"  export DISCORD_API_URL={fake.api_base}", flush=True)
    print(f"  export DISCORD_GATEWAY_URL={fake.gateway_url}", flush=True)
    print(f"  export DISCORD_TOKEN={fake.token}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await fake.stop()


async def _call(method: str, url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    import aiohttp

    try:
        async with aiohttp.ClientSession() as session, session.request(method, url, json=body) as resp:
            answer: dict[str, Any] = await resp.json()
    except aiohttp.ClientConnectionError:
        base = url.rsplit("/", 1)[0]
        print(f"no fake Discord at {base}; start one: python -m tests.fakes.discord_api serve", file=sys.stderr)
        raise SystemExit(1) from None
    if "error" in answer:
        print(f"fake Discord: {answer['error']}", file=sys.stderr)
        raise SystemExit(1)
    return answer


def _show(message: dict[str, Any]) -> str:
    text = message["content"] if len(message["content"]) <= 160 else message["content"][:160] + "…"
    extra = "".join(
        f" {label}: {', '.join(str(x) for x in items)}"
        for label, items in (("[buttons]", message["buttons"]), ("[embeds]", message["embeds"]))
        if items
    )
    files = f" [files] {', '.join(message['files'])}" if message["files"] else ""
    edits = f" (edited {message['edits']}×)" if message["edits"] else ""
    return f"[{message['where']}] {message['author']}: {text!r}{extra}{files}{edits}"


async def _say(args: argparse.Namespace) -> None:
    where = args.thread or args.channel
    mention = not args.thread if args.mention is None else args.mention
    body = {"channel": where, "user": args.user, "text": args.text, "mention": mention}
    message = await _call("POST", f"{args.fake}/_user_message", body)
    print(f"{message['author']} in {message['where']}: message {message['id']}")


async def _click(args: argparse.Namespace) -> None:
    body = {"thread": args.thread, "button": args.button, "user": args.user}
    answer = await _call("POST", f"{args.fake}/_click", body)
    print(f"{args.user} clicked {answer['clicked']} (interaction answered with type {answer['response_type']})")


async def _state(args: argparse.Namespace) -> None:
    state = await _call("GET", f"{args.fake}/_state")
    print(f"gateway connections: {state['connected']}")
    print("REST calls:", json.dumps(state["counts"], sort_keys=True))
    for message in state["messages"]:
        print(_show(message))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakes.discord_api",
        description="A fake Discord (REST API and gateway) on 127.0.0.1 for `draftloop worker`, and a client for it",
    )
    sub = parser.add_subparsers(dest="cmd")
    serve = sub.add_parser("serve", help="run the fake (default) and print the variables to export")
    serve.add_argument("--port", type=int, default=8091)
    serve.add_argument("--host", default="127.0.0.1")
    fake_url = "http://127.0.0.1:8091"
    say = sub.add_parser("say", help="post a message as a member (a mention of the bot outside threads)")
    say.add_argument("text")
    say.add_argument("--fake", default=fake_url)
    say.add_argument("--user", default="alice", help="alice, wendy (Writers), dana (Analysts), mod (Moderators), eve")
    say.add_argument("--channel", default="general", help="general, requests (or a channel id)")
    say.add_argument("--thread", help="reply in a project's thread: its number (#1, 1) or the thread id")
    say.add_argument(
        "--mention",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="mention the bot (default: outside threads)",
    )
    click = sub.add_parser("click", help="click a button (Accept, Reject) on the bot's latest message in a thread")
    click.add_argument("button", help="the label's start: accept, reject, request")
    click.add_argument("--thread", required=True, help="the project's number (#1, 1) or the thread id")
    click.add_argument("--user", default="alice")
    click.add_argument("--fake", default=fake_url)
    state = sub.add_parser("state", help="print what happened: REST calls per route, then every message")
    state.add_argument("--fake", default=fake_url)
    args = parser.parse_args(argv)
    if args.cmd in ("say", "click", "state"):
        run = {"say": _say, "click": _click, "state": _state}[args.cmd]
        asyncio.run(run(args))
        return
    serve_until_interrupted(
        _serve(getattr(args, "host", "127.0.0.1"), getattr(args, "port", 8091)), name="fake Discord"
    )


if __name__ == "__main__":
    main()
