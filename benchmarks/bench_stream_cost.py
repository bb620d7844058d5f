"""CPU per streamed draft on the client side: the SDK's chunk models against plain JSON chunks,
and the SDK's default HTTP transport (httpx) against its aiohttp one.

    .venv/bin/python -m benchmarks.bench_stream_cost          # drafts of 30 and 300 chunks
    .venv/bin/python -m benchmarks.bench_stream_cost --tiny   # a seconds-long smoke run

The fake OpenAI-compatible server runs in its own thread and event loop, so the CPU measured
(`time.thread_time` of the main thread) is the client's alone: the openai SDK's request, the
HTTP stream, and reading each chunk's text, finish reason and usage. "sdk" iterates the SDK's
stream (a pydantic model per chunk); "draftloop" is the agents' path (adapters/agents/sse.py:
the same stream read as JSON), for OpenAI's Chat Completions and Anthropic's Messages.
Both read the same fields; their texts are compared. "sdk" and "json" use the SDK's default
transport; "json+aiohttp" is what the agents run (the SDK's `DefaultAioHttpClient`: aiohttp's C
HTTP parser and one write per request instead of h11's pure-Python parser), each chunk parsed by
`sse.loads` (orjson where it is installed); "stdlib json" is the same with the standard library's
parser, side by side, and the last ratio is orjson's time to the standard library's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anthropic
import openai

from adapters.agents import sse
from adapters.agents.sse import chat_chunks, events
from tests.fakes.llm_server import FakeLLMServer


class ServerThread:
    """The fake LLM server in a thread of its own."""

    def __init__(self, words: int) -> None:
        self.words = words
        self.url = ""
        self.anthropic_url = ""
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        text = " ".join(f"word{i}" for i in range(self.words))
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with FakeLLMServer(chunk_words=1, reply=lambda model, prompt: text) as server:
            self.url = server.openai_base_url
            self.anthropic_url = server.anthropic_base_url
            self._ready.set()
            await self._stop.wait()

    def __enter__(self) -> ServerThread:
        self._thread.start()
        self._ready.wait(30)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


def _params() -> dict[str, Any]:
    return {
        "model": "bench-model",
        "messages": [{"role": "user", "content": "write it"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }


async def sdk_models(client: openai.AsyncOpenAI) -> str:
    parts: list[str] = []
    stream = await client.chat.completions.create(**_params())
    async with stream:
        async for chunk in stream:
            _ = chunk.usage
            for choice in chunk.choices:
                if choice.delta.content:
                    parts.append(choice.delta.content)
                _ = choice.finish_reason
    return "".join(parts)


async def plain_json(client: openai.AsyncOpenAI) -> str:
    parts: list[str] = []
    async with client.chat.completions.with_streaming_response.create(**_params()) as response:
        async for chunk in chat_chunks(response.http_response):
            _ = chunk.get("usage")
            for choice in chunk.get("choices") or ():
                content = (choice.get("delta") or {}).get("content")
                if content:
                    parts.append(content)
                _ = choice.get("finish_reason")
    return "".join(parts)


_MESSAGE: dict[str, Any] = {
    "model": "bench-model",
    "max_tokens": 1024,
    "messages": [{"role": "user", "content": "write it"}],
}


async def sdk_events(client: anthropic.AsyncAnthropic) -> str:
    parts: list[str] = []
    stream = await client.messages.create(**_MESSAGE, stream=True)
    async with stream:
        async for event in stream:
            if event.type == "content_block_delta" and event.delta.type == "text_delta":
                parts.append(event.delta.text)
            elif event.type == "message_delta":
                _ = event.delta.stop_reason, event.usage.output_tokens
    return "".join(parts)


async def plain_events(client: anthropic.AsyncAnthropic) -> str:
    parts: list[str] = []
    async with client.messages.with_streaming_response.create(**_MESSAGE, stream=True) as response:
        async for name, data in events(response.http_response.aiter_lines()):
            if name == "content_block_delta":
                delta = sse.loads(data)["delta"]
                if delta.get("type") == "text_delta":
                    parts.append(delta["text"])
            elif name == "message_delta":
                event = sse.loads(data)
                _ = event["delta"].get("stop_reason"), event["usage"].get("output_tokens")
    return "".join(parts)


async def cpu_per_draft(
    read: Callable[[Any], Awaitable[str]], url: str, n: int, *, aiohttp: bool = False
) -> tuple[float, str]:
    client: Any
    if "/v1" in url:
        http = {"http_client": openai.DefaultAioHttpClient()} if aiohttp else {}
        client = openai.AsyncOpenAI(api_key="bench", base_url=url, max_retries=0, **http)
    else:
        http = {"http_client": anthropic.DefaultAioHttpClient()} if aiohttp else {}
        client = anthropic.AsyncAnthropic(api_key="bench", base_url=url, max_retries=0, **http)
    try:
        text = await read(client)  # warm: connection, lazy imports, pydantic schemas
        samples = []
        for _ in range(3):
            start = time.thread_time()
            for _ in range(n):
                await read(client)
            samples.append((time.thread_time() - start) / n)
        return statistics.median(samples), text
    finally:
        await client.close()


async def main(tiny: bool) -> None:
    for var in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        os.environ.pop(var, None)
    n = 5 if tiny else 60
    print(f"client CPU per streamed draft (median of 3 x {n} drafts)")
    parser = "orjson" if sse.loads is not json.loads else "the standard library (orjson is not installed)"
    print(f"json+aiohttp parses with {parser}")
    print(
        f"  {'api':<10} {'chunks':>6} {'sdk (ms)':>9} {'json (ms)':>10} {'json+aiohttp (ms)':>18}"
        f" {'stdlib json (ms)':>17} {'ratios to sdk':>14} {'parser':>7}"
    )
    for words in (30, 300):
        with ServerThread(words) as server:
            for api, sdk_read, our_read, url in (
                ("openai", sdk_models, plain_json, server.url),
                ("anthropic", sdk_events, plain_events, server.anthropic_url),
            ):
                sdk, text_a = await cpu_per_draft(sdk_read, url, n)
                ours, text_b = await cpu_per_draft(our_read, url, n)
                served, text_c = await cpu_per_draft(our_read, url, n, aiohttp=True)
                chosen, sse.loads = sse.loads, json.loads
                try:
                    stdlib, text_d = await cpu_per_draft(our_read, url, n, aiohttp=True)
                finally:
                    sse.loads = chosen
                assert text_a == text_b == text_c == text_d, "the paths read different texts"
                print(
                    f"  {api:<10} {words:>6} {1000 * sdk:9.2f} {1000 * ours:10.2f} {1000 * served:18.2f}"
                    f" {1000 * stdlib:17.2f}  {ours / sdk:5.2f} {served / sdk:5.2f} {served / stdlib:7.2f}"
                )


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="a seconds-long smoke run")
    asyncio.run(main(parser.parse_args().tiny))


if __name__ == "__main__":
    cli()
