"""OpenAI and any OpenAI-compatible server (Ollama, vLLM, llama.cpp, Gemini's compatibility endpoint).

Chat Completions by default (`api = "chat"`), the Responses API when the agent says `api = "responses"`.
Both stream; usage comes from `stream_options.include_usage` (chat) or `response.completed` (responses).

The SDK's own retries are off (`max_retries=0`) and the time-out is the agent's `timeout`, so the
pool's retry policy (bot/agents.py) is the only one. `_failure` says what an SDK exception was; the
ladder in adapters/agents/base.py turns it into a bot.errors class.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any, ClassVar, cast

import httpx2
import openai
from openai.types.responses import (
    ResponseCompletedEvent,
    ResponseErrorEvent,
    ResponseFailedEvent,
    ResponseIncompleteEvent,
    ResponseRefusalDeltaEvent,
    ResponseTextDeltaEvent,
)

from adapters.agents.base import Failure, ProviderBackend
from adapters.agents.sse import chat_chunks
from bot.errors import AgentRejected, AgentUnavailable
from bot.ports import DraftRequest, DraftResult

# OpenAI-compatible servers usually need no key, but the SDK insists on one.
_NO_KEY_PLACEHOLDER = "not-needed"


class OpenAIAgent(ProviderBackend):
    """An `AgentBackend` over `openai.AsyncOpenAI`."""

    key_env = "OPENAI_API_KEY"
    base_url_env = "OPENAI_BASE_URL"
    default_endpoint = "https://api.openai.com/v1"
    title = "OpenAI"
    quota_codes = frozenset({"insufficient_quota"})
    compatible: ClassVar[bool] = False  # a server that speaks OpenAI's API but not its newest fields

    def _connect(self, api_key: str | None) -> None:
        self._client = openai.AsyncOpenAI(
            api_key=api_key or _NO_KEY_PLACEHOLDER,
            base_url=self.base_url,
            max_retries=0,
            timeout=self.spec.timeout,
            # aiohttp's C parser and one write per request: 0.45-0.85x the client CPU per draft of the
            # SDK's default httpx transport (benchmarks/bench_stream_cost.py prints both).
            http_client=openai.DefaultAioHttpClient(timeout=self.spec.timeout),
        )

    def _stream(self, request: DraftRequest) -> AsyncGenerator[str | DraftResult, None]:
        return self._responses(request) if self.spec.api == "responses" else self._chat(request)

    async def aclose(self) -> None:
        await self._client.close()

    async def _probe(self) -> None:
        await self._client.with_options(timeout=min(10.0, self.spec.timeout)).models.list()

    def _failure(self, exc: Exception) -> Failure | None:
        if isinstance(exc, openai.APITimeoutError):
            return Failure("timeout")
        if isinstance(exc, openai.APIConnectionError):
            return Failure("connect")
        if isinstance(exc, openai.APIStatusError):
            code = str(getattr(exc, "code", None) or "")
            return Failure("status", exc.status_code, code, _error_message(exc), exc.response.headers)
        if isinstance(exc, openai.APIError):  # an error frame inside a stream: the provider broke off
            return Failure("stream", detail=_error_message(exc))
        if isinstance(exc, httpx2.TransportError):
            return Failure("transport", detail=type(exc).__name__)
        return None

    # -- Chat Completions ------------------------------------------------------------------------

    def _chat_messages(self, request: DraftRequest) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        if request.system:
            messages.append({"role": "system", "content": request.system})
        messages += [{"role": role, "content": text} for role, text in request.messages]
        return messages

    async def _chat(self, request: DraftRequest) -> AsyncGenerator[str | DraftResult, None]:
        limit = min(request.max_output_tokens, self.spec.max_tokens)
        parts: list[str] = []
        refusal: list[str] = []
        finish: str | None = None
        usage: dict[str, Any] | None = None
        body: dict[str, Any] = {
            "model": self.model,
            "messages": self._chat_messages(request),
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if self.compatible:
            body["max_tokens"] = limit  # Ollama, vLLM and llama.cpp understand max_tokens
        else:
            body["max_completion_tokens"] = limit  # OpenAI's newer models want this one
            body["prompt_cache_key"] = f"draftloop-{request.category}"
        # The SDK's documented request for any path (`client.post(..., cast_to=httpx.Response)`):
        # its auth, base URL, time-out and error classes, without what `chat.completions.create`
        # adds per call: walking the body against its typed-dict schema (0.4 ms a call, as much as
        # the rest of the request) to change nothing in a body of plain strings. And the chunks
        # are read as plain JSON (sse.py): the SDK would build a pydantic model of each.
        response = await self._client.post("/chat/completions", cast_to=httpx2.Response, body=body, stream=True)
        try:
            async with aclosing(chat_chunks(response)) as chunks:
                async for chunk in chunks:
                    if chunk.get("usage"):
                        usage = chunk["usage"]
                    for choice in chunk.get("choices") or ():
                        delta = choice.get("delta") or {}
                        content = delta.get("content")
                        if content:
                            parts.append(content)
                            yield content
                        if delta.get("refusal"):
                            refusal.append(str(delta["refusal"]))
                        if choice.get("finish_reason"):
                            finish = choice["finish_reason"]
        finally:
            await response.aclose()
        text = "".join(parts)
        self._check_end(text, finish, "".join(refusal))
        cached = 0
        details = (usage or {}).get("prompt_tokens_details") or {}
        if details.get("cached_tokens"):
            cached = int(details["cached_tokens"])
        yield DraftResult(
            text=text,
            model=self.model,
            input_tokens=int(usage.get("prompt_tokens") or 0) if usage is not None else 0,
            output_tokens=int(usage.get("completion_tokens") or 0) if usage is not None else 0,
            cached_tokens=cached,
            finish_reason=finish or "stop",
            extra={"api": "chat", "usage_reported": "yes" if usage is not None else "no"},
        )

    # -- Responses API ---------------------------------------------------------------------------

    async def _responses(self, request: DraftRequest) -> AsyncGenerator[str | DraftResult, None]:
        stream = await self._client.responses.create(
            model=self.model,
            instructions=request.system or None,
            input=cast(Any, [{"role": role, "content": text} for role, text in request.messages]),
            max_output_tokens=min(request.max_output_tokens, self.spec.max_tokens),
            stream=True,
            store=False,
        )
        parts: list[str] = []
        refusal: list[str] = []
        final: Any = None
        finish: str | None = None
        async with stream:
            async for event in stream:
                if isinstance(event, ResponseTextDeltaEvent):
                    parts.append(event.delta)
                    yield event.delta
                elif isinstance(event, ResponseRefusalDeltaEvent):
                    refusal.append(event.delta)
                elif isinstance(event, ResponseCompletedEvent):
                    final, finish = event.response, "stop"
                elif isinstance(event, ResponseIncompleteEvent):
                    final, finish = event.response, "length"
                elif isinstance(event, ResponseFailedEvent):
                    err = getattr(event.response, "error", None)
                    detail = getattr(err, "message", None) or "the response failed"
                    raise AgentUnavailable(f"agent {self.name}: {self._redact.line(detail)}", agent=self.name)
                elif isinstance(event, ResponseErrorEvent):
                    raise AgentUnavailable(
                        f"agent {self.name}: stream error: {self._redact.line(str(event.message))}", agent=self.name
                    )
        text = "".join(parts)
        self._check_end(text, finish, "".join(refusal))
        usage = getattr(final, "usage", None)
        cached = 0
        if usage is not None and usage.input_tokens_details is not None:
            cached = int(usage.input_tokens_details.cached_tokens or 0)
        yield DraftResult(
            text=text,
            model=self.model,
            input_tokens=int(usage.input_tokens) if usage is not None else 0,
            output_tokens=int(usage.output_tokens) if usage is not None else 0,
            cached_tokens=cached,
            finish_reason=finish or "stop",
            extra={"api": "responses", "usage_reported": "yes" if usage is not None else "no"},
        )

    # -- shared ----------------------------------------------------------------------------------

    def _check_end(self, text: str, finish: str | None, refusal: str) -> None:
        if refusal and not text.strip():
            raise AgentRejected(f"agent {self.name} refused: {self._redact.line(refusal)}", agent=self.name)
        if finish is None:
            raise AgentUnavailable(
                f"agent {self.name}: the stream ended before the answer was complete", agent=self.name
            )
        if finish == "content_filter" and not text.strip():
            raise AgentRejected(f"agent {self.name}: the answer was withheld by a content filter", agent=self.name)
        if not text.strip():
            raise AgentRejected(f"agent {self.name} returned an empty answer", agent=self.name)


def _error_message(exc: openai.APIError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if body.get("message"):
            return str(body["message"])
    return exc.message or type(exc).__name__


class OpenAICompatibleAgent(OpenAIAgent):
    """Ollama, vLLM, llama.cpp, …: usually no key (a placeholder is sent), `max_tokens`, no cache key."""

    key_required = False
    compatible = True
