"""The console scenario with DRAFTLOOP_AGENT=openai:… and anthropic:… against the fake server:
the same script gives the same transcript through either provider's wire format."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import SQLModel

from adapters.chat.console.service import ConsoleService
from bot.app.runtime import Runtime
from bot.settings import Settings
from storage.engine import Database
from tests.agents.conftest import ANTHROPIC_KEY, OPENAI_KEY
from tests.fakes.llm_server import FakeLLMServer

SCRIPT = "\n".join(
    [
        "write a 300-word blog post on tidy data for analysts",
        "#1 make it shorter and add an example table",
        "#1 accept",
        "[data-science] summarise the attached sales figures by region",
        "/status",
        "",
    ]
)
ROOT = Path(__file__).resolve().parents[2]


async def _transcript(
    db: Database, llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, agent: str
) -> str:
    monkeypatch.setenv("DRAFTLOOP_AGENT", agent)
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", llm.openai_base_url)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", llm.anthropic_base_url)
    monkeypatch.setenv("DRAFTLOOP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DRAFTLOOP_CONFIG", raising=False)
    for var in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.setenv(var, "alice")
    runtime = Runtime(Settings(), db=db)
    out = io.StringIO()
    try:
        await ConsoleService(runtime, stdin=io.StringIO(SCRIPT), out=out).run()
    finally:
        await runtime.agents.aclose()
    return out.getvalue()


async def test_console_scenario_same_transcript_through_openai_and_anthropic(
    db: Database, llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    via_openai = await _transcript(db, llm, monkeypatch, tmp_path, "openai:fake-model")
    openai_calls = [(r.api, r.status) for r in llm.log]
    async with db.engine.begin() as conn:  # a fresh store for the second run: project numbers restart at 1
        for table in reversed(SQLModel.metadata.sorted_tables):
            await conn.execute(text(f'DELETE FROM "{table.name}"'))
        if db.dialect == "postgresql":
            await conn.execute(text("ALTER SEQUENCE projects_id_seq RESTART WITH 1"))
    llm.log.clear()
    via_anthropic = await _transcript(db, llm, monkeypatch, tmp_path, "anthropic:fake-model")
    anthropic_calls = [(r.api, r.status) for r in llm.log]

    assert openai_calls == [("chat", 200)] * 3  # v1, v2 of #1 and v1 of #2
    assert anthropic_calls == [("messages", 200)] * 3
    assert via_openai.replace("openai:fake-model", "anthropic:fake-model") == via_anthropic
    # The transcript shows what happened, and never a key.
    assert "agent openai:fake-model (fake-model)" in via_openai
    assert "Took up: alice: make it shorter and add an example table" in via_openai
    assert "#1 accepted at v2 by alice" in via_openai
    assert "data-science" in via_openai
    for key in (OPENAI_KEY, ANTHROPIC_KEY):
        assert key not in via_openai and key not in via_anthropic


def test_draftloop_chat_command_against_the_fake(tmp_path: Path) -> None:
    """The real `draftloop chat` process, configured only through the environment."""

    async def run() -> tuple[str, str, list[tuple[str, int]]]:
        async with FakeLLMServer() as server:
            env = {
                **os.environ,
                "DRAFTLOOP_AGENT": "openai:fake-model",
                "OPENAI_API_KEY": OPENAI_KEY,
                "OPENAI_BASE_URL": server.openai_base_url,
                "DRAFTLOOP_DATA_DIR": str(tmp_path / "data"),
                "LOGNAME": "alice",
                "USER": "alice",
                "DRAFTLOOP_LOG_LEVEL": "DEBUG",
            }
            env.pop("DATABASE_URL", None)
            env.pop("DRAFTLOOP_CONFIG", None)
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot.app.cli",
                "chat",
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=ROOT,
                env=env,
            )
            out, err = await asyncio.wait_for(proc.communicate(SCRIPT.encode()), 50)
            assert proc.returncode == 0, err.decode()
            return out.decode(), err.decode(), [(r.api, r.status) for r in server.log]

    out, err, calls = asyncio.run(run())
    assert calls == [("chat", 200)] * 3
    assert "[#1] draftloop (v2 · accepted): ✅ #1 accepted at v2 by alice." in out
    assert OPENAI_KEY not in out and OPENAI_KEY not in err
