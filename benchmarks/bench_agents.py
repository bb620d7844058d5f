"""Agent pool throughput and isolation against the local fake LLM server (real SDKs, 127.0.0.1).

    .venv/bin/python -m benchmarks.bench_agents          # full run (~20 s)
    .venv/bin/python -m benchmarks.bench_agents --tiny   # seconds-long smoke run

1. Throughput: N drafts on one agent whose server answers after a fixed latency, for several
   per-agent concurrency limits; the ratio is the speed-up over a limit of 1.
2. Isolation: the latency of a fast agent's drafts alone, and while a slow agent is saturated
   with its own queue; the ratio should stay near 1.
3. Adapter overhead: one streamed draft with no server latency, per wire format.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from bot.agents import AgentPool
from bot.ports import DraftRequest
from bot.settings import Settings
from tests.fakes.llm_server import FakeLLMServer

CONFIG = """
[agents.fast]
provider = "openai"
model = "fast-model"
max_concurrency = {limit}
timeout = 60

[agents.slow]
provider = "anthropic"
model = "slow-model"
max_concurrency = 2
timeout = 60

[agents.responses]
provider = "openai"
api = "responses"
model = "resp-model"

[agents.local]
provider = "openai-compatible"
model = "local-model"
"""


def _request(i: int) -> DraftRequest:
    brief = f"Write a short note number {i} on tidy data."
    return DraftRequest(
        project_number=i,
        version=1,
        category="writing",
        brief=brief,
        system="You produce finished deliverables.",
        messages=(("user", brief),),
    )


def _pool(server: FakeLLMServer, folder: Path, limit: int) -> AgentPool:
    path = folder / f"agents-{limit}.toml"
    path.write_text(CONFIG.format(limit=limit), encoding="utf-8")
    settings = Settings(
        draftloop_config=path,
        openai_api_key="sk-bench",
        anthropic_api_key="sk-ant-bench",
        openai_base_url=server.openai_base_url,
        anthropic_base_url=server.anthropic_base_url,
    )
    return AgentPool(settings)


async def _timed(pool: AgentPool, agent: str, i: int) -> float:
    started = time.perf_counter()
    await pool.draft(agents=[agent], request=_request(i))
    return time.perf_counter() - started


async def throughput(server: FakeLLMServer, folder: Path, n: int, limits: list[int]) -> list[tuple[int, float]]:
    rows = []
    for limit in limits:
        pool = _pool(server, folder, limit)
        started = time.perf_counter()
        await asyncio.gather(*(_timed(pool, "fast", i) for i in range(n)))
        rows.append((limit, time.perf_counter() - started))
        await pool.aclose()
    return rows


async def isolation(server: FakeLLMServer, folder: Path, n_fast: int, n_slow: int) -> tuple[float, float]:
    pool = _pool(server, folder, 4)
    alone = await asyncio.gather(*(_timed(pool, "fast", i) for i in range(n_fast)))
    slow = [asyncio.create_task(_timed(pool, "slow", i)) for i in range(n_slow)]
    await asyncio.sleep(0.01)
    loaded = await asyncio.gather(*(_timed(pool, "fast", i) for i in range(n_fast)))
    for task in slow:
        task.cancel()
    await asyncio.gather(*slow, return_exceptions=True)
    await pool.aclose()
    return statistics.median(alone), statistics.median(loaded)


async def overhead(server: FakeLLMServer, folder: Path, rounds: int) -> list[tuple[str, float]]:
    pool = _pool(server, folder, 4)
    rows = []
    for agent in ("fast", "responses", "local", "slow"):
        await _timed(pool, agent, 0)  # warm the connection
        times = [await _timed(pool, agent, i) for i in range(rounds)]
        rows.append(
            (
                f"{pool.spec(agent).provider}/{pool.spec(agent).api if agent != 'slow' else 'messages'}",
                statistics.median(times),
            )
        )
    await pool.aclose()
    return rows


async def main(tiny: bool) -> None:
    latency = 0.02 if tiny else 0.1
    n = 16 if tiny else 64
    limits = [1, 4] if tiny else [1, 4, 16]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        async with FakeLLMServer(latency=latency) as server:
            server.latency_by_model["slow-model"] = 2.0 if tiny else 10.0
            print(f"fake server latency {latency * 1000:.0f} ms per call, {n} drafts\n")
            print("| per-agent limit | wall time (s) | drafts/s | speed-up vs limit 1 |")
            print("|---:|---:|---:|---:|")
            rows = await throughput(server, folder, n, limits)
            base = rows[0][1]
            for limit, wall in rows:
                print(f"| {limit} | {wall:.2f} | {n / wall:.1f} | {base / wall:.1f}x |")

            alone, loaded = await isolation(server, folder, 8 if tiny else 32, 6)
            print("\n| fast agent median latency | alone (ms) | with a saturated slow agent (ms) | ratio |")
            print("|---|---:|---:|---:|")
            print(f"| openai/chat | {alone * 1000:.0f} | {loaded * 1000:.0f} | {loaded / alone:.2f} |")

        async with FakeLLMServer() as server:
            print("\n| wire format | median streamed draft, no server latency (ms) |")
            print("|---|---:|")
            for name, seconds in await overhead(server, folder, 5 if tiny else 30):
                print(f"| {name} | {seconds * 1000:.1f} |")


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tiny", action="store_true", help="a seconds-long smoke run")
    args = parser.parse_args()
    asyncio.run(main(args.tiny))


if __name__ == "__main__":
    cli()
