"""Property: whatever lines reach the console (stray `#`, digits, brackets, control characters, bytes
that are not UTF-8, very long lines, `/as`, `/digest`, unknown commands), a session never ends in a
traceback, never logs one, ends as `draftloop chat` exits 0, and loses nothing stored before it.

Every example is one session (its own event loop, engine and console) on the same SQLite file,
where two projects with versions were made first; what any session stored stays for the next.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from adapters.chat.console.service import ConsoleService
from bot.app.runtime import Runtime
from bot.settings import Settings
from storage.engine import Database

SPECIAL = [
    b"#",
    b"# ",
    b"#1",
    b"#1accept",
    b"#abc hello",
    b"#0 hello",
    b"#99999999999999999999999 hi",
    b"#\xd9\xa3 arabic digit",
    b"#1 // an aside",
    b"#2 accept",
    b"#1 reject",
    b"#1 retry",
    b"#2 status",
    b"#1 more detail please. 20m",
    b"/as",
    b"/as bob",
    b"/as \x1b[2J",
    b"/digest",
    b"/digest 9999",
    b"/status",
    b"/status #1",
    b"/help",
    b"/bogus",
    b"/",
    b"/quit",
    b"//",
    b"// stray aside",
    b"[poetry] a sonnet",
    b"[writing] a haiku",
    b"[Data Science] a csv",
    b"[",
    b"[]",
    b"\x1b[2J\x1b]0;title\x07",
    b"\xff\xfe hello",
    b"\x00\x01\x02",
    b"\r",
    b"\xe2\x80\xae reversed",
]
PREFIXES = [b"", b"#", b"#1 ", b"#2 ", b"#1", b"/", b"/as ", b"[", b"[writing] ", b"//"]

lines = st.one_of(
    st.sampled_from(SPECIAL),
    st.tuples(st.sampled_from(PREFIXES), st.binary(max_size=40)).map(b"".join),
    st.tuples(st.sampled_from(PREFIXES), st.text(max_size=40)).map(
        lambda p: p[0] + p[1].encode("utf-8", "surrogatepass")
    ),
    st.integers(min_value=200, max_value=25_000).map(lambda n: b"#1 " + b"x" * n),
    st.integers(min_value=200, max_value=25_000).map(lambda n: b"y" * n),
)
scripts = st.lists(lines, min_size=1, max_size=6)


class Problems(logging.Handler):
    """Log records that would show the user a traceback or an error."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info or record.levelno >= logging.ERROR:
            self.records.append(record)


@pytest.fixture(scope="module")
def database(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("console-props") / "draftloop.db"
    shutil.copy(sqlite_template, path)
    yield path


def _session(path: Path, script: bytes) -> str:
    async def run() -> str:
        settings = Settings(draftloop_data_dir=path.parent, draftloop_agent="offline", draftloop_config=None)
        runtime = Runtime(settings, db=Database(f"sqlite+aiosqlite:///{path}"))
        out = io.StringIO()
        stdin = io.TextIOWrapper(io.BytesIO(script), encoding="utf-8")
        console = ConsoleService(runtime, stdin=stdin, out=out, err=io.StringIO())
        console.speaker = "alice"
        try:
            await console.run()  # returning is `draftloop chat` exiting 0
        finally:
            await runtime.close()
        return out.getvalue()

    return asyncio.run(run())


def _stored(path: Path) -> dict[int, int]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT p.id, count(v.id) FROM projects p LEFT JOIN versions v ON v.project_id = p.id GROUP BY p.id"
        ).fetchall()
    return dict(rows)


def test_no_line_breaks_the_console_or_loses_what_is_stored(database: Path) -> None:
    _session(database, b"[writing] a haiku about tea\n#1 shorter\na product FAQ\n")
    stored = _stored(database)
    assert stored == {1: 2, 2: 1}
    problems = Problems()
    root = logging.getLogger()
    root.addHandler(problems)

    @settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(script=scripts)
    def session(script: list[bytes]) -> None:
        nonlocal stored
        out = _session(database, b"\n".join(script) + b"\n")
        assert "\x1b" not in out, out
        assert not problems.records, [problems.format(r) for r in problems.records]
        now = _stored(database)
        assert all(now.get(project, 0) >= versions for project, versions in stored.items()), (stored, now)
        stored = now

    try:
        session()
    finally:
        root.removeHandler(problems)


def test_a_hostile_script_through_draftloop_chat_exits_0(tmp_path: Path) -> None:
    env = {**os.environ, "DRAFTLOOP_DATA_DIR": str(tmp_path), "PYTHONIOENCODING": "utf-8"}
    for name in ("DATABASE_URL", "DRAFTLOOP_CONFIG", "DRAFTLOOP_AGENT", "DRAFTLOOP_LOG_LEVEL"):
        env.pop(name, None)
    script = b"[writing] first\n" + b"\n".join(line for line in SPECIAL if line != b"/quit") + b"\n"
    done = subprocess.run(
        [str(Path(sys.executable).parent / "draftloop"), "chat"], input=script, env=env, capture_output=True, timeout=60
    )
    assert done.returncode == 0, done.stderr.decode()
    assert done.stderr.decode().splitlines()[1:] == []  # the start line only
    assert b"\x1b" not in done.stdout
    assert b"accepted at v" in done.stdout or b"rejected at v" in done.stdout
