"""The one error ladder (adapters/agents/base.py): every provider's failures read the same way.

The SDK-driven cases run against the fake server in test_backends.py; this pins the ladder itself
for a provider that declares its own codes, with no SDK at all."""

from __future__ import annotations

import pytest

from adapters.agents.base import Failure, ProviderBackend
from bot.agent_spec import AgentSpec
from bot.errors import AgentRateLimited, AgentRejected, AgentUnavailable
from bot.settings import Settings
from tests.agents.conftest import request

SECRET = "tiny-provider-key-0042"


class TinyAgent(ProviderBackend):
    key_env = "TINY_TEST_KEY"
    title = "Tiny"
    quota_codes = frozenset({"out_of_credit"})
    overloaded_codes = frozenset({"busy"})
    rate_limit_codes = frozenset({"slow_down"})
    retryable_codes = frozenset({"busy", "hiccup"})


@pytest.fixture
def tiny() -> TinyAgent:
    return TinyAgent(AgentSpec(name="tiny", provider="offline", timeout=7), Settings(tiny_test_key=SECRET))


@pytest.mark.parametrize(
    ("failure", "kind", "says"),
    [
        (Failure("timeout"), AgentUnavailable, "agent tiny: timed out after 7s"),
        (Failure("connect"), AgentUnavailable, "agent tiny: cannot connect to the Tiny API"),
        (
            Failure("transport", detail="ReadError"),
            AgentUnavailable,
            "agent tiny: connection lost while streaming (ReadError)",
        ),
        (Failure("status", 429, detail="later"), AgentRateLimited, "agent tiny: rate limited (429): later"),
        (Failure("status", 429, "out_of_credit", "pay"), AgentRejected, "agent tiny: quota exhausted (429): pay"),
        (Failure("status", 529), AgentUnavailable, "agent tiny: overloaded (529)"),
        (Failure("status", 503, "busy"), AgentUnavailable, "agent tiny: overloaded (503)"),
        (Failure("status", 502, detail="bad gw"), AgentUnavailable, "agent tiny: server error 502: bad gw"),
        (Failure("status", 408), AgentUnavailable, "agent tiny: server error 408"),
        (Failure("status", 409), AgentUnavailable, "agent tiny: server error 409"),
        (Failure("status", 401, detail=SECRET), AgentRejected, "agent tiny: key rejected (401), check TINY_TEST_KEY"),
        (Failure("status", 403), AgentRejected, "agent tiny: key rejected (403), check TINY_TEST_KEY"),
        (Failure("status", 400, detail="too long"), AgentRejected, "agent tiny: request rejected (400): too long"),
        (Failure("stream", detail="cut"), AgentUnavailable, "agent tiny: stream error: cut"),
        (Failure("stream", code="slow_down"), AgentRateLimited, "agent tiny: rate limited mid-stream"),
        (Failure("stream", code="hiccup"), AgentUnavailable, "agent tiny: hiccup mid-stream"),
        (Failure("stream", code="bad_input"), AgentRejected, "agent tiny: bad_input mid-stream"),
    ],
)
def test_each_failure_has_one_class_and_one_line(tiny: TinyAgent, failure: Failure, kind: type, says: str) -> None:
    err = tiny.translate(failure)
    assert type(err) is kind and err.agent == "tiny"
    assert str(err).startswith(says) and "\n" not in str(err)


def test_retry_after_is_read_and_details_are_masked_and_one_line(tiny: TinyAgent) -> None:
    limited = tiny.translate(Failure("status", 429, detail="wait", headers={"retry-after": "3"}))
    assert limited.retry_after == 3.0
    long_detail = f"the key {SECRET} is\nwrong " + "x" * 500
    rejected = tiny.translate(Failure("status", 400, detail=long_detail))
    assert SECRET not in str(rejected) and "[redacted]" in str(rejected)
    assert "\n" not in str(rejected) and len(str(rejected)) < 300


async def test_a_missing_key_is_refused_before_any_call_and_reported_by_check() -> None:
    tiny = TinyAgent(AgentSpec(name="tiny", provider="offline", key_env="TINY_OTHER_KEY"), Settings())
    assert await tiny.check() == "no key: TINY_OTHER_KEY is not set"
    with pytest.raises(AgentRejected, match="no API key \\(set TINY_OTHER_KEY\\)"):
        async for _ in tiny.stream(request()):
            pass
    facts = tiny.facts()
    assert (facts.endpoint, facts.key_env, facts.key_set) == ("built in", "TINY_OTHER_KEY", False)
