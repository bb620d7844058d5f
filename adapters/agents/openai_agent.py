"""OpenAI and any OpenAI-compatible server (Ollama, vLLM, llama.cpp, Gemini's compatibility endpoint).

Chat Completions by default (`api = "chat"`), the Responses API when the agent says `api = "responses"`.
Both stream; usage comes from `stream_options.include_usage` (chat) or `response.completed` (responses).

The SDK's own retries are off (`max_retries=0`) and the time-out is the agent's `timeout`, so the
pool's retry policy (bot/agents.py) is the only one. SDK exceptions become bot.errors classes here.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any, cast

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

from adapters.agents._common import Redactor, agent_label, connection_lost, resolve_key, retry_after_seconds
from bot.agent_spec import AgentSpec
from bot.errors import AgentError, AgentRateLimited, AgentRejected, AgentUnavailable
from bot.ports import AgentBackend, DraftRequest, DraftResult
from bot.settings import Settings

# OpenAI-compatible servers usually need no key, but the SDK insists on one.
_NO_KEY_PLACEHOLDER = "not-needed"


class OpenAIAgent:
    """An `AgentBackend` over `openai.AsyncOpenAI`."""

    def __init__(
        self,
        spec: AgentSpec,
        *,
        api_key: str | None,
        key_env: str,
        base_url: str | None,
        settings: Settings | None = None,
    ) -> None:
        self.spec = spec
        self.name = agent_label(spec)
        self.model = spec.model
        self.key_env = key_env
        self.key_present = api_key is not None
        self.base_url = base_url
        self._compatible = spec.provider == "openai-compatible"
        self._redact = Redactor(settings, api_key)
        self._client = openai.AsyncOpenAI(
            api_key=api_key or _NO_KEY_PLACEHOLDER,
            base_url=base_url,
            max_retries=0,
            timeout=spec.timeout,
        )

    # -- AgentBackend ----------------------------------------------------------------------------

    async def stream(self, request: DraftRequest) -> AsyncIterator[str | DraftResult]:
        if not self.key_present and not self._compatible:
            raise AgentRejected(f"agent {self.name}: no API key (set {self.key_env})", agent=self.name)
        started = time.monotonic()
        streaming = False
        try:
            if self.spec.api == "responses":
                events = self._responses(request)
            else:
                events = self._chat(request)
            async for item in events:
                if isinstance(item, DraftResult):
                    item.extra["latency_ms"] = str(round((time.monotonic() - started) * 1000))
                else:
                    streaming = True
                yield item
        except AgentError:
            raise
        except openai.APIConnectionError as exc:
            if streaming and not isinstance(exc, openai.APITimeoutError):
                raise AgentUnavailable(f"agent {self.name}: connection lost while streaming", agent=self.name) from exc
            raise self._translate(exc) from exc
        except openai.APIError as exc:
            raise self._translate(exc) from exc
        except httpx2.TransportError as exc:
            raise connection_lost(self.name, exc) from exc

    async def aclose(self) -> None:
        await self._client.close()

    async def check(self) -> str:
        """Key present and server reachable: 'ok' or one line saying what is wrong. Never raises AgentError."""
        if not self.key_present and not self._compatible:
            return f"no key: {self.key_env} is not set"
        try:
            await self._client.with_options(timeout=min(10.0, self.spec.timeout)).models.list()
        except openai.NotFoundError:
            return "ok (reachable; /models not offered)"
        except openai.APIError as exc:
            return str(self._translate(exc)).split(": ", 1)[-1]
        return "ok"

    # -- Chat Completions ------------------------------------------------------------------------

    def _chat_messages(self, request: DraftRequest) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        if request.system:
            messages.append({"role": "system", "content": request.system})
        messages += [{"role": role, "content": text} for role, text in request.messages]
        return messages

    async def _chat(self, request: DraftRequest) -> AsyncIterator[str | DraftResult]:
        limit = min(request.max_output_tokens, self.spec.max_tokens)
        stream = await self._client.chat.completions.create(
            model=self.model,
            messages=cast(Any, self._chat_messages(request)),
            stream=True,
            stream_options={"include_usage": True},
            # Ollama, vLLM and llama.cpp understand max_tokens; OpenAI's newer models want the other.
            max_tokens=limit if self._compatible else openai.omit,
            max_completion_tokens=openai.omit if self._compatible else limit,
            prompt_cache_key=openai.omit if self._compatible else f"draftloop-{request.category}",
        )
        parts: list[str] = []
        refusal: list[str] = []
        finish: str | None = None
        usage: Any = None
        async with stream:
            async for chunk in stream:
                if chunk.usage is not None:
                    usage = chunk.usage
                for choice in chunk.choices:
                    delta = choice.delta
                    if delta.content:
                        parts.append(delta.content)
                        yield delta.content
                    if getattr(delta, "refusal", None):
                        refusal.append(str(delta.refusal))
                    if choice.finish_reason:
                        finish = choice.finish_reason
        text = "".join(parts)
        self._check_end(text, finish, "".join(refusal))
        cached = 0
        details = getattr(usage, "prompt_tokens_details", None) if usage is not None else None
        if details is not None and details.cached_tokens:
            cached = int(details.cached_tokens)
        yield DraftResult(
            text=text,
            model=self.model,
            input_tokens=int(usage.prompt_tokens) if usage is not None else 0,
            output_tokens=int(usage.completion_tokens) if usage is not None else 0,
            cached_tokens=cached,
            finish_reason=finish or "stop",
            extra={"api": "chat", "usage_reported": "yes" if usage is not None else "no"},
        )

    # -- Responses API ---------------------------------------------------------------------------

    async def _responses(self, request: DraftRequest) -> AsyncIterator[str | DraftResult]:
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

    def _translate(self, exc: openai.APIError) -> AgentError:
        name = self.name
        if isinstance(exc, openai.APITimeoutError):
            return AgentUnavailable(f"agent {name}: timed out after {self.spec.timeout:g}s", agent=name)
        if isinstance(exc, openai.APIConnectionError):
            where = self.base_url or "the OpenAI API"
            return AgentUnavailable(f"agent {name}: cannot connect to {where}", agent=name)
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            detail = self._redact.line(_error_message(exc))
            if status == 429:
                if getattr(exc, "code", None) == "insufficient_quota":
                    return AgentRejected(f"agent {name}: quota exhausted (429): {detail}", agent=name)
                after = retry_after_seconds(exc.response.headers)
                return AgentRateLimited(f"agent {name}: rate limited (429): {detail}", agent=name, retry_after=after)
            if status >= 500 or status in (408, 409):
                return AgentUnavailable(f"agent {name}: server error {status}: {detail}", agent=name)
            if status in (401, 403):
                return AgentRejected(f"agent {name}: key rejected ({status}), check {self.key_env}", agent=name)
            return AgentRejected(f"agent {name}: request rejected ({status}): {detail}", agent=name)
        # An error frame inside a stream (no HTTP status): the provider broke off.
        return AgentUnavailable(f"agent {name}: stream error: {self._redact.line(_error_message(exc))}", agent=name)


def _error_message(exc: openai.APIError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if body.get("message"):
            return str(body["message"])
    return exc.message or type(exc).__name__


def create(spec: AgentSpec, settings: Settings) -> AgentBackend:
    """Entry point for `openai` and `openai-compatible` (draftloop.agents)."""
    fallback = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    key, env = resolve_key(spec, "OPENAI_API_KEY", fallback)
    base_url = spec.base_url or settings.openai_base_url
    return OpenAIAgent(spec, api_key=key, key_env=env, base_url=base_url, settings=settings)
