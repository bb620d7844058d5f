"""A named agent as the config file describes it: provider, model, endpoint, key variable, limits, prices."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator

from bot import agent_registry


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def installed_providers() -> frozenset[str]:
    """Every known provider: built in, registered in code or a `draftloop.agents` entry point (bot/agent_registry)."""
    return agent_registry.provider_names()


class AgentSpec(_Strict):
    """A named agent: which provider, which model, where, which key, what limits and prices."""

    name: str = ""
    # A known provider (installed_providers): offline, openai, openai-compatible, anthropic, or a plug-in's
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
