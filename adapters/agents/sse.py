"""Server-sent events of a model's stream, read as plain JSON (OpenAI Chat Completions here, the
Anthropic Messages events in anthropic_agent.py).

The SDKs turn every chunk into a pydantic model; draftloop reads four fields of each. Doing it
on the dicts costs a fraction of the CPU (`python -m benchmarks.bench_stream_cost`), and
a draft is hundreds of chunks. What the SDK does besides is kept: `[DONE]` ends the stream, and
an in-band error frame raises the SDK's own `openai.APIError`, so the error ladder is unchanged.

Each chunk is parsed by `loads`: orjson's where it is installed (a dependency wherever it has a
wheel: a chunk in a quarter of the standard library's time), the standard library's otherwise. What
orjson refuses and the standard library reads (a lone surrogate escape, NaN) is read by the standard
library, so a stream's text and counts parse the same either way (orjson makes an integer beyond 64
bits a float; no field read here carries one).
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from typing import Any, Protocol

import openai

try:
    import orjson
except ImportError:  # pragma: no cover - CPython on the platforms with a wheel has it
    orjson = None  # type: ignore[assignment]


def _orjson_first(data: str) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)  # what orjson refuses and JSON allows, or the same error


loads: Callable[[str], Any] = json.loads if orjson is None else _orjson_first


class _Response(Protocol):
    @property
    def request(self) -> Any: ...

    def aiter_lines(self) -> AsyncGenerator[str, None]: ...


async def events(lines: AsyncGenerator[str, None]) -> AsyncGenerator[tuple[str | None, str], None]:
    """(event name, data) per event of an SSE stream (the WHATWG rules: blank line ends an event,
    `:` starts a comment, several `data` lines join with newlines). `lines` is closed with it."""
    name: str | None = None
    data: list[str] = []
    async with aclosing(lines):
        async for line in lines:
            if not line:
                if data:
                    yield name, "\n".join(data)
                name, data = None, []
                continue
            if line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            if value.startswith(" "):
                value = value[1:]
            if field == "data":
                data.append(value)
            elif field == "event":
                name = value
    if data:
        yield name, "\n".join(data)


async def chat_chunks(response: _Response) -> AsyncGenerator[dict[str, Any], None]:
    """Each chunk of a chat completion stream, as the JSON object the server sent."""
    async with aclosing(events(response.aiter_lines())) as stream:
        async for name, data in stream:
            if data.startswith("[DONE]"):
                # Read to the end of the body, as the SDK does: httpx closes a connection whose
                # response was left unread, so the next call would open a new one.
                async for _ in stream:
                    pass
                return
            chunk = loads(data)
            if isinstance(chunk, dict) and chunk.get("error"):
                error = chunk["error"]
                message = error.get("message") if isinstance(error, dict) else None
                if not isinstance(message, str) or not message:
                    message = "An error occurred during streaming"
                raise openai.APIError(message=message, request=response.request, body=error)
            if name not in (None, "", "message") or not isinstance(chunk, dict):
                continue  # not a chunk (the SDK skips named events it does not know, too)
            yield chunk
