"""The one base of every agent backend: the constructor, `create()`, the streaming frame, the
reachability check and the error ladder that turns an SDK failure into a bot.errors class.

A provider module declares, as class attributes, the variable its key is read from (`key_env`), the
variable that moves its endpoint (`base_url_env`) and its default endpoint, then writes four things:
`_connect` (build the SDK client), `_stream` (one streamed call), `_probe` (a cheap call for
`draftloop agents`) and `_failure` (what an SDK exception was, as a `Failure`). Everything a person
reads about a failure is written here, once: one line, the agent's name, no secret.

Key and endpoint come from the agent's config first (`key_env`, `base_url`), else from the declared
variables through `Settings.env` (the environment, or values given to Settings in tests).
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncGenerator, Mapping
from contextlib import aclosing
from dataclasses import dataclass
from typing import ClassVar, Literal

import aiohttp

from adapters.agents._common import Redactor, agent_label, retry_after_seconds
from bot.agent_spec import AgentSpec
from bot.agents import AgentFacts
from bot.errors import AgentError, AgentRateLimited, AgentRejected, AgentUnavailable
from bot.ports import AgentBackend, DraftRequest, DraftResult
from bot.settings import Settings


@dataclass(frozen=True)
class Failure:
    """An SDK exception reduced to what the ladder reads.

    what: `timeout`, `connect` (no connection, or it dropped), `transport` (the socket under the SDK
    broke mid-read), `status` (an HTTP error status) or `stream` (an error frame inside a 200 stream).
    """

    what: Literal["timeout", "connect", "transport", "status", "stream"]
    status: int = 0
    code: str = ""  # the provider's error type or code, e.g. "insufficient_quota", "overloaded_error"
    detail: str = ""  # the provider's message, masked by the ladder before it is shown
    headers: Mapping[str, str] | None = None


def _aiohttp_cause(exc: BaseException) -> aiohttp.ClientError | None:
    """The aiohttp exception that the SDK and its HTTP adapter wrapped, if any."""
    cause: BaseException | None = exc
    for _ in range(8):
        if cause is None or isinstance(cause, aiohttp.ClientError):
            return cause
        cause = cause.__cause__
    return None


def _reread(failure: Failure | None, exc: Exception) -> Failure | None:
    """The SDKs' aiohttp adapter reports every refused or dropped connection as a connect time-out;
    only a time-out of aiohttp's is one."""
    if failure is None or failure.what != "timeout":
        return failure
    cause = _aiohttp_cause(exc)
    if cause is not None and not isinstance(cause, aiohttp.ServerTimeoutError | TimeoutError):
        return Failure("connect")
    return failure


