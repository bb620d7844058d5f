"""Fixtures for the agent backends: the fake LLM server and backends built through the provider registry."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.agent_spec import AgentSpec
from bot.agents import load_factory
from bot.ports import AgentBackend, DraftRequest, DraftResult
from bot.settings import Settings
from tests.fakes.llm_server import FakeLLMServer

OPENAI_KEY = "sk-test-openai-9f8e7d6c5b4a"
ANTHROPIC_KEY = "sk-ant-test-1a2b3c4d5e6f"


@pytest.fixture
async def llm() -> AsyncIterator[FakeLLMServer]:
    async with FakeLLMServer() as server:
        yield server


def backend_for(server: FakeLLMServer, provider: str, **spec_kw: Any) -> AgentBackend:
    """Build a backend the way the pool does: the provider's factory from the registry."""
    spec = AgentSpec(provider=provider, **spec_kw)  # type: ignore[arg-type]
    settings = Settings(
        openai_api_key=OPENAI_KEY,
        anthropic_api_key=ANTHROPIC_KEY,
        openai_base_url=server.openai_base_url,
        anthropic_base_url=server.anthropic_base_url,
    )
    return load_factory(provider)(spec, settings)


def request(brief: str = "Write a 300-word note on tidy data.", **kw: Any) -> DraftRequest:
    fields: dict[str, Any] = {
        "project_number": 1,
        "version": 1,
        "category": "writing",
        "brief": brief,
        "system": "You produce finished deliverables.",
        "messages": (("user", brief),),
    }
    fields.update(kw)
    return DraftRequest(**fields)


async def collect(backend: AgentBackend, req: DraftRequest) -> tuple[list[str], DraftResult]:
    deltas: list[str] = []
    result: DraftResult | None = None
    async for item in backend.stream(req):
        if isinstance(item, DraftResult):
            assert result is None, "exactly one DraftResult"
            result = item
        else:
            assert result is None, "deltas come before the result"
            deltas.append(item)
    assert result is not None
    return deltas, result


# (provider, extra spec fields, model) for every wire format the fake speaks
VARIANTS = [
    pytest.param("openai", {"api": "chat"}, id="openai-chat"),
    pytest.param("openai", {"api": "responses"}, id="openai-responses"),
    pytest.param("openai-compatible", {}, id="openai-compatible"),
    pytest.param("anthropic", {}, id="anthropic"),
]
