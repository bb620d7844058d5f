"""Agent backends (model providers). The built-ins are declared here, registered in code: each by its
provider name, where its class lives, and the variable its key is read from by default.

The core reads this table (bot/agent_registry.py, BUILTIN_TABLE) to know the providers and to mask their
keys from the first log line, before any backend module, and so any SDK, is imported. Each class
declares the same key variable (tests/agents/test_registry.py holds them equal), its endpoint variable,
its default endpoint and its reachability check (adapters/agents/base.py).

A third-party provider does not go here: it is a `draftloop.agents` entry point naming its backend class
(or a `Provider` declaration, to be masked without being imported), or `bot.agents.register_backend`.
"""

from __future__ import annotations

from bot.agent_registry import Provider

BUILTINS: tuple[Provider, ...] = (
    Provider("offline", "adapters.agents.offline_agent:OfflineAgent"),
    Provider(
        "openai", "adapters.agents.openai_agent:OpenAIAgent", key_env="OPENAI_API_KEY", base_url_env="OPENAI_BASE_URL"
    ),
    Provider(
        "openai-compatible",
        "adapters.agents.openai_agent:OpenAICompatibleAgent",
        key_env="OPENAI_API_KEY",
        base_url_env="OPENAI_BASE_URL",
        base_url_required=True,  # any server: there is no default endpoint to fall back on
    ),
    Provider(
        "anthropic",
        "adapters.agents.anthropic_agent:AnthropicAgent",
        key_env="ANTHROPIC_API_KEY",
        base_url_env="ANTHROPIC_BASE_URL",
    ),
)
