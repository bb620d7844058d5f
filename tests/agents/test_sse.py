"""The chat stream read as JSON (adapters/agents/sse.py): SSE framing, [DONE], in-band errors."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import openai
import pytest

from adapters.agents import sse
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


# What a model may send that orjson refuses and the standard library reads, and plain chunks.
_CHUNKS = [
    '{"choices": [{"delta": {"content": "caf\\u00e9 \\ud83d\\ude00"}, "finish_reason": null}]}',
    '{"choices": [{"delta": {"content": "a lone \\ud800 surrogate"}}]}',
    '{"usage": {"prompt_tokens": NaN}}',
]


@pytest.mark.parametrize("text", _CHUNKS)
def test_a_chunk_parses_as_the_standard_library_parses_it(text: str) -> None:
    assert repr(sse.loads(text)) == repr(json.loads(text))


def test_a_broken_chunk_fails_as_the_standard_librarys_error() -> None:
    with pytest.raises(json.JSONDecodeError):
        sse.loads('{"choices": [')


async def test_the_standard_library_path_reads_the_same_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    response = [line for text in _CHUNKS for line in (f"data: {text}", "")]
    fast = await _all(chat_chunks(_Response(*response)))
    monkeypatch.setattr(sse, "loads", json.loads)
    assert repr(await _all(chat_chunks(_Response(*response)))) == repr(fast)


def test_without_orjson_the_standard_library_parses() -> None:
    code = (
        "import sys, json; sys.modules['orjson'] = None; "
        "from adapters.agents import sse; "
        "assert sse.loads is json.loads; print(sse.loads('{\"a\": 1}'))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "{'a': 1}"


def test_orjson_is_what_parses_where_it_is_installed() -> None:
    orjson = pytest.importorskip("orjson")
    assert sse.loads is not json.loads
    assert sse.orjson is orjson
