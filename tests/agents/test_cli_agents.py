"""`draftloop agents`: routes, key presence and reachability, checked against the fake server."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from tests.agents.conftest import ANTHROPIC_KEY, OPENAI_KEY
from tests.fakes.llm_server import FakeLLMServer

ROOT = Path(__file__).resolve().parents[2]
CONFIG = """
triage_agent = "sorter"

[agents.writer]
provider = "openai"
model = "gpt-fake"
price_input = 2.5
price_output = 10

[agents.claude]
provider = "anthropic"
model = "claude-fake"

[agents.gone]
provider = "openai-compatible"
model = "llama"
base_url = "{dead_url}"

[agents.sorter]
provider = "openai"
model = "mini"
key_env = "DRAFTLOOP_TEST_SORTER_KEY"

[categories.writing]
agent = "writer"
fallback = ["claude", "gone"]
"""


async def _agents_command(tmp_path: Path, *args: str) -> tuple[int, str, str, int]:
    dead = FakeLLMServer()
    await dead.start()
    dead_url = dead.openai_base_url
    await dead.stop()  # nothing listens there any more
    config = tmp_path / "draftloop.toml"
    config.write_text(CONFIG.format(dead_url=dead_url), encoding="utf-8")
    async with FakeLLMServer(api_key=OPENAI_KEY) as server:
        env = {
            **os.environ,
            "DRAFTLOOP_CONFIG": str(config),
            "DRAFTLOOP_AGENT": "writer",
            "OPENAI_API_KEY": OPENAI_KEY,
            "OPENAI_BASE_URL": server.openai_base_url,
            "ANTHROPIC_API_KEY": ANTHROPIC_KEY,  # the fake only accepts the OpenAI key: 401
            "ANTHROPIC_BASE_URL": server.anthropic_base_url,
            "DRAFTLOOP_DATA_DIR": str(tmp_path / "data"),
        }
        env.pop("DRAFTLOOP_TEST_SORTER_KEY", None)
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.app.cli",
            "agents",
            *args,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=ROOT,
            env=env,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 50)
        models_calls = len(server.requests(api="models"))
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode(), models_calls


def test_agents_lists_routes_and_checks_keys_and_reachability(tmp_path: Path) -> None:
    code, out, err, calls = asyncio.run(_agents_command(tmp_path))
    lines = {line.split(":", 1)[0].strip(" *"): line for line in out.splitlines() if line.strip()}
    assert set(lines) == {"writer", "claude", "gone", "sorter"}
    assert lines["writer"].startswith("* ") and "used by: default, writing" in lines["writer"]
    assert lines["writer"].endswith("· ok") and "$2.5/$10/$0" in lines["writer"]
    assert "key rejected (401), check ANTHROPIC_API_KEY" in lines["claude"]
    assert "writing fallback" in lines["gone"] and "cannot connect" in lines["gone"]
    assert "key DRAFTLOOP_TEST_SORTER_KEY: MISSING" in lines["sorter"] and "used by: triage" in lines["sorter"]
    assert code == 1  # agents in use are failing
    assert calls == 2  # writer and claude were probed; sorter has no key, gone has no server
    assert OPENAI_KEY not in out + err and ANTHROPIC_KEY not in out + err


def test_agents_without_check_makes_no_calls(tmp_path: Path) -> None:
    code, out, _, calls = asyncio.run(_agents_command(tmp_path, "--no-check"))
    assert code == 0 and calls == 0
    assert out.count("not checked") == 4
