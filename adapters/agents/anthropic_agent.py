"""Anthropic Messages API, streamed, with the stable prompt prefix marked for prompt caching.

The system prompt and the first `cache_prefix_chars` characters of the first user message (the
brief, which never changes across cycles) carry `cache_control: ephemeral`, so revisions re-read
them from the cache. The SDK's own retries are off (`max_retries=0`): the pool retries. `_failure`
says what an SDK exception was; the ladder in adapters/agents/base.py turns it into a bot.errors class.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

import anthropic
import httpx2

from adapters.agents._common import split_cache_prefix
from adapters.agents.base import Failure, ProviderBackend
from adapters.agents.sse import events, loads
from bot.errors import AgentRejected, AgentUnavailable
from bot.ports import DraftRequest, DraftResult

_EPHEMERAL: dict[str, str] = {"type": "ephemeral"}


class AnthropicAgent(ProviderBackend):
    """An `AgentBackend` over `anthropic.AsyncAnthropic`."""

    key_env = "ANTHROPIC_API_KEY"
    base_url_env = "ANTHROPIC_BASE_URL"
    default_endpoint = "https://api.anthropic.com"
    title = "Anthropic"
    overloaded_codes = frozenset({"overloaded_error"})
    rate_limit_codes = frozenset({"rate_limit_error"})
    retryable_codes = frozenset({"overloaded_error", "api_error", "timeout_error"})

    def _connect(self, api_key: str | None) -> None:
        # Always pass a key: without one, anthropic 2.x looks for profile files and workload identity.
        self._client = anthropic.AsyncAnthropic(
            api_key=api_key or "missing",
            base_url=self.base_url,
            max_retries=0,
            timeout=self.spec.timeout,
            # The same transport as the OpenAI agent's, for the same reason (bench_stream_cost).
            http_client=anthropic.DefaultAioHttpClient(timeout=self.spec.timeout),
        )

    async def aclose(self) -> None:
        await self._client.close()

    async def _probe(self) -> None:
        await self._client.with_options(timeout=min(10.0, self.spec.timeout)).models.list(limit=1)

    def _failure(self, exc: Exception) -> Failure | None:
        if isinstance(exc, anthropic.APITimeoutError):
            return Failure("timeout")
        if isinstance(exc, anthropic.APIConnectionError):
            return Failure("connect")
        if isinstance(exc, anthropic.APIStatusError):
            kind, detail = _error_parts(exc)
            if exc.status_code < 400:  # an `event: error` inside a 200 stream: the body says what it was
                return Failure("stream", code=kind, detail=detail)
            return Failure("status", exc.status_code, kind, detail, exc.response.headers)
        if isinstance(exc, anthropic.APIError):
            return Failure("stream", detail=_error_parts(exc)[1])
        if isinstance(exc, httpx2.TransportError):
            return Failure("transport", detail=type(exc).__name__)
        return None

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

    async def _stream(self, request: DraftRequest) -> AsyncGenerator[str | DraftResult, None]:
        params = self.build_params(request, max_tokens=min(request.max_output_tokens, self.spec.max_tokens))
        params["model"] = self.model
        parts: list[str] = []
        stop_reason: str | None = None
        input_tokens = cache_read = cache_write = output_tokens = 0
        ended = False
        # The events are read as plain JSON (sse.py): the SDK would build a pydantic model of each.
        async with self._client.messages.with_streaming_response.create(**params, stream=True) as response:
            async with aclosing(events(response.http_response.aiter_lines())) as stream:
                async for name, data in stream:
                    if name == "error":
                        raise _in_band_error(data, response.http_response)
                    if name not in _READ or not data:
                        continue  # ping, content_block_start/stop, events added later
                    event = loads(data)
                    if name == "message_start":
                        usage = (event.get("message") or {}).get("usage") or {}
                        input_tokens = usage.get("input_tokens") or 0
                        cache_read = usage.get("cache_read_input_tokens") or 0
                        cache_write = usage.get("cache_creation_input_tokens") or 0
                        output_tokens = usage.get("output_tokens") or 0
                    elif name == "content_block_delta":
                        delta = event.get("delta") or {}
                        if delta.get("type") == "text_delta" and delta.get("text"):
                            parts.append(delta["text"])
                            yield delta["text"]
                    elif name == "message_delta":
                        stop_reason = (event.get("delta") or {}).get("stop_reason") or stop_reason
                        output_tokens = (event.get("usage") or {}).get("output_tokens") or output_tokens
                    elif name == "message_stop":
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


_READ = frozenset({"message_start", "content_block_delta", "message_delta", "message_stop"})


def _in_band_error(data: str, response: httpx2.Response) -> anthropic.APIStatusError:
    """An `event: error` inside a 200 stream, as the SDK itself raises it (a status error whose
    body names the kind: overloaded_error, api_error, ...)."""
    body: object = data
    try:
        body = json.loads(data)
        message = f"{body}"
    except ValueError:
        message = data or f"Error code: {response.status_code}"
    return anthropic.APIStatusError(message, response=response, body=body)


def _error_parts(exc: anthropic.APIError) -> tuple[str, str]:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            return str(inner.get("type", "")), str(inner.get("message") or exc.message)
    return "", exc.message or type(exc).__name__
