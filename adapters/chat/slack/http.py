"""The HTTP edge of `POST /slack/events`: authenticate on the raw bytes first, then parse, then bolt.

Order, cheapest refusal first, so an unauthenticated sender costs a few header lookups:
1. headers: `X-Slack-Request-Timestamp` is digits within 5 minutes of now, `X-Slack-Signature` is
   `v0=` and 64 hex digits, each given once; else 401 without reading the body.
2. size: a declared Content-Length over `MAX_BODY` is 413 without reading the body.
3. at most `readers` bodies are read at once (excess waits `queue_wait`, then 503); each read is
   streamed and stops one byte past `MAX_BODY` (413), within `read_timeout` (408).
4. the HMAC-SHA256 of `v0:{ts}:{body}` over the raw bytes, compared in constant time; else 401.
5. only now parse and check the shape (adapters/chat/slack/shapes.py): a wrong shape is 400 with
   `X-Slack-No-Retry: 1`, since Slack retrying the same body cannot help.

`MAX_BODY` is 1 MiB. Slack's largest deliveries are message events and message shortcuts carrying
a user's message: up to 40,000 characters of text (Slack's documented limit) repeated in its
rich_text blocks, with non-ASCII JSON-escaped as \\uXXXX (6 bytes) and, for shortcuts, url-encoded
once more: about 0.5-0.65 MB. 256 KiB would refuse a long non-Latin message; 1 MiB leaves room,
and with `readers` = 16 bodies in flight, unauthenticated reads hold at most ~16 MiB.

Unauthenticated refusals are not worth a line each (anyone can send them): the first is logged at
once, then at most one summary per `interval` with counts per reason; no body, no header values.
Slack's `ssl_check` probe of a slash command URL is the one unsigned request answered 200: a tiny
form holding only `ssl_check=1` (and the legacy `token`), never dispatched.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from adapters.chat.slack.json_shapes import Malformed
from adapters.chat.slack.shapes import FORM_TYPE, Parsed, media_type, parse

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024
TOLERANCE_S = 300  # Slack's own window for X-Slack-Request-Timestamp
SSL_CHECK_MAX = 256
# What the process holds under a flood is mostly not the edge's reads but the transport's: aiohttp
# buffers up to 2 x read_bufsize of a body before it pauses the socket, and asyncio's selector
# transport takes up to 256 KiB per recv. Smaller figures for both kept 400 concurrent 1.9 MB
# posts at ~1.4x the idle RSS instead of ~2.8x (benchmarks/bench_edge.py).
SERVER_OPTIONS: dict[str, Any] = {"read_bufsize": 16 * 1024}
RECV_SIZE = 64 * 1024
_STAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")


@dataclass(frozen=True)
class EdgeLimits:
    max_body: int = MAX_BODY
    readers: int = 16
    waiting: int = 32  # requests that may wait for a reader; beyond that, 503 at once
    queue_wait: float = 1.0
    read_timeout: float = 3.0  # Slack gives up on a delivery after 3 s anyway
    log_interval: float = 60.0


@dataclass(frozen=True)
class Verified:
    """A request whose signature and shape were checked; only `SlackEdge` makes one."""

    parsed: Parsed


Dispatch = Callable[[web.Request, Verified], Awaitable[web.StreamResponse]]


class _Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class Refusals:
    """Counts refused unauthenticated requests; lines at least `interval` apart, counts only."""

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.clock = clock
        self.counts: Counter[str] = Counter()
        self.total = 0
        self._last_line: float | None = None
        self._timer: asyncio.TimerHandle | None = None

    def add(self, reason: str) -> None:
        self.total += 1
        now = self.clock()
        if self._timer is None and (self._last_line is None or now - self._last_line >= self.interval):
            self._last_line = now
            log.warning(
                "slack: refused a request (%s); further refusals are summed up every %d s", reason, self.interval
            )
            return
        self.counts[reason] += 1
        if self._timer is None:
            assert self._last_line is not None
            delay = max(0.0, self._last_line + self.interval - now)
            self._timer = asyncio.get_running_loop().call_later(delay, self.flush)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self.counts:
            return
        now = self.clock()
        since = now - self._last_line if self._last_line is not None else 0.0
        detail = ", ".join(f"{reason} {n}" for reason, n in self.counts.most_common())
        log.warning(
            "slack: refused %d unsigned/stale/malformed requests in the last %d s (%s)",
            sum(self.counts.values()),
            round(since),
            detail,
        )
        self.counts.clear()
        self._last_line = now


def header_problem(request: web.Request, now: float) -> str | None:
    """Why the signature headers cannot be right, before any byte of the body is read."""
    stamps = request.headers.getall("X-Slack-Request-Timestamp", [])
    signatures = request.headers.getall("X-Slack-Signature", [])
    if not stamps and not signatures:
        return "unsigned"
    if len(stamps) != 1 or len(signatures) != 1:
        return "malformed signature headers"
    if not _STAMP.fullmatch(stamps[0]) or not _SIGNATURE.fullmatch(signatures[0]):
        return "malformed signature headers"
    if abs(now - int(stamps[0])) > TOLERANCE_S:
        return "stale timestamp"
    return None


def signature_matches(secret: bytes, stamp: str, body: bytes, signature: str) -> bool:
    base = b"v0:" + stamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret, base, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), signature.encode())


class SlackEdge:
    """The aiohttp handler for /slack/events; `dispatch` sees only `Verified` requests."""

    def __init__(self, secret: str, dispatch: Dispatch, limits: EdgeLimits | None = None) -> None:
        self.secret = secret.encode()
        self.dispatch = dispatch
        self.limits = limits or EdgeLimits()
        self.refusals = Refusals(self.limits.log_interval)
        self._readers = asyncio.Semaphore(self.limits.readers)
        self.reading = 0  # bodies being read right now (tests and benchmarks watch it)
        self.waiting = 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        _small_recvs(request)
        try:
            raw = await self._verify(request)
        except _Refused as refused:
            self.refusals.add(refused.reason)
            return _refusal(refused.status, refused.reason)
        if raw is None:  # Slack's unsigned ssl_check probe
            return web.Response(status=200, text="")
        try:
            parsed = parse(raw, request.headers.get("Content-Type"))
        except Malformed as exc:
            # Signed, so it came from Slack (or the secret leaked): worth a line, without the body.
            log.warning("slack: refused a signed request of the wrong shape (%s)", exc)
            return web.json_response({"error": "malformed request"}, status=400, headers={"X-Slack-No-Retry": "1"})
        if parsed.kind == "ssl_check":
            return web.Response(status=200, text="")
        return await self.dispatch(request, Verified(parsed))

    async def _verify(self, request: web.Request) -> bytes | None:
        """The raw body once its signature is right; None for an ssl_check probe; else _Refused."""
        problem = header_problem(request, time.time())
        if problem == "unsigned" and await self._ssl_check(request):
            return None
        if problem is not None:
            raise _Refused(401, problem)
        length = request.content_length
        if length is not None and length > self.limits.max_body:
            raise _Refused(413, "too large")
        body = await self._read(request, self.limits.max_body)
        stamp = request.headers["X-Slack-Request-Timestamp"]
        if not signature_matches(self.secret, stamp, body, request.headers["X-Slack-Signature"]):
            raise _Refused(401, "bad signature")
        return body

    async def _read(self, request: web.Request, limit: int) -> bytes:
        # A waiting request holds what its connection has buffered so far, so waiters are bounded too.
        if self._readers.locked() and self.waiting >= self.limits.waiting:
            raise _Refused(503, "busy")
        self.waiting += 1
        try:
            async with asyncio.timeout(self.limits.queue_wait):
                await self._readers.acquire()
        except TimeoutError:
            raise _Refused(503, "busy") from None
        finally:
            self.waiting -= 1
        self.reading += 1
        try:
            async with asyncio.timeout(self.limits.read_timeout):
                return await _read_at_most(request, limit)
        except TimeoutError:
            raise _Refused(408, "slow body") from None
        except (HttpProcessingError, OSError):
            raise _Refused(400, "broken body") from None
        finally:
            self.reading -= 1
            self._readers.release()

    async def _ssl_check(self, request: web.Request) -> bool:
        """An unsigned `ssl_check=1` probe: a tiny form with nothing else in it."""
        length = request.content_length
        if media_type(request.headers.get("Content-Type"))[0] != FORM_TYPE or length is None:
            return False
        if length > SSL_CHECK_MAX:
            return False
        try:
            async with asyncio.timeout(self.limits.read_timeout):
                raw = await _read_at_most(request, SSL_CHECK_MAX)
            fields = parse_qs(raw.decode("ascii"), keep_blank_values=True, max_num_fields=2)
        except (_Refused, TimeoutError, HttpProcessingError, OSError, ValueError):
            return False
        return fields.get("ssl_check") == ["1"] and set(fields) <= {"ssl_check", "token"}

    def close(self) -> None:
        self.refusals.flush()


async def _read_at_most(request: web.Request, limit: int) -> bytes:
    """The body, streamed; refused as soon as it passes `limit` (nothing past it is kept)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.readany()
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            raise _Refused(413, "too large")
        chunks.append(chunk)


def _small_recvs(request: web.Request) -> None:
    """Read this connection in RECV_SIZE pieces (the rest of its body, or what is drained after a refusal)."""
    transport = request.transport
    # `max_size` is the per-recv size of asyncio's selector transport; other loops lack it.
    if transport is not None and getattr(transport, "max_size", 0) > RECV_SIZE:
        try:
            transport.max_size = RECV_SIZE  # type: ignore[attr-defined]
        except AttributeError:
            pass


def _refusal(status: int, reason: str) -> web.Response:
    headers: dict[str, Any] = {}
    if status in (400, 413):
        headers["X-Slack-No-Retry"] = "1"  # the same bytes would be refused again
    if status == 503:
        headers["Retry-After"] = "1"
    resp = web.json_response({"error": reason}, status=status, headers=headers)
    resp.force_close()  # the body may be unread: do not reuse the connection
    return resp
