"""`draftloop digest` flags: --since/--until, --format json, --chart FILE, --post PLATFORM:CHANNEL."""

from __future__ import annotations

import asyncio
import json
import struct
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.app.cli import app
from storage.engine import Database
from storage.migrate import upgrade
from tests.digest.dataset import STUDY, at, insert_specs


@pytest.fixture
def filled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cli.db"

    async def fill() -> None:
        url = f"sqlite+aiosqlite:///{path}"
        await upgrade(url)
        db = Database(url)
        await insert_specs(db, STUDY, decided_at=at(2026, 11, 18, 10))
        await db.dispose()

    asyncio.run(fill())
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{path}")
    monkeypatch.setenv("DRAFTLOOP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DRAFTLOOP_CONFIG", raising=False)
    return path


def test_json_and_chart_file(filled: Path, tmp_path: Path) -> None:
    chart = tmp_path / "out" / "digest.png"
    chart.parent.mkdir()
    args = ["digest", "--since", "2026-11-16", "--until", "2026-11-23", "--format", "json", "--chart", str(chart)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["period"] == {"since": "2026-11-16", "until": "2026-11-23", "tz": "UTC"}
    assert (data["decided"], data["agent_alone"]["k"], data["with_feedback"]["k"]) == (214, 85, 132)
    png = chart.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", png[16:24]) == (1200, 600)


def test_a_period_outside_the_data_is_empty(filled: Path) -> None:
    args = ["digest", "--since", "2026-11-23", "--until", "2026-11-30", "--format", "json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["decided"] == 0


def test_text_and_post_to_the_console(filled: Path) -> None:
    args = ["digest", "--since", "2026-11-16", "--until", "2026-11-23", "--post", "console:-"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    # printed once: the console platform it posted to is this terminal
    assert result.stdout.count("Agents finished 40% alone; with expert feedback 62% (+22 pts)") == 1


@pytest.mark.parametrize("post", ["nope:C1", "slack", "discord:"])
def test_bad_post_target_is_a_usage_error(filled: Path, post: str) -> None:
    result = CliRunner().invoke(app, ["digest", "--post", post])
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_version_and_an_unknown_log_level(monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    shown = runner.invoke(app, ["--version"])
    assert shown.exit_code == 0 and shown.output.startswith("draftloop ")
    monkeypatch.setenv("DRAFTLOOP_LOG_LEVEL", "LOUD")
    refused = runner.invoke(app, ["digest"])
    assert refused.exit_code == 2
    assert "'LOUD' is not a log level" in refused.output and "Traceback" not in refused.output
