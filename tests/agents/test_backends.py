"""The OpenAI and Anthropic backends, through the real SDKs, against the fake server on 127.0.0.1."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from bot.errors import AgentRateLimited, AgentRejected, AgentUnavailable
from tests.agents.conftest import ANTHROPIC_KEY, OPENAI_KEY, VARIANTS, backend_for, collect, request
from tests.fakes.llm_server import FakeLLMServer, Fault, _tokens, default_reply


@pytest.mark.parametrize(("provider", "extra"), VARIANTS)
async def test_streamed_draft_text_and_usage(llm: FakeLLMServer, provider: str, extra: dict[str, Any]) -> None:
    backend = backend_for(llm, provider, name="writer", model="model-a", **extra)
    req = request()
    try:
        deltas, result = await collect(backend, req)
    finally:
        await backend.aclose()
    expected = default_reply("model-a", req.brief)
    assert len(deltas) > 1, "the answer arrives in pieces"
    assert "".join(deltas) == expected == result.text
    assert result.model == "model-a"
    (logged,) = llm.log
    assert logged.stream is True
    assert result.output_tokens == _tokens(expected)
    assert result.input_tokens == _tokens(logged.prompt_text)
    assert result.finish_reason == "stop"
    assert int(result.extra["latency_ms"]) >= 0


@pytest.mark.parametrize(("provider", "extra"), VARIANTS)
async def test_drafts_in_a_row_share_one_connection(llm: FakeLLMServer, provider: str, extra: dict[str, Any]) -> None:
    # A stream left unread after its end closes the connection: each draft would open a new one
    # (a TCP handshake on both sides, per call).
    backend = backend_for(llm, provider, name="writer", model="model-a", **extra)
    try:
        for _ in range(3):
            await collect(backend, request())
    finally:
        await backend.aclose()
    assert len(llm.log) == 3
    assert len({logged.peer for logged in llm.log}) == 1, [logged.peer for logged in llm.log]


async def test_chat_requests_usage_in_stream_and_sends_system(llm: FakeLLMServer) -> None:
    backend = backend_for(llm, "openai", model="gpt-x")
    await collect(backend, request(max_output_tokens=321))
    await backend.aclose()
    body = llm.log[0].body
    assert body["stream_options"] == {"include_usage": True}
    assert body["messages"][0] == {"role": "system", "content": "You produce finished deliverables."}
    assert body["max_completion_tokens"] == 321
    assert llm.log[0].headers["Authorization"] == f"Bearer {OPENAI_KEY}"


async def test_compatible_server_uses_base_url_key_env_and_max_tokens(
    llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOCAL_LLM_KEY", "local-secret-123")
    backend = backend_for(
        llm, "openai-compatible", model="llama3.1:8b", base_url=llm.openai_base_url, key_env="LOCAL_LLM_KEY"
    )
    await collect(backend, request())
    await backend.aclose()
    body = llm.log[0].body
    assert body["max_tokens"] == 4096 and "max_completion_tokens" not in body
    assert "prompt_cache_key" not in body
    assert llm.log[0].headers["Authorization"] == "Bearer local-secret-123"


async def test_compatible_server_without_key_still_works(llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OLLAMA_KEY", raising=False)
    backend = backend_for(llm, "openai-compatible", model="qwen", key_env="OLLAMA_KEY")
    _, result = await collect(backend, request())
    await backend.aclose()
    assert result.text


async def test_anthropic_marks_stable_prefix_for_caching_and_reports_cache_reads(llm: FakeLLMServer) -> None:
    backend = backend_for(llm, "anthropic", model="claude-x")
    brief = "BRIEF: " + "tidy data " * 50
    first = request(brief=brief, messages=(("user", brief + "\n\nWrite version 1."),), cache_prefix_chars=len(brief))
    second = request(
        brief=brief,
        version=2,
        messages=(("user", brief + "\n\nFeedback: shorter. Write version 2."),),
        cache_prefix_chars=len(brief),
    )
    _, r1 = await collect(backend, first)
    _, r2 = await collect(backend, second)
    await backend.aclose()
    body = llm.log[0].body
    assert body["system"][0]["cache_control"] == {"type": "ephemeral"}
    blocks = body["messages"][0]["content"]
    assert blocks[0] == {"type": "text", "text": brief, "cache_control": {"type": "ephemeral"}}
    assert blocks[1]["text"] == "\n\nWrite version 1." and "cache_control" not in blocks[1]
    assert r1.cached_tokens == 0 and r1.extra["cache_write_tokens"] != "0"
    assert r2.cached_tokens > 0
    # input_tokens counts the whole prompt (cached part included), like OpenAI's prompt_tokens
    assert r2.input_tokens == _tokens(llm.log[1].prompt_text)
    assert llm.log[0].headers.get("Authorization") == f"Bearer {ANTHROPIC_KEY}" or (
        llm.log[0].headers.get("x-api-key") == ANTHROPIC_KEY
    )


async def test_revision_prompt_is_sent_as_alternating_messages(llm: FakeLLMServer) -> None:
    backend = backend_for(llm, "openai", model="gpt-x")
    req = request(
        version=2,
        previous_draft="v1 text",
        messages=(("user", "brief"), ("assistant", "v1 text"), ("user", "Feedback: add a table.")),
    )
    _, result = await collect(backend, req)
    await backend.aclose()
    roles = [m["role"] for m in llm.log[0].body["messages"]]
    assert roles == ["system", "user", "assistant", "user"]
    assert result.text == default_reply("gpt-x", "Feedback: add a table.")


@pytest.mark.parametrize(("provider", "extra"), VARIANTS)
async def test_rate_limit_carries_retry_after(llm: FakeLLMServer, provider: str, extra: dict[str, Any]) -> None:
    backend = backend_for(llm, provider, name="busy", model="m", **extra)
    llm.inject(Fault.rate_limit(retry_after=7))
    llm.inject(Fault.rate_limit(retry_after=30, retry_after_ms=250))
    with pytest.raises(AgentRateLimited) as first:
        await collect(backend, request())
    with pytest.raises(AgentRateLimited) as second:
        await collect(backend, request())
    await backend.aclose()
    assert first.value.retry_after == 7.0
    assert second.value.retry_after == 0.25  # retry-after-ms wins
    assert first.value.agent == "busy" and "busy" in str(first.value) and "429" in str(first.value)
    assert len(llm.log) == 2, "the SDK's own retries are off"


@pytest.mark.parametrize(("provider", "extra"), VARIANTS)
@pytest.mark.parametrize("status", [500, 503])
async def test_server_errors_are_unavailable_and_not_retried_by_the_sdk(
    llm: FakeLLMServer, provider: str, extra: dict[str, Any], status: int
) -> None:
    backend = backend_for(llm, provider, name="flaky", model="m", **extra)
    llm.inject(Fault.http(status))
    with pytest.raises(AgentUnavailable) as err:
        await collect(backend, request())
    await backend.aclose()
    assert str(status) in str(err.value) and "\n" not in str(err.value)
    assert len(llm.log) == 1


async def test_anthropic_overloaded_529_is_unavailable(llm: FakeLLMServer) -> None:
    backend = backend_for(llm, "anthropic", name="claude", model="c")
    llm.inject(Fault.overloaded())
    with pytest.raises(AgentUnavailable, match="overloaded"):
        await collect(backend, request())
    await backend.aclose()
    assert llm.log[0].status == 529


@pytest.mark.parametrize(("provider", "extra"), VARIANTS)
async def test_error_event_mid_stream_is_unavailable(llm: FakeLLMServer, provider: str, extra: dict[str, Any]) -> None:
    backend = backend_for(llm, provider, name="mid", model="m", **extra)
    llm.inject(Fault.stream_error(after_chunks=2))
    deltas: list[str] = []
    with pytest.raises(AgentUnavailable) as err:
        async for item in backend.stream(request()):
            if isinstance(item, str):
                deltas.append(item)
    await backend.aclose()
    assert "mid" in str(err.value)
    assert len(deltas) <= 2


@pytest.mark.parametrize(("provider", "extra"), VARIANTS)
async def test_broken_stream_is_unavailable(llm: FakeLLMServer, provider: str, extra: dict[str, Any]) -> None:
    backend = backend_for(llm, provider, name="broken", model="m", **extra)
    llm.inject(Fault.break_stream(after_chunks=3))
    deltas: list[str] = []
    with pytest.raises(AgentUnavailable) as err:
        async for item in backend.stream(request()):
            if isinstance(item, str):
                deltas.append(item)
    await backend.aclose()
    assert 0 < len(deltas) <= 3, "part of the answer arrived before the break"
    assert "broken" in str(err.value)


@pytest.mark.parametrize(("provider", "extra"), VARIANTS)
async def test_stall_times_out(llm: FakeLLMServer, provider: str, extra: dict[str, Any]) -> None:
    backend = backend_for(llm, provider, name="slow", model="m", timeout=0.3, **extra)
    llm.inject(Fault.stall(5))
    with pytest.raises(AgentUnavailable, match="timed out after 0.3s"):
        await collect(backend, request())
    await backend.aclose()


@pytest.mark.parametrize(("provider", "extra"), VARIANTS)
async def test_empty_answer_is_rejected(llm: FakeLLMServer, provider: str, extra: dict[str, Any]) -> None:
    backend = backend_for(llm, provider, name="mute", model="m", **extra)
    llm.inject(Fault.empty())
    with pytest.raises(AgentRejected, match="empty answer"):
        await collect(backend, request())
    await backend.aclose()


@pytest.mark.parametrize(("provider", "extra"), VARIANTS)
async def test_refusal_is_rejected(llm: FakeLLMServer, provider: str, extra: dict[str, Any]) -> None:
    backend = backend_for(llm, provider, name="prude", model="m", **extra)
    llm.inject(Fault.refusal())
    with pytest.raises(AgentRejected, match="refused"):
        await collect(backend, request())
    await backend.aclose()


@pytest.mark.parametrize(("provider", "extra"), VARIANTS)
async def test_bad_request_is_rejected(llm: FakeLLMServer, provider: str, extra: dict[str, Any]) -> None:
    backend = backend_for(llm, provider, name="strict", model="m", **extra)
    llm.inject(Fault.http(400, "max_tokens is too large"))
    with pytest.raises(AgentRejected, match="400.*max_tokens is too large"):
        await collect(backend, request())
    await backend.aclose()


@pytest.mark.parametrize(
    ("provider", "key"), [("openai", OPENAI_KEY), ("anthropic", ANTHROPIC_KEY)], ids=["openai", "anthropic"]
)
async def test_key_never_appears_in_errors_or_logs(
    llm: FakeLLMServer, provider: str, key: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    backend = backend_for(llm, provider, name="leaky", model="m")
    # A provider that echoes the key back, as OpenAI's 401 does in part.
    llm.inject(Fault.http(401, f"Incorrect API key provided: {key}."))
    llm.inject(Fault.http(400, f"bad request for key {key}"))
    with pytest.raises(AgentRejected) as auth:
        await collect(backend, request())
    with pytest.raises(AgentRejected) as bad:
        await collect(backend, request())
    await backend.aclose()
    assert "OPENAI_API_KEY" in str(auth.value) or "ANTHROPIC_API_KEY" in str(auth.value)
    for err in (auth.value, bad.value):
        assert key not in str(err) and key not in repr(err.args)
    assert key not in caplog.text
    assert len(llm.log) == 2


async def test_missing_key_fails_before_any_request(llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEAM_OPENAI_KEY", raising=False)
    backend = backend_for(llm, "openai", name="team", model="m", key_env="TEAM_OPENAI_KEY")
    with pytest.raises(AgentRejected, match="no API key.*TEAM_OPENAI_KEY"):
        await collect(backend, request())
    assert await backend.check() == "no key: TEAM_OPENAI_KEY is not set"  # type: ignore[attr-defined]
    await backend.aclose()
    assert llm.log == []


@pytest.mark.parametrize(("provider", "extra"), VARIANTS)
async def test_check_reports_reachability(llm: FakeLLMServer, provider: str, extra: dict[str, Any]) -> None:
    backend = backend_for(llm, provider, model="m", **extra)
    assert await backend.check() == "ok"  # type: ignore[attr-defined]
    await llm.stop()
    unreachable = await backend.check()  # type: ignore[attr-defined]
    await backend.aclose()
    assert unreachable.startswith("cannot connect")


async def test_unknown_server_is_unavailable_not_a_crash() -> None:
    server = FakeLLMServer()
    await server.start()
    await server.stop()  # nothing listens on that port any more
    backend = backend_for(server, "openai", name="gone", model="m")
    with pytest.raises(AgentUnavailable, match="gone: cannot connect"):
        await collect(backend, request())
    await backend.aclose()
