"""Anthropic Messages API, streamed, with the stable prompt prefix marked for prompt caching.

The system prompt and the first `cache_prefix_chars` characters of the first user message (the
brief, which never changes across cycles) carry `cache_control: ephemeral`, so revisions re-read
them from the cache. The SDK's own retries are off (`max_retries=0`): the pool retries.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import httpx2

from adapters.agents._common import (
    Redactor,
    agent_label,
    connection_lost,
    resolve_key,
    retry_after_seconds,
    split_cache_prefix,
)
from bot.agent_spec import AgentSpec
from bot.errors import AgentError, AgentRateLimited, AgentRejected, AgentUnavailable
from bot.ports import AgentBackend, DraftRequest, DraftResult
from bot.settings import Settings

_EPHEMERAL: dict[str, str] = {"type": "ephemeral"}
_RETRYABLE_TYPES = {"overloaded_error", "api_error", "timeout_error"}


class AnthropicAgent:
    """An `AgentBackend` over `anthropic.AsyncAnthropic`."""

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
        self._redact = Redactor(settings, api_key)
        # Always pass a key: without one, anthropic 2.x looks for profile files and workload identity.
        self._client = anthropic.AsyncAnthropic(
            api_key=api_key or "missing",
            base_url=base_url,
            max_retries=0,
            timeout=spec.timeout,
        )

    # -- AgentBackend ----------------------------------------------------------------------------

    async def stream(self, request: DraftRequest) -> AsyncIterator[str | DraftResult]:
        if not self.key_present:
            raise AgentRejected(f"agent {self.name}: no API key (set {self.key_env})", agent=self.name)
        started = time.monotonic()
        try:
            async for item in self._stream(request):
                if isinstance(item, DraftResult):
                    item.extra["latency_ms"] = str(round((time.monotonic() - started) * 1000))
                yield item
        except AgentError:
            raise
        except anthropic.APIError as exc:
            raise self._translate(exc) from exc
        except httpx2.TransportError as exc:
            raise connection_lost(self.name, exc) from exc

    async def aclose(self) -> None:
        await self._client.close()

    async def check(self) -> str:
        """Key present and API reachable: 'ok' or one line saying what is wrong."""
        if not self.key_present:
            return f"no key: {self.key_env} is not set"
        try:
            await self._client.with_options(timeout=min(10.0, self.spec.timeout)).models.list(limit=1)
        except anthropic.NotFoundError:
            return "ok (reachable; /models not offered)"
        except anthropic.APIError as exc:
            return str(self._translate(exc)).split(": ", 1)[-1]
        return "ok"

    # -- request ---------------------------------------------------------------------------------

    @staticmethod
    def build_params(request: DraftRequest, *, max_tokens: int) -> dict[str, Any]:
        """The Messages API parameters: system and brief prefix marked for caching."""
        messages: list[dict[str, Any]] = []
        for index, (role, text) in enumerate(request.messages):
            if index == 0 and role == "user" and request.cache_prefix_chars > 0:
                prefix, rest = split_cache_prefix(text, request.cache_prefix_chars)
                blocks: list[dict[str, Any]] = [{"type": "text", "text": prefix, "cache_control": _EPHEMERAL}]
                if rest:
                    blocks.append({"type": "text", "text": rest})
                messages.append({"role": role, "content": blocks})
            else:
                messages.append({"role": role, "content": text})
        params: dict[str, Any] = {"model": "", "max_tokens": max_tokens, "messages": messages}
        if request.system:
            params["system"] = [{"type": "text", "text": request.system, "cache_control": _EPHEMERAL}]
        return params

    async def _stream(self, request: DraftRequest) -> AsyncIterator[str | DraftResult]:
        params = self.build_params(request, max_tokens=min(request.max_output_tokens, self.spec.max_tokens))
        params["model"] = self.model
        stream = await self._client.messages.create(**params, stream=True)
        parts: list[str] = []
        stop_reason: str | None = None
        input_tokens = cache_read = cache_write = output_tokens = 0
        ended = False
        async with stream:
            async for event in stream:
                if event.type == "message_start":
                    usage = event.message.usage
                    input_tokens = usage.input_tokens or 0
                    cache_read = usage.cache_read_input_tokens or 0
                    cache_write = usage.cache_creation_input_tokens or 0
                    output_tokens = usage.output_tokens or 0
                elif event.type == "content_block_delta":
                    if event.delta.type == "text_delta" and event.delta.text:
                        parts.append(event.delta.text)
                        yield event.delta.text
                elif event.type == "message_delta":
                    stop_reason = event.delta.stop_reason or stop_reason
                    output_tokens = event.usage.output_tokens or output_tokens
                elif event.type == "message_stop":
                    ended = True
        text = "".join(parts)
        if stop_reason == "refusal":
            raise AgentRejected(f"agent {self.name} refused to answer", agent=self.name)
        if not ended:
            raise AgentUnavailable(
                f"agent {self.name}: the stream ended before the answer was complete", agent=self.name
            )
        if not text.strip():
            raise AgentRejected(f"agent {self.name} returned an empty answer", agent=self.name)
        yield DraftResult(
            text=text,
            model=self.model,
            # Anthropic's input_tokens is the uncached part; store the whole prompt like OpenAI does.
            input_tokens=input_tokens + cache_read + cache_write,
            output_tokens=output_tokens,
            cached_tokens=cache_read,
            finish_reason="length" if stop_reason == "max_tokens" else "stop",
            extra={"api": "messages", "stop_reason": stop_reason or "", "cache_write_tokens": str(cache_write)},
        )

    # -- errors ----------------------------------------------------------------------------------

    def _translate(self, exc: anthropic.APIError) -> AgentError:
        name = self.name
        if isinstance(exc, anthropic.APITimeoutError):
            return AgentUnavailable(f"agent {name}: timed out after {self.spec.timeout:g}s", agent=name)
        if isinstance(exc, anthropic.APIConnectionError):
            where = self.base_url or "the Anthropic API"
            return AgentUnavailable(f"agent {name}: cannot connect to {where}", agent=name)
        kind, detail = _error_parts(exc)
        detail = self._redact.line(detail)
        if isinstance(exc, anthropic.APIStatusError):
            status = exc.status_code
            if status < 400:
                # An `event: error` inside a 200 stream: check the body, not the class.
                if kind == "rate_limit_error":
                    return AgentRateLimited(f"agent {name}: rate limited mid-stream: {detail}", agent=name)
                if kind in _RETRYABLE_TYPES or not kind:
                    return AgentUnavailable(f"agent {name}: {kind or 'error'} mid-stream: {detail}", agent=name)
                return AgentRejected(f"agent {name}: {kind} mid-stream: {detail}", agent=name)
            if status == 429:
                after = retry_after_seconds(exc.response.headers)
                return AgentRateLimited(f"agent {name}: rate limited (429): {detail}", agent=name, retry_after=after)
            if status == 529 or kind == "overloaded_error":
                return AgentUnavailable(f"agent {name}: overloaded ({status}): {detail}", agent=name)
            if status >= 500 or status in (408, 409):
                return AgentUnavailable(f"agent {name}: server error {status}: {detail}", agent=name)
            if status in (401, 403):
                return AgentRejected(f"agent {name}: key rejected ({status}), check {self.key_env}", agent=name)
            return AgentRejected(f"agent {name}: request rejected ({status}): {detail}", agent=name)
        return AgentUnavailable(f"agent {name}: stream error: {detail}", agent=name)


def _error_parts(exc: anthropic.APIError) -> tuple[str, str]:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            return str(inner.get("type", "")), str(inner.get("message") or exc.message)
    return "", exc.message or type(exc).__name__


def create(spec: AgentSpec, settings: Settings) -> AgentBackend:
    """Entry point for `anthropic` (draftloop.agents)."""
    fallback = settings.anthropic_api_key.get_secret_value() if settings.anthropic_api_key else None
    key, env = resolve_key(spec, "ANTHROPIC_API_KEY", fallback)
    base_url = spec.base_url or settings.anthropic_base_url
    return AnthropicAgent(spec, api_key=key, key_env=env, base_url=base_url, settings=settings)
