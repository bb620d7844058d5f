"""`serve` and `worker` run on uvloop where it is installed (DRAFTLOOP_EVENT_LOOP=auto), on asyncio's
loop when asked, and say so when uvloop is asked for and missing."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from bot.app.event_loop import LoopUnavailable, loop_factory, loop_name
from tests.core.worker_process import worker_until


def test_auto_and_uvloop_pick_uvloop_and_asyncio_picks_the_standard_loop() -> None:
    pytest.importorskip("uvloop")
    for choice, expected in (("auto", "uvloop"), ("uvloop", "uvloop"), ("asyncio", "asyncio")):
        with asyncio.Runner(loop_factory=loop_factory(choice)) as runner:
            assert runner.run(_name_of_running_loop()) == expected, choice


async def _name_of_running_loop() -> str:
    return loop_name(asyncio.get_running_loop())


def test_without_uvloop_auto_falls_back_and_uvloop_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # what `import uvloop` meets where it is not installed
    assert loop_factory("auto") is None
    with pytest.raises(LoopUnavailable, match="uvloop is not installed here"):
        loop_factory("uvloop")


def _worker_says_its_loop(tmp_path: Path, choice: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DISCORD_", "DRAFTLOOP_", "DATABASE"))}
    env.update(DRAFTLOOP_DATA_DIR=str(tmp_path), DRAFTLOOP_LOG_LEVEL="DEBUG")
    if choice is not None:
        env["DRAFTLOOP_EVENT_LOOP"] = choice
    said, returncode = worker_until(env, "event loop:")
    assert returncode == 0 and "Traceback" not in said, said[-2000:]
    return said


def test_the_worker_runs_on_uvloop_by_default_and_on_asyncio_when_asked(tmp_path: Path) -> None:
    pytest.importorskip("uvloop")
    assert "event loop: uvloop" in _worker_says_its_loop(tmp_path / "a", None)
    assert "event loop: asyncio" in _worker_says_its_loop(tmp_path / "b", "asyncio")
