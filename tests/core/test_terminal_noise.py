"""A calm terminal: at INFO, a start of `serve` or `worker` shows draftloop's lines, not the
libraries' chatter; DRAFTLOOP_LOG_LEVEL=DEBUG shows that chatter too, labelled DEBUG.

Each level runs in a fresh process (both at once): discord.py warns about voice once per process,
so only a new one shows whether the warning is there. The script goes through what the commands do
at start: the process's log set-up, a Runtime on a new SQLite file (Alembic migrates it), the
services of both roles (the bolt app, the Discord client), the scheduler started and stopped.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.app.log_config import DemoteChatter, setup_logging

START = """
import asyncio, sys
from bot.app.log_config import setup_logging
from bot.app.runtime import Runtime, load_services
from bot.app.scheduler import JobScheduler
from bot.settings import load_settings

async def main() -> None:
    settings = load_settings()
    setup_logging(sys.argv[1], settings=settings)
    runtime = await Runtime.create(settings)
    services = load_services(runtime, "web") + load_services(runtime, "worker")
    assert {"discord", "slack"} <= {s.name for s in services}, services
    scheduler = JobScheduler(runtime, catch_up=False)
    await scheduler.start()
    await scheduler.stop()
    await runtime.close()
    logging.getLogger("draftloop").info("started")

import logging
asyncio.run(main())
"""

CHATTER = {
    "alembic": "alembic.runtime.migration: Running upgrade  -> 0001",
    "apscheduler": "apscheduler.scheduler: Adding job tentatively",
    "slack_bolt": "As you gave `client` as well, `token` will be unused",
    "PyNaCl": "discord.client: PyNaCl is not installed, voice will NOT be supported",
    "davey": "discord.client: davey is not installed, voice will NOT be supported",
}


def _starts(tmp_path: Path, *levels: str) -> dict[str, str]:
    procs = {}
    for level in levels:
        env = {
            **os.environ,
            "DRAFTLOOP_DATA_DIR": str(tmp_path / level),
            "SLACK_BOT_TOKEN": "xoxb-test-token",
            "SLACK_SIGNING_SECRET": "s3cret",
            "SLACK_API_URL": "http://127.0.0.1:9/api/",
            "DISCORD_TOKEN": "fake-discord-token",
        }
        for name in ("DATABASE_URL", "DRAFTLOOP_CONFIG", "DRAFTLOOP_AGENT", "SLACK_APP_TOKEN"):
            env.pop(name, None)
        procs[level] = subprocess.Popen(
            [sys.executable, "-c", START, level], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
    logs = {}
    for level, proc in procs.items():
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        logs[level] = err
    return logs


def test_a_start_at_info_shows_no_library_chatter_and_debug_shows_it(tmp_path: Path) -> None:
    logs = _starts(tmp_path, "INFO", "DEBUG")
    info, debug = logs["INFO"], logs["DEBUG"]
    assert "INFO draftloop: started" in info  # our own lines still show
    for what, line in CHATTER.items():
        assert line not in info, f"{what} at INFO:\n{info}"
        assert line in debug, f"{what} missing at DEBUG:\n{debug}"
    chatter = [x for x in debug.splitlines() if any(line in x for line in CHATTER.values())]
    assert chatter and all(" DEBUG " in x for x in chatter), chatter
    assert not [x for x in info.splitlines() if " alembic" in x or " apscheduler" in x], info


@pytest.mark.parametrize(
    ("logger", "level", "message", "kept_at_info"),
    [
        ("alembic.runtime.migration", logging.INFO, "Running upgrade 0001 -> 0002", False),
        ("alembic.runtime.migration", logging.WARNING, "a real problem", True),
        ("apscheduler.executors.default", logging.WARNING, "Run time of job was missed by 0:01:00", True),
        ("apscheduler.scheduler", logging.INFO, "Scheduler started", False),
        ("slack_bolt.AsyncApp", logging.WARNING, "As you gave `client` as well, `token` will be unused.", False),
        ("slack_bolt.AsyncApp", logging.WARNING, "Something else bolt warns about", True),
        ("discord.client", logging.WARNING, "PyNaCl is not installed, voice will NOT be supported", False),
        ("discord.gateway", logging.WARNING, "Can't keep up, shard ID None websocket is 40.0s behind.", True),
        ("alembicx", logging.INFO, "not Alembic", True),
    ],
)
def test_only_the_chatter_is_demoted(logger: str, level: int, message: str, kept_at_info: bool) -> None:
    record = logging.LogRecord(logger, level, __file__, 1, message, (), None)
    root = logging.getLogger()
    for root_level, expect in ((logging.INFO, kept_at_info), (logging.DEBUG, True)):
        root.setLevel(root_level)
        assert DemoteChatter().filter(record) is expect
    assert (record.levelno == logging.DEBUG) is not kept_at_info


def test_the_handler_of_setup_logging_demotes(tmp_path: Path) -> None:
    import io

    stream = io.StringIO()
    setup_logging("INFO", stream=stream)
    logging.getLogger("apscheduler.scheduler").info("Adding job tentatively -- it will be properly scheduled")
    logging.getLogger("draftloop").info("discord started (worker)")
    assert stream.getvalue().endswith("INFO draftloop: discord started (worker)\n")
    assert "apscheduler" not in stream.getvalue()
