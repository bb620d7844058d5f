"""`draftloop route CATEGORY` over a decided history on SQLite and PostgreSQL: the installed command,
its JSON contract and its one-line refusals."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from bot.states import STORED
from storage.engine import Database
from tests.orchestrator.test_orchestrator_console import AGENTS

TOML = AGENTS + '[categories.writing]\nagents = ["bad", "good"]\n'


async def _history(url: str) -> None:
    """Six projects drafted (v1) by good and accepted, six by bad and rejected, stored directly."""
    from datetime import UTC, datetime

    from storage import projects, versions

    db = Database(url, states=STORED)
    now = datetime(2026, 11, 18, 9, tzinfo=UTC)
    try:
        async with db.session() as session:
            for i in range(12):
                agent, state = ("good", "accepted") if i < 6 else ("bad", "rejected")
                project = await projects.create_project(
                    session=session, platform="console", channel="C1", thread_id=f"t{i}",
                    request_message_id=f"r{i}", requester_id="alice", brief="a post", category="writing",
                    agent=agent, state=state, created_at=now, updated_at=now,
                )  # fmt: skip
                assert project.id is not None
                await versions.add_version(
                    session=session, project_id=project.id, number=1, text="draft", agent=agent,
                    cost_usd=0.01, created_at=now,
                )  # fmt: skip
    finally:
        await db.dispose()


def _route(tmp_path: Path, db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "draftloop.toml"
    config.write_text(TOML, encoding="utf-8")
    env = {**os.environ, "DATABASE_URL": db_url, "DRAFTLOOP_DATA_DIR": str(tmp_path), "DRAFTLOOP_CONFIG": str(config)}
    command = [sys.executable, "-m", "bot", "route", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)


def test_route_explains_the_choice(tmp_path: Path, db_url: str, db: Database) -> None:
    asyncio.run(_history(db_url))
    done = _route(tmp_path, db_url, "writing", "--format", "JSON")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert list(data) == ["category", "agent", "reason", "candidates"]
    assert data["category"] == "writing" and data["agent"] == "good"
    assert data["reason"].startswith("good · accepted 6/6 here, lower bound 0.61; Thompson sampling tries the others")
    good = next(c for c in data["candidates"] if c["agent"] == "good")
    assert good == {
        "agent": "good", "decided": 6, "accepted": 6, "rate": 1.0,
        "lower_bound": 0.6097, "cost_per_accepted_usd": 0.01,
    }  # fmt: skip
    text = _route(tmp_path, db_url, "writing")
    assert text.returncode == 0 and text.stdout.startswith("writing → good: good · accepted 6/6 here")
    assert "  bad    6        0         0.00  0.00         —" in text.stdout
    wrong = _route(tmp_path, db_url, "poetry")
    assert wrong.returncode == 2 and "'poetry' is not a category; use one of writing" in wrong.stderr
    assert "Traceback" not in wrong.stderr
