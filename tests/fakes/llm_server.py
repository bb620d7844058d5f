"""A local fake of three model APIs on 127.0.0.1, for the real `openai` and `anthropic` SDKs.

Speaks OpenAI Chat Completions (`POST /v1/chat/completions`), the OpenAI Responses API
(`POST /v1/responses`), Anthropic Messages (`POST /v1/messages`) and `GET /v1/models`, as JSON
or as server-sent events, with usage figures. Point the SDKs at it with
`AsyncOpenAI(base_url=server.openai_base_url)` / `AsyncAnthropic(base_url=server.anthropic_base_url)`.

Faults are queued per model (or for any model) and consumed one per request:

    server.inject(Fault.rate_limit(retry_after=0.05), model="gpt-x")        # next call: 429
    server.inject(Fault.status(503), model="gpt-x", times=None)             # every call: 503
    server.inject(Fault.break_stream(after_chunks=2))                       # next stream dies half-way

Every request is logged (`server.log`) with its body, headers, and timing, and the server keeps
the highest number of concurrent requests it saw per model (`server.max_in_flight`), which is
how tests check per-agent concurrency limits without timing anything.

A capacity, like a provider's concurrency limit, answers 429 at once to a request that would be
one more than N in flight for its model (it is logged with fault "capacity" and is not counted in
`in_flight`); its retry-after is when the earliest running request is due to end, unless fixed:

    FakeLLMServer(capacity=20)                      # every model
    server.capacity_by_model["gpt-x"] = 5           # one model

Standalone, for manual runs and the chat benchmarks:

    python -m tests.fakes.llm_server --port 8089 --latency 2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import web

from tests.fakes.loopback import LoopbackServer

FaultKind = Literal[
    "status",  # an HTTP error status with the provider's error body (5xx, 4xx)
    "rate_limit",  # 429 with retry-after / retry-after-ms
    "overloaded",  # Anthropic 529 overloaded_error (OpenAI routes: 503)
    "break_stream",  # send some chunks, then drop the connection
    "stream_error",  # send some chunks, then an in-band error event (Anthropic: overloaded)
    "stall",  # wait `seconds` before answering (for client time-outs)
    "empty",  # a well-formed answer with no text
    "refusal",  # the model declines
]


@dataclass
class Fault:
    kind: FaultKind
    status: int = 500
    retry_after: float | None = None
    retry_after_ms: int | None = None
    seconds: float = 30.0
    after_chunks: int = 2
    message: str = ""

    @classmethod
    def http(cls, status: int, message: str = "") -> Fault:
        return cls("status", status=status, message=message)

    @classmethod
    def rate_limit(cls, retry_after: float | None = None, retry_after_ms: int | None = None) -> Fault:
        return cls("rate_limit", status=429, retry_after=retry_after, retry_after_ms=retry_after_ms)

    @classmethod
    def overloaded(cls) -> Fault:
        return cls("overloaded", status=529)

    @classmethod
    def break_stream(cls, after_chunks: int = 2) -> Fault:
        return cls("break_stream", after_chunks=after_chunks)

    @classmethod
    def stream_error(cls, after_chunks: int = 2) -> Fault:
        return cls("stream_error", after_chunks=after_chunks)

    @classmethod
    def stall(cls, seconds: float = 30.0) -> Fault:
        return cls("stall", seconds=seconds)

    @classmethod
    def empty(cls) -> Fault:
        return cls("empty")

    @classmethod
    def refusal(cls, message: str = "I can't help with that request.") -> Fault:
        return cls("refusal", message=message)


@dataclass
class LoggedRequest:
    api: Literal["chat", "responses", "messages", "models"]
    model: str
    stream: bool
    body: dict[str, Any]
    headers: dict[str, str]
    started: float
    ended: float = 0.0
    status: int = 0
    fault: str = ""
    peer: str = ""  # the client's address: one per TCP connection, so a test can see keep-alive at work

    @property
    def prompt_text(self) -> str:
        return _prompt_text(self.api, self.body)


@dataclass
class _Queued:
    fault: Fault
    times: int | None  # None: forever


@dataclass
class _Answer:
    text: str
    input_tokens: int
    cached_tokens: int
    cache_write_tokens: int
    output_tokens: int


def _tokens(text: str) -> int:
    """A deterministic stand-in for a tokenizer: about four characters per token."""
    return max(1, (len(text) + 3) // 4) if text else 0


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for block in content:
            if isinstance(block, dict):
                parts.append(str(block.get("text", "")))
        return "".join(parts)
    return ""


def _prompt_text(api: str, body: dict[str, Any]) -> str:
    parts: list[str] = []
    if api == "messages":
        parts.append(_content_text(body.get("system", "")))
        for message in body.get("messages", []):
            parts.append(_content_text(message.get("content", "")))
    elif api == "responses":
        parts.append(str(body.get("instructions") or ""))
        raw = body.get("input", "")
        if isinstance(raw, str):
            parts.append(raw)
        else:
            for message in raw:
                parts.append(_content_text(message.get("content", "")))
    else:
        for message in body.get("messages", []):
            parts.append(_content_text(message.get("content", "")))
    return "\n".join(p for p in parts if p)


def _last_user_text(api: str, body: dict[str, Any]) -> str:
    messages = body.get("input") if api == "responses" else body.get("messages")
    if isinstance(messages, str):
        return messages
    for message in reversed(messages or []):
        if message.get("role") == "user":
            return _content_text(message.get("content", ""))
    return ""


def default_reply(model: str, prompt: str) -> str:
    """A deterministic Markdown draft derived from the request, so tests can compute what to expect.

    It names the first line of the brief, and when the prompt carries feedback points marked
    `[NEW]` (a revision prompt), it ends with a "Changes" section that takes each of them up.
    """
    lines = [line.strip() for line in prompt.splitlines() if line.strip()]
    first = next((line for line in lines if not line.startswith("#")), "the request")
    new_points = [line.split("[NEW]", 1)[1].strip(" :") for line in lines if "[NEW]" in line]
    text = (
        f"# Draft by {model}\n\n"
        f"This deliverable answers: {first[:200]}\n\n"
        "1. Scope and assumptions are stated.\n"
        "2. The main content follows, complete and ready to use.\n"
        "3. Open questions are listed at the end.\n"
    )
    if new_points:
        text += "\n## Changes\n\n" + "".join(f"- Took up: {point[:200]}\n" for point in new_points)
    return text


def _is_text_delta(event: str, data: Any) -> bool:
    if event in ("content_block_delta", "response.output_text.delta"):
        return True
    if event == "" and isinstance(data, dict) and data.get("choices"):
        return bool(data["choices"][0].get("delta", {}).get("content"))
    return False


class FakeLLMServer(LoopbackServer):
    """The fake. Use as `async with FakeLLMServer() as server:` or `await start()` / `await stop()`."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency: float = 0.0,
        chunk_delay: float = 0.0,
        chunk_words: int = 3,
        reply: Callable[[str, str], str] | None = None,
        api_key: str | None = None,
        capacity: int | None = None,
        capacity_retry_after: float | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.latency = latency  # seconds before the first byte of every answer
        self.latency_by_model: dict[str, float] = {}
        self.chunk_delay = chunk_delay  # seconds between streamed chunks
        self.chunk_words = chunk_words
        self.reply = reply or default_reply  # (model, last user message) -> text
        self.api_key = api_key  # when set, other keys get 401
        self.capacity = capacity  # requests in flight per model beyond which a request gets 429; None: no limit
        self.capacity_by_model: dict[str, int] = {}
        self.capacity_retry_after = capacity_retry_after  # None: until the earliest running request is due
        self._due: dict[str, list[float]] = defaultdict(list)  # per model, when each running request ends
        self.log: list[LoggedRequest] = []
        self.in_flight: dict[str, int] = defaultdict(int)
        self.max_in_flight: dict[str, int] = defaultdict(int)
        self._faults: dict[str | None, list[_Queued]] = defaultdict(list)
        self._seen_prefixes: set[str] = set()
        self._runner: web.AppRunner | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/responses", self._responses)
        app.router.add_post("/v1/messages", self._messages)
        app.router.add_get("/v1/models", self._models)
        return app

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.url

    # -- scripting -------------------------------------------------------------------------------

    def inject(self, fault: Fault, *, model: str | None = None, times: int | None = 1) -> None:
        """Queue `fault` for the next `times` requests for `model` (None: any model; times None: forever)."""
        self._faults[model].append(_Queued(fault, times))

    def clear_faults(self) -> None:
        self._faults.clear()

    def requests(self, *, model: str | None = None, api: str | None = None) -> list[LoggedRequest]:
        return [r for r in self.log if (model is None or r.model == model) and (api is None or r.api == api)]

    def _take_fault(self, model: str) -> Fault | None:
        for key in (model, None):
            queue = self._faults.get(key)
            if not queue:
                continue
            head = queue[0]
            if head.times is not None:
                head.times -= 1
                if head.times <= 0:
                    queue.pop(0)
            return head.fault
        return None

    # -- handlers --------------------------------------------------------------------------------

    async def _models(self, request: web.Request) -> web.StreamResponse:
        entry = LoggedRequest("models", "", False, {}, dict(request.headers), time.monotonic())
        self.log.append(entry)
        denied = self._check_key(request, "models")
        entry.ended = time.monotonic()
        if denied is not None:
            entry.status = denied.status
            return denied
        entry.status = 200
        return web.json_response(
            {
                "object": "list",
                "data": [{"id": "fake-model", "object": "model", "created": 0, "owned_by": "fake"}],
                "has_more": False,
                "first_id": "fake-model",
                "last_id": "fake-model",
            }
        )

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        return await self._handle(request, "chat")

    async def _responses(self, request: web.Request) -> web.StreamResponse:
        return await self._handle(request, "responses")

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        return await self._handle(request, "messages")

    def _check_key(self, request: web.Request, api: str) -> web.Response | None:
        if self.api_key is None:
            return None
        auth = request.headers.get("Authorization", "")
        key = auth.removeprefix("Bearer ").strip() or request.headers.get("x-api-key", "")
        if key == self.api_key:
            return None
        return self._error_response(api, 401, "authentication_error", "invalid api key")

    async def _handle(self, request: web.Request, api: Literal["chat", "responses", "messages"]) -> web.StreamResponse:
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return self._error_response(api, 400, "invalid_request_error", "body is not JSON")
        model = str(body.get("model", ""))
        stream = bool(body.get("stream", False))
        entry = LoggedRequest(api, model, stream, body, dict(request.headers), time.monotonic())
        entry.peer = str(request.transport.get_extra_info("peername") if request.transport else "")
        self.log.append(entry)
        delay = self.latency_by_model.get(model, self.latency)
        full = self._over_capacity(api, model, entry.started)
        if full is not None:
            entry.fault, entry.status, entry.ended = "capacity", full.status, time.monotonic()
            return full
        due = entry.started + delay
        self._due[model].append(due)
        self.in_flight[model] += 1
        self.max_in_flight[model] = max(self.max_in_flight[model], self.in_flight[model])
        try:
            denied = self._check_key(request, api)
            if denied is not None:
                entry.status = denied.status
                return denied
            fault = self._take_fault(model)
            entry.fault = fault.kind if fault else ""
            if fault is not None and fault.kind == "stall":
                delay = max(delay, fault.seconds)
            if delay:
                await asyncio.sleep(delay)
            if fault is not None and fault.kind in ("status", "rate_limit", "overloaded"):
                response = self._fault_response(api, fault)
                entry.status = response.status
                return response
            answer = self._answer(api, model, body, fault)
            if not stream:
                entry.status = 200
                return web.json_response(self._json_body(api, model, answer, fault))
            entry.status = 200
            return await self._stream(request, api, model, answer, fault)
        finally:
            self.in_flight[model] -= 1
            self._due[model].remove(due)
            entry.ended = time.monotonic()

    def _over_capacity(self, api: str, model: str, now: float) -> web.Response | None:
        """A 429 when `model` already has its capacity of requests in flight, else None."""
        capacity = self.capacity_by_model.get(model, self.capacity)
        if capacity is None or self.in_flight[model] < capacity:
            return None
        after = self.capacity_retry_after
        if after is None:
            after = max(0.0, min(self._due[model], default=now) - now)
        # as OpenAI does: milliseconds, and whole seconds for clients that read only `retry-after`
        headers = {"retry-after-ms": str(round(after * 1000)), "retry-after": str(math.ceil(after))}
        kind = "rate_limit_error" if api == "messages" else "rate_limit_exceeded"
        return self._error_response(api, 429, kind, "too many requests in flight, slow down", headers)

    # -- answers ---------------------------------------------------------------------------------

    def _answer(self, api: str, model: str, body: dict[str, Any], fault: Fault | None) -> _Answer:
        prompt = _prompt_text(api, body)
        text = ""
        if fault is None or fault.kind in ("break_stream", "stream_error", "stall"):
            text = self.reply(model, _last_user_text(api, body) or prompt)
        cached = 0
        cache_write = 0
        prefix = self._cacheable_prefix(api, body)
        if prefix:
            if prefix in self._seen_prefixes:
                cached = _tokens(prefix)
            else:
                cache_write = _tokens(prefix)
                self._seen_prefixes.add(prefix)
        total_in = _tokens(prompt)
        return _Answer(text, total_in, min(cached, total_in), cache_write, _tokens(text))

    @staticmethod
    def _cacheable_prefix(api: str, body: dict[str, Any]) -> str:
        """Anthropic: text up to the last cache_control marker; OpenAI: automatic, 1024+ tokens."""
        if api == "messages":
            prefix: list[str] = []
            marked = ""
            system = body.get("system", "")
            blocks: list[Any] = list(system) if isinstance(system, list) else [{"text": system}]
            for message in body.get("messages", []):
                content = message.get("content", "")
                blocks += content if isinstance(content, list) else [{"text": content}]
            for block in blocks:
                if not isinstance(block, dict):
                    continue
                prefix.append(str(block.get("text", "")))
                if block.get("cache_control"):
                    marked = "".join(prefix)
            return marked
        prompt = _prompt_text(api, body)
        return prompt[:4096] if len(prompt) >= 4096 else ""

    def _json_body(self, api: str, model: str, answer: _Answer, fault: Fault | None) -> dict[str, Any]:
        refusal = fault.message if fault is not None and fault.kind == "refusal" else None
        if api == "chat":
            return {
                "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {
                            "role": "assistant",
                            "content": None if refusal else answer.text,
                            "refusal": refusal,
                        },
                    }
                ],
                "usage": self._chat_usage(answer),
            }
        if api == "responses":
            response = self._response_object(model, answer, refusal)
            return response
        return {
            "id": f"msg_{uuid.uuid4().hex[:12]}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [] if (refusal or not answer.text) else [{"type": "text", "text": answer.text}],
            "stop_reason": "refusal" if refusal else "end_turn",
            "stop_sequence": None,
            "usage": self._anthropic_usage(answer),
        }

    @staticmethod
    def _chat_usage(answer: _Answer) -> dict[str, Any]:
        return {
            "prompt_tokens": answer.input_tokens,
            "completion_tokens": answer.output_tokens,
            "total_tokens": answer.input_tokens + answer.output_tokens,
            "prompt_tokens_details": {"cached_tokens": answer.cached_tokens},
            "completion_tokens_details": {"reasoning_tokens": 0},
        }

    @staticmethod
    def _anthropic_usage(answer: _Answer) -> dict[str, Any]:
        # Anthropic's input_tokens counts only the uncached part of the prompt.
        return {
            "input_tokens": max(0, answer.input_tokens - answer.cached_tokens - answer.cache_write_tokens),
            "output_tokens": answer.output_tokens,
            "cache_creation_input_tokens": answer.cache_write_tokens,
            "cache_read_input_tokens": answer.cached_tokens,
        }

    @staticmethod
    def _response_object(model: str, answer: _Answer, refusal: str | None, status: str = "completed") -> dict[str, Any]:
        part: dict[str, Any]
        if refusal:
            part = {"type": "refusal", "refusal": refusal}
        else:
            part = {"type": "output_text", "text": answer.text, "annotations": []}
        output = [{"type": "message", "id": "msg_1", "role": "assistant", "status": "completed", "content": [part]}]
        return {
            "id": f"resp_{uuid.uuid4().hex[:12]}",
            "object": "response",
            "created_at": int(time.time()),
            "status": status,
            "model": model,
            "output": output if status == "completed" else [],
            "parallel_tool_calls": False,
            "tool_choice": "auto",
            "tools": [],
            "usage": {
                "input_tokens": answer.input_tokens,
                "input_tokens_details": {"cached_tokens": answer.cached_tokens},
                "output_tokens": answer.output_tokens,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": answer.input_tokens + answer.output_tokens,
            },
        }

    # -- errors ----------------------------------------------------------------------------------

    @staticmethod
    def _error_response(
        api: str, status: int, kind: str, message: str, headers: dict[str, str] | None = None
    ) -> web.Response:
        if api == "messages":
            body: dict[str, Any] = {
                "type": "error",
                "error": {"type": kind, "message": message},
                "request_id": f"req_{uuid.uuid4().hex[:8]}",
            }
        else:
            body = {"error": {"message": message, "type": kind, "param": None, "code": kind}}
        return web.json_response(body, status=status, headers=headers)

    def _fault_response(self, api: str, fault: Fault) -> web.Response:
        if fault.kind == "rate_limit":
            headers = {}
            if fault.retry_after is not None:
                headers["retry-after"] = f"{fault.retry_after:g}"
            if fault.retry_after_ms is not None:
                headers["retry-after-ms"] = str(fault.retry_after_ms)
            kind = "rate_limit_error" if api == "messages" else "rate_limit_exceeded"
            return self._error_response(api, 429, kind, "rate limit reached, slow down", headers)
        if fault.kind == "overloaded":
            if api == "messages":
                return self._error_response(api, 529, "overloaded_error", "Overloaded")
            return self._error_response(api, 503, "server_error", "The engine is currently overloaded")
        status = fault.status
        kinds = {
            400: "invalid_request_error",
            401: "authentication_error",
            403: "permission_error",
            404: "not_found_error",
        }
        kind = kinds.get(status, "api_error" if status >= 500 else "invalid_request_error")
        return self._error_response(api, status, kind, fault.message or f"fake error {status}")

    # -- streaming -------------------------------------------------------------------------------

    def _chunks(self, text: str) -> list[str]:
        words = text.split(" ")
        n = max(1, self.chunk_words)
        return [" ".join(words[i : i + n]) + (" " if i + n < len(words) else "") for i in range(0, len(words), n)]

    async def _stream(
        self, request: web.Request, api: str, model: str, answer: _Answer, fault: Fault | None
    ) -> web.StreamResponse:
        response = web.StreamResponse(
            status=200, headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        refusal = fault.message if fault is not None and fault.kind == "refusal" else None
        chunks = self._chunks(answer.text) if answer.text else []
        cut = fault.after_chunks if fault is not None and fault.kind in ("break_stream", "stream_error") else None
        writer = {
            "chat": self._chat_events,
            "responses": self._responses_events,
            "messages": self._messages_events,
        }[api]
        events = writer(model, answer, chunks, refusal, cut)
        first_delta = next((i for i, (e, d) in enumerate(events) if _is_text_delta(e, d)), len(events))
        for i, (event, data) in enumerate(events):
            if cut is not None and i >= first_delta + cut:
                break
            frame = (
                f"event: {event}\n" if event else ""
            ) + f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n"
            await response.write(frame.encode())
            if self.chunk_delay:
                await asyncio.sleep(self.chunk_delay)
        if fault is not None and fault.kind == "break_stream":
            # Drop the connection in the middle of a chunked body: the client sees a broken stream.
            if request.transport is not None:
                request.transport.abort()
            return response
        if fault is not None and fault.kind == "stream_error":
            if api == "messages":
                error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
                await response.write(f"event: error\ndata: {json.dumps(error)}\n\n".encode())
            else:
                error = {"error": {"message": "The server had an error", "type": "server_error", "code": None}}
                await response.write(f"data: {json.dumps(error)}\n\n".encode())
        await response.write_eof()
        return response

    def _chat_events(
        self, model: str, answer: _Answer, chunks: list[str], refusal: str | None, cut: int | None
    ) -> list[tuple[str, Any]]:
        base = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
        }

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], "usage": None}

        events: list[tuple[str, Any]] = [("", chunk({"role": "assistant", "content": ""}))]
        if refusal:
            events.append(("", chunk({"refusal": refusal})))
        events += [("", chunk({"content": piece})) for piece in chunks]
        events.append(("", chunk({}, "stop")))
        events.append(("", {**base, "choices": [], "usage": self._chat_usage(answer)}))
        events.append(("", "[DONE]"))
        return events

    def _responses_events(
        self, model: str, answer: _Answer, chunks: list[str], refusal: str | None, cut: int | None
    ) -> list[tuple[str, Any]]:
        seq = iter(range(10_000))
        final = self._response_object(model, answer, refusal)
        pending = {**final, "status": "in_progress", "output": [], "usage": None}
        item = {"type": "message", "id": "msg_1", "role": "assistant", "status": "in_progress", "content": []}
        events: list[tuple[str, Any]] = []

        def add(kind: str, **data: Any) -> None:
            events.append((kind, {"type": kind, "sequence_number": next(seq), **data}))

        add("response.created", response=pending)
        add("response.in_progress", response=pending)
        add("response.output_item.added", output_index=0, item=item)
        part = {"type": "refusal", "refusal": ""} if refusal else {"type": "output_text", "text": "", "annotations": []}
        add("response.content_part.added", item_id="msg_1", output_index=0, content_index=0, part=part)
        if refusal:
            add("response.refusal.delta", item_id="msg_1", output_index=0, content_index=0, delta=refusal)
            add("response.refusal.done", item_id="msg_1", output_index=0, content_index=0, refusal=refusal)
        for piece in chunks:
            add(
                "response.output_text.delta",
                item_id="msg_1",
                output_index=0,
                content_index=0,
                delta=piece,
                logprobs=[],
            )
        if not refusal:
            add(
                "response.output_text.done",
                item_id="msg_1",
                output_index=0,
                content_index=0,
                text=answer.text,
                logprobs=[],
            )
        add(
            "response.content_part.done",
            item_id="msg_1",
            output_index=0,
            content_index=0,
            part=final["output"][0]["content"][0],
        )
        add("response.output_item.done", output_index=0, item=final["output"][0])
        add("response.completed", response=final)
        return events

    def _messages_events(
        self, model: str, answer: _Answer, chunks: list[str], refusal: str | None, cut: int | None
    ) -> list[tuple[str, Any]]:
        usage = self._anthropic_usage(answer)
        start_usage = {**usage, "output_tokens": 1}
        message = {
            "id": f"msg_{uuid.uuid4().hex[:12]}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": start_usage,
        }
        events: list[tuple[str, Any]] = [("message_start", {"type": "message_start", "message": message})]
        if chunks:
            events.append(
                (
                    "content_block_start",
                    {
                        "type": "content_block_start",
                        "index": 0,
                        "content_block": {"type": "text", "text": ""},
                    },
                )
            )
            events.append(("ping", {"type": "ping"}))
            events += [
                (
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": 0,
                        "delta": {"type": "text_delta", "text": piece},
                    },
                )
                for piece in chunks
            ]
            events.append(("content_block_stop", {"type": "content_block_stop", "index": 0}))
        events.append(
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "refusal" if refusal else "end_turn", "stop_sequence": None},
                    "usage": {"output_tokens": usage["output_tokens"]},
                },
            )
        )
        events.append(("message_stop", {"type": "message_stop"}))
        return events


