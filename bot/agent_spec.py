"""A named agent as the config file describes it: provider, model, endpoint, key variable, limits, prices."""

from __future__ import annotations

import functools
from importlib.metadata import entry_points
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


@functools.cache
def installed_providers() -> frozenset[str]:
    """Agent providers installed as `draftloop.agents` entry points (a new provider needs no change here)."""
    return frozenset(ep.name for ep in entry_points(group="draftloop.agents"))


class AgentSpec(_Strict):
    """A named agent: which provider, which model, where, which key, what limits and prices."""

    name: str = ""
    # Any installed `draftloop.agents` entry point: offline, openai, openai-compatible, anthropic, …
    provider: str = "offline"
    model: str = "offline-v1"
    base_url: str | None = None
    key_env: str | None = None  # name of the environment variable holding the key, never the key
    api: Literal["chat", "responses"] = "chat"  # OpenAI: Chat Completions or the Responses API
    max_tokens: int = 4096  # output tokens per call
    context_tokens: int = 128_000  # prompt budget; older drafts are dropped first to stay under it
    price_input: float = 0.0  # USD per million tokens
    price_output: float = 0.0
    price_cached: float = 0.0
    max_concurrency: int = 4
    timeout: float = 120.0
    max_retries: int = 2

    @field_validator("provider")
    @classmethod
    def _installed(cls, value: str) -> str:
        known = installed_providers()
        if value not in known:
            raise ValueError(f"unknown provider {value!r}; installed: {', '.join(sorted(known))}")
        return value
