"""Without PostgreSQL the suite says so once (which URL, how to point elsewhere, how to run on SQLite
only) instead of failing each PostgreSQL-parametrized test on its own (tests/conftest.py).

Only a separate pytest run shows it: three at once, on a tiny test file, against a port where
nothing listens.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TINY = """
async def test_on_both(db):
    assert db.dialect in ("sqlite", "postgresql")


def test_plain():
    pass
"""


def _pytest(tmp_path: Path, pg: str, *args: str) -> subprocess.Popen[str]:
    test = tmp_path / "test_tiny.py"
    test.write_text(TINY, encoding="utf-8")
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "tests.conftest", "-p", "no:randomly", "-p", "no:cacheprovider"]
        + ["--rootdir", str(ROOT), "-c", str(ROOT / "pyproject.toml"), str(test), *args],
        cwd=ROOT,
        env={**os.environ, "DRAFTLOOP_TEST_PG": pg},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_an_unreachable_server_is_one_message_and_sqlite_runs_need_none(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: nothing answers there
        url = f"postgresql://postgres:hunter2@127.0.0.1:{port}/test"
        runs = {
            "unreachable": _pytest(tmp_path, url),
            "off": _pytest(tmp_path, "off"),
            "-k": _pytest(tmp_path, url, "-k", "not postgres"),
        }
        done = {name: (proc.wait(timeout=60), *proc.communicate()) for name, proc in runs.items()}

    code, out, err = done["unreachable"]
    assert code == pytest.ExitCode.USAGE_ERROR, out + err
    assert [line for line in err.splitlines() if line.startswith("ERROR: ")] == [
        f"ERROR: PostgreSQL at postgresql://postgres:***@127.0.0.1:{port}/test (DRAFTLOOP_TEST_PG) does not "
        f"answer: [Errno 111] Connect call failed ('127.0.0.1', {port}). 1 of the selected tests run on "
        "PostgreSQL too. Start it there (trust auth, a database `test`), point DRAFTLOOP_TEST_PG at another server "
        "(postgresql://USER@HOST:PORT/DB), or run on SQLite only with DRAFTLOOP_TEST_PG=off."
    ]
    assert "hunter2" not in out + err
    assert "Traceback" not in out + err and "passed" not in out
    for name in ("off", "-k"):  # the PostgreSQL case deselected; -k is applied before the check
        code, out, err = done[name]
        assert code == 0, out + err
        assert "2 passed, 1 deselected" in out