class ProviderBackend:
    """An `AgentBackend` with the shared constructor, `create()`, frame, check and error ladder."""

    key_env: ClassVar[str] = ""  # the key's variable unless the agent names its own; "" needs none
    key_required: ClassVar[bool] = True  # False: a missing key is sent as a placeholder (local servers)
    base_url_env: ClassVar[str] = ""  # the variable that moves the endpoint (a proxy, a local fake)
    default_endpoint: ClassVar[str] = ""  # where the SDK calls when nothing is set
    title: ClassVar[str] = ""  # "OpenAI": errors say "cannot connect to the OpenAI API"
    # Provider error codes that change a rung of the ladder.
    quota_codes: ClassVar[frozenset[str]] = frozenset()  # a 429 no wait will cure
    overloaded_codes: ClassVar[frozenset[str]] = frozenset()
    rate_limit_codes: ClassVar[frozenset[str]] = frozenset()  # a rate limit reported mid-stream
    retryable_codes: ClassVar[frozenset[str]] = frozenset()  # a mid-stream error worth retrying

    def __init__(self, spec: AgentSpec, settings: Settings | None = None) -> None:
        self.spec = spec
        self.name = agent_label(spec)
        self.model = spec.model
        self.key_var = spec.key_env or self.key_env  # where this agent's key is read from
        api_key = _env(settings, self.key_var)
        self.key_present = api_key is not None
        self.base_url = spec.base_url or _env(settings, self.base_url_env)
        self._redact = Redactor(settings, api_key)
        self._connect(api_key)

    @classmethod
    def create(cls, spec: AgentSpec, settings: Settings) -> AgentBackend:
        """The factory the registry calls (calling the class does the same)."""
        return cls(spec, settings)

    # -- what each provider writes ---------------------------------------------------------------

    def _connect(self, api_key: str | None) -> None:
        """Build the SDK client (timeout `spec.timeout`, the SDK's own retries off: the pool retries)."""

    def _stream(self, request: DraftRequest) -> AsyncGenerator[str | DraftResult, None]:
        raise NotImplementedError

    async def _probe(self) -> None:
        """One cheap authenticated call (list models); raises the SDK's exception."""

    def _failure(self, exc: Exception) -> Failure | None:
        """What an SDK exception was; None for anything else (it propagates as it is)."""
        return None

    # -- AgentBackend ----------------------------------------------------------------------------

    async def stream(self, request: DraftRequest) -> AsyncGenerator[str | DraftResult, None]:
        if self.key_required and not self.key_present:
            raise AgentRejected(f"agent {self.name}: no API key (set {self.key_var})", agent=self.name)
        started = time.monotonic()
        streaming = False
        try:
            async with aclosing(self._stream(request)) as items:  # closed with this one (bot/ports.py)
                async for item in items:
                    if isinstance(item, DraftResult):
                        item.extra["latency_ms"] = str(round((time.monotonic() - started) * 1000))
                    else:
                        streaming = True
                    yield item
        except AgentError:
            raise
        except Exception as exc:
            failure = _reread(self._failure(exc), exc)
            if failure is None:
                raise
            if streaming and failure.what == "connect":
                raise AgentUnavailable(f"agent {self.name}: connection lost while streaming", agent=self.name) from exc
            raise self.translate(failure) from exc

    async def aclose(self) -> None:
        return None

    # -- `draftloop agents` ----------------------------------------------------------------------

    def facts(self) -> AgentFacts:
        # An optional key is shown only when the agent names its variable: most local servers need none.
        shown = self.key_var if self.key_required or self.spec.key_env else ""
        return AgentFacts(self.base_url or self.default_endpoint or "built in", shown, self.key_present)

    async def check(self) -> str:
        """Key present and endpoint reachable: 'ok' or one line saying what is wrong. Never raises AgentError."""
        if self.key_required and not self.key_present:
            return f"no key: {self.key_var} is not set"
        try:
            await self._probe()
        except Exception as exc:
            failure = _reread(self._failure(exc), exc)
            if failure is None:
                raise
            if failure.what == "status" and failure.status == 404:
                return "ok (reachable; /models not offered)"
            return str(self.translate(failure)).split(": ", 1)[-1]
        return "ok"

    # -- the error ladder ------------------------------------------------------------------------

    def translate(self, failure: Failure) -> AgentError:
        """AgentUnavailable: worth retrying; AgentRateLimited: wait (retry_after) then retry;
        AgentRejected: the same call will fail again."""
        name = self.name
        if failure.what == "timeout":
            return AgentUnavailable(f"agent {name}: timed out after {self.spec.timeout:g}s", agent=name)
        if failure.what == "connect":
            where = self.base_url or f"the {self.title or self.spec.provider} API"
            return AgentUnavailable(f"agent {name}: cannot connect to {where}", agent=name)
        if failure.what == "transport":
            return AgentUnavailable(f"agent {name}: connection lost while streaming ({failure.detail})", agent=name)
        detail = self._redact.line(failure.detail)
        if failure.what == "stream":
            return self._mid_stream(failure.code, detail)
        return self._status(failure, detail)

    def _mid_stream(self, code: str, detail: str) -> AgentError:
        name = self.name
        if code in self.rate_limit_codes:
            return AgentRateLimited(f"agent {name}: rate limited mid-stream: {detail}", agent=name)
        if not code:
            return AgentUnavailable(f"agent {name}: stream error: {detail}", agent=name)
        if code in self.retryable_codes:
            return AgentUnavailable(f"agent {name}: {code} mid-stream: {detail}", agent=name)
        return AgentRejected(f"agent {name}: {code} mid-stream: {detail}", agent=name)

    def _status(self, failure: Failure, detail: str) -> AgentError:
        name, status = self.name, failure.status
        if status == 429 and failure.code in self.quota_codes:
            return AgentRejected(f"agent {name}: quota exhausted (429): {detail}", agent=name)
        if status == 429:
            after = retry_after_seconds(failure.headers)
            return AgentRateLimited(f"agent {name}: rate limited (429): {detail}", agent=name, retry_after=after)
        if status == 529 or failure.code in self.overloaded_codes:
            return AgentUnavailable(f"agent {name}: overloaded ({status}): {detail}", agent=name)
        if status >= 500 or status in (408, 409):
            return AgentUnavailable(f"agent {name}: server error {status}: {detail}", agent=name)
        if status in (401, 403):
            return AgentRejected(f"agent {name}: key rejected ({status}), check {self.key_var}", agent=name)
        return AgentRejected(f"agent {name}: request rejected ({status}): {detail}", agent=name)


def _env(settings: Settings | None, name: str) -> str | None:
    if not name:
        return None
    return settings.env(name) if settings is not None else (os.environ.get(name) or None)
