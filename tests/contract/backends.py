"""The agent backends the contract suite runs over: each as an `[agents.main]` table, the settings that
point it at its endpoint, and how to make its next call fail the way that provider fails."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.errors import AgentUnavailable
from bot.ports import DraftRequest
from tests.agents.conftest import ANTHROPIC_KEY, OPENAI_KEY
from tests.contract.drivers.base import Driver
from tests.fakes.agents import Intercepted
from tests.fakes.llm_server import FakeLLMServer, Fault

AGENT = "main"


@dataclass(frozen=True)
class Backend:
    name: str
    toml: str
    fields: dict[str, Any]
    fail_once: Callable[[Driver], None]


def _table(provider: str, model: str) -> str:
    # No retries: one failure is the project's failure, which is what the retry scenario needs.
    return f'[agents.{AGENT}]\nprovider = "{provider}"\nmodel = "{model}"\nmax_retries = 0\n\n'


def offline() -> Backend:
    def fail_once(d: Driver) -> None:
        calls = 0

        async def first_call_fails(request: DraftRequest) -> None:  # where the network edge would be
            nonlocal calls
            calls += 1
            if calls == 1:
                raise AgentUnavailable("offline: the provider timed out", agent=AGENT)

        agents = d.runtime.agents
        agents.use(AGENT, Intercepted(agents.backend(agents.spec(AGENT)), first_call_fails))

    return Backend("offline", _table("offline", "offline-v1"), {}, fail_once)


def openai(llm: FakeLLMServer) -> Backend:
    fields = {"openai_api_key": OPENAI_KEY, "openai_base_url": llm.openai_base_url}
    return Backend(
        "openai", _table("openai", "gpt-contract"), fields, lambda d: llm.inject(Fault.http(503), model="gpt-contract")
    )


def anthropic(llm: FakeLLMServer) -> Backend:
    fields = {"anthropic_api_key": ANTHROPIC_KEY, "anthropic_base_url": llm.anthropic_base_url}
    return Backend(
        "anthropic",
        _table("anthropic", "claude-contract"),
        fields,
        lambda d: llm.inject(Fault.overloaded(), model="claude-contract"),
    )
