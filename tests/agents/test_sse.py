"""The chat stream read as JSON (adapters/agents/sse.py): SSE framing, [DONE], in-band errors."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import openai
import pytest

from adapters.agents.sse import chat_chunks, events


async def _lines(*lines: str) -> AsyncIterator[str]:
    for line in lines:
        yield line


class _Response:
    def __init__(self, *lines: str) -> None:
        self.request = httpx2.Request("POST", "http://127.0.0.1/v1/chat/completions")
        self._lines = lines

    def aiter_lines(self) -> AsyncIterator[str]:
        return _lines(*self._lines)


async def _all(it: AsyncIterator[Any]) -> list[Any]:
    return [x async for x in it]


async def test_events_follow_the_sse_rules() -> None:
    got = await _all(
        events(
            _lines(
                ": keep-alive comment",
                "data: one",
                "",
                "event: named",
                "data:two",
                "data:  three",
                "",
                "",
                "id: 7",
                "data: last",  # no blank line before the end: still an event
            )
        )
    )
    assert got == [(None, "one"), ("named", "two\n three"), (None, "last")]


async def test_chunks_stop_at_done_and_skip_named_events() -> None:
    chunk = {"choices": [{"delta": {"content": "hi"}}]}
    response = _Response(
        f"data: {json.dumps(chunk)}",
        "",
        "event: thread.run",
        'data: {"other": 1}',
        "",
        "data: [DONE]",
        "",
        f"data: {json.dumps(chunk)}",
        "",
    )
    assert await _all(chat_chunks(response)) == [chunk]


@pytest.mark.parametrize(
    ("error", "message"),
    [({"message": "overloaded", "type": "server_error"}, "overloaded"), ("boom", "An error occurred during streaming")],
)
async def test_an_error_frame_raises_the_sdks_api_error(error: Any, message: str) -> None:
    response = _Response('data: {"choices": []}', "", f"data: {json.dumps({'error': error})}", "")
    with pytest.raises(openai.APIError) as caught:
        await _all(chat_chunks(response))
    assert caught.value.message == message and caught.value.body == error