def parse_fault(text: str) -> tuple[str | None, Fault]:
    """`MODEL=KIND` or `KIND` (any model). KIND: a status (429, 500, 503, 529…), overloaded,
    break, stream-error, stall, empty or refusal."""
    model, _, kind = text.rpartition("=")
    kinds: dict[str, Callable[[], Fault]] = {
        "429": lambda: Fault.rate_limit(retry_after=1),
        "overloaded": Fault.overloaded,
        "529": Fault.overloaded,
        "break": Fault.break_stream,
        "stream-error": Fault.stream_error,
        "stall": Fault.stall,
        "empty": Fault.empty,
        "refusal": Fault.refusal,
    }
    if kind in kinds:
        return model or None, kinds[kind]()
    if kind.isdigit():
        return model or None, Fault.http(int(kind))
    raise argparse.ArgumentTypeError(f"unknown fault {kind!r}")


async def _serve(args: argparse.Namespace) -> None:
    server = FakeLLMServer(
        host=args.host,
        port=args.port,
        latency=args.latency,
        chunk_delay=args.chunk_delay,
        api_key=args.api_key,
        capacity=args.capacity,
    )
    for model, fault in args.fault:
        server.inject(fault, model=model, times=None)
    await server.start()
    print(f"fake LLM server on {server.url}")
    print(f"  OPENAI_BASE_URL={server.openai_base_url}")
    print(f"  ANTHROPIC_BASE_URL={server.anthropic_base_url}")
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fake OpenAI / Anthropic API server on 127.0.0.1")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8089)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--chunk-delay", type=float, default=0.0, help="seconds between streamed chunks")
    parser.add_argument("--api-key", default=None, help="require this key (default: accept any)")
    parser.add_argument("--capacity", type=int, default=None, help="answer 429 above N requests in flight per model")
    parser.add_argument(
        "--fault",
        type=parse_fault,
        action="append",
        default=[],
        help="always fail: MODEL=KIND or KIND (503, 429, overloaded, break, stream-error, stall, empty, refusal)",
    )
    args = parser.parse_args(argv)
    from tests.fakes.loopback import serve_until_interrupted

    serve_until_interrupted(_serve(args), name="fake LLM server")


if __name__ == "__main__":
    main()
