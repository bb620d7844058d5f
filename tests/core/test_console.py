"""Console scenarios from scripted transcripts: the same script gives the same transcript."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from adapters.chat.console.service import ConsoleService

FULL_LOOP = """\
[writing] a 600-word post on remote onboarding
#1 Open with the first week, not the tooling. 20m
#1 accept
/digest
"""


async def _run(make_runtime, settings_factory, script: str, toml: str | None = None) -> str:  # type: ignore[no-untyped-def]
    rt = make_runtime(settings_factory(toml=toml))
    out = io.StringIO()
    console = ConsoleService(rt, stdin=io.StringIO(script), out=out)
    console.speaker = "alice"
    await console.run()
    return out.getvalue()


async def test_full_loop_transcript(make_runtime, settings_factory) -> None:
    out = await _run(make_runtime, settings_factory, FULL_LOOP)
    lines = out.splitlines()
    assert lines[0] == "alice> [writing] a 600-word post on remote onboarding"
    assert lines[1].startswith("[#1] draftloop (v0 · drafting): Project #1 · writing · agent offline")
    assert "[#1] draftloop (v1 · in_review):" in lines
    assert "[#1] draftloop (v2 · in_review):" in lines
    assert "  | - Took up alice's point (on v1): \u201cOpen with the first week, not the tooling. 20m\u201d" in lines
    assert "[#1] draftloop (v2 · accepted): ✅ #1 accepted at v2 by alice." in lines
    assert "  1 opened · 1 decided · 1 accepted" in lines
    assert "expert minutes 20 stated + 0 estimated" in out


async def test_same_script_same_transcript(make_runtime, settings_factory) -> None:
    first = await _run(make_runtime, settings_factory, FULL_LOOP.replace("/digest\n", ""))
    # a second project in the same database gets #2, the transcript is otherwise the same shape
    second = await _run(make_runtime, settings_factory, FULL_LOOP.replace("/digest\n", "").replace("#1", "#2"))
    assert first.replace("#1", "#N") == second.replace("#2", "#N")


async def test_three_rounds_reject_and_reply_to_closed(make_runtime, settings_factory) -> None:
    script = "write a product FAQ\n#1 add pricing\n#1 add refunds\n#1 add shipping\n#1 reject\n#1 wait, one more\n"
    out = await _run(make_runtime, settings_factory, script)
    assert "[#1] draftloop (v4 · in_review):" in out
    assert "❌ #1 rejected at v4 by alice." in out
    assert "#1 is already rejected; your note is kept. Start a new request to continue." in out


async def test_unknown_thread_and_not_allowed(make_runtime, settings_factory) -> None:
    script = "#99 accept\n[writing] a post\n/as mallory\n#1 accept\n/as alice\n#1 status\n/bogus\n/quit\nnever read\n"
    out = await _run(make_runtime, settings_factory, script, toml='[categories.writing]\nexperts = ["ed"]\n')
    assert "[draftloop] draftloop (error): There is no project #99. `/status` lists the open ones." in out
    assert "(now speaking as mallory)" in out
    assert "[#1] draftloop (notice) → mallory only: Not allowed: only the requester" in out
    assert "#1 · in review · v1 · writing · a post" in out
    assert "Unknown command `bogus`" in out
    assert "never read" not in out


async def test_aside_and_help(make_runtime, settings_factory) -> None:
    out = await _run(make_runtime, settings_factory, "a post\n#1 // just thinking aloud\n/help\n")
    assert "[#1] draftloop (v2" not in out
    assert "draftloop* turns a request into an AI draft" in out


def test_draftloop_chat_command_runs_the_loop(tmp_path: Path, db_url: str, db) -> None:  # type: ignore[no-untyped-def]
    """The installed console script, as the README runs it, on both databases."""
    env = {**os.environ, "DATABASE_URL": db_url, "DRAFTLOOP_DATA_DIR": str(tmp_path), "DRAFTLOOP_AGENT": "offline"}
    env.pop("DRAFTLOOP_CONFIG", None)
    exe = Path(sys.executable).parent / "draftloop"
    done = subprocess.run(
        [str(exe), "chat"],
        input=FULL_LOOP.replace("/digest\n", ""),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "✅ #1 accepted at v2" in done.stdout
    assert "Traceback" not in done.stderr
    digest = subprocess.run(
        [str(exe), "digest", "--since", "2020-01-01", "--until", "2100-01-01", "--format", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert digest.returncode == 0, digest.stderr
    data = json.loads(digest.stdout)
    assert (data["opened"], data["decided"], data["accepted"]) == (1, 1, 1)
    assert data["agent_alone"]["k"] == 0 and data["with_feedback"]["rate"] == 1.0
    assert [c["k"] for c in data["by_cycle"]] == [0, 1]
    assert data["expert_minutes"] == {"stated": 20, "estimated": 0}


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["--help"], 0, "chat"),
        (["digest", "--help"], 0, "--since"),
        (["db", "upgrade", "--help"], 0, "migrations"),
        (["nope"], 2, "No such command"),
        (["digest", "--since", "yesterday"], 2, "is not a date"),
        (["digest", "--format", "xml"], 2, "use text or json"),
    ],
)
def test_cli_usage_and_exit_codes(tmp_path: Path, args: list[str], code: int, needle: str) -> None:
    env = {**os.environ, "DRAFTLOOP_DATA_DIR": str(tmp_path)}
    env.pop("DATABASE_URL", None)
    exe = Path(sys.executable).parent / "draftloop"
    done = subprocess.run([str(exe), *args], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == code, done.stdout + done.stderr
    assert needle.lower() in (done.stdout + done.stderr).lower()


def test_bad_config_is_exit_2_with_a_clear_message(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("timezone = 'Mars/Olympus'\n")
    env = {**os.environ, "DRAFTLOOP_DATA_DIR": str(tmp_path), "DRAFTLOOP_CONFIG": str(cfg)}
    exe = Path(sys.executable).parent / "draftloop"
    done = subprocess.run([str(exe), "digest"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "unknown time zone 'Mars/Olympus'" in done.stderr
