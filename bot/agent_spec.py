"""A named agent as the config file describes it: provider, model, endpoint, key variable, limits, prices.

`named` is the one rule for what an agent name stands for (DRAFTLOOP_AGENT, `default_agent`, a category's
`agent` and `fallback`, `triage_agent`), so start-up refuses exactly the names drafting could not use.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot import agent_registry


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def installed_providers() -> frozenset[str]:
    """Every known provider: built in, registered in code or a `draftloop.agents` entry point (bot/agent_registry)."""
    return agent_registry.provider_names()


_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class AgentSpec(_Strict):
    """A named agent: which provider, which model, where, which key, what limits and prices."""

    name: str = ""
    # A known provider (installed_providers): offline, openai, openai-compatible, anthropic, or a plug-in's
    provider: str = "offline"
    model: str = Field("offline-v1", min_length=1)
    base_url: str | None = None
    key_env: str | None = None  # name of the environment variable holding the key, never the key
    api: Literal["chat", "responses"] = "chat"  # OpenAI: Chat Completions or the Responses API
    max_tokens: int = Field(4096, ge=1)  # output tokens per call
    context_tokens: int = Field(128_000, ge=256)  # prompt budget; older drafts are dropped first to stay under it
    price_input: float = Field(0.0, ge=0)  # USD per million tokens
    price_output: float = Field(0.0, ge=0)
    price_cached: float = Field(0.0, ge=0)
    # A hard ceiling on calls in flight; None: adaptive (bot/concurrency.py), up to 1000 (the SDKs' pools)
    max_concurrency: int | None = Field(None, ge=1, le=1000)
    timeout: float = Field(120.0, gt=0, le=3600)
    max_retries: int = Field(2, ge=0, le=20)

    @field_validator("provider")
    @classmethod
    def _installed(cls, value: str) -> str:
        known = installed_providers()
        if value not in known:
            raise ValueError(f"unknown provider {value!r}; installed: {', '.join(sorted(known))}")
        return value

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("not an http:// or https:// URL")
        return value

    @field_validator("key_env")
    @classmethod
    def _variable_name(cls, value: str | None) -> str | None:
        # The message never repeats the value: a key pasted here by mistake must not reach the terminal.
        if value is not None and not _VARIABLE.match(value):
            raise ValueError("must be the name of an environment variable (like GEMINI_API_KEY), never the key")
        return value


def named(name: str, configured: Mapping[str, AgentSpec]) -> AgentSpec:
    """What an agent name stands for: an agent of the config, `offline`, or `PROVIDER:MODEL` with an
    installed provider. ValueError, saying what is accepted, for anything else."""
    found = configured.get(name)
    if found is not None:
        return found
    if name == "offline":
        return AgentSpec(name="offline", provider="offline", model="offline-v1")
    known = installed_providers()
    provider, colon, model = name.partition(":")
    if provider in known and model.strip():
        return AgentSpec(name=name, provider=provider, model=model)
    if provider in known:
        raise ValueError(f"{name!r} names provider {provider!r} but no model; use {provider}:MODEL")
    if colon:
        raise ValueError(f"{name!r}: unknown provider {provider!r}; installed: {', '.join(sorted(known))}")
    names = ", ".join(sorted(configured)) or "none configured"
    raise ValueError(f"unknown agent {name!r}; use offline, PROVIDER:MODEL or an agent of the config file ({names})")


def missing_endpoint(spec: AgentSpec, env: Callable[[str], str | None]) -> str | None:
    """The variable to set when the agent's provider has no endpoint of its own and none is given
    (`base_url`, else the provider's `base_url_env`); None when the agent knows where to call."""
    provider = agent_registry.providers().get(spec.provider)
    if provider is None or not provider.base_url_required or spec.base_url:
        return None
    if provider.base_url_env and env(provider.base_url_env):
        return None
    return provider.base_url_env or "base_url"
