"""The console's lines: mistakes get one hint and create nothing, nothing typed is obeyed by the
terminal, Ctrl-C and end of input end the session as a REPL does, and the start line says where
the projects go."""

from __future__ import annotations

import io
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from adapters.chat.console.service import ConsoleService, describe_database
from adapters.chat.console.terminal import visible
from bot.replies import Reply, ReplyKind
from storage import projects as store

EXE = str(Path(sys.executable).parent / "draftloop")
sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


async def _console(make_runtime, settings_factory, script: str, toml: str | None = None):  # type: ignore[no-untyped-def]
    rt = make_runtime(settings_factory(toml=toml))
    out, err = io.StringIO(), io.StringIO()
    console = ConsoleService(rt, stdin=io.StringIO(script), out=out, err=err)
    console.speaker = "alice"
    await console.run()
    return rt, out.getvalue(), err.getvalue()


async def _count_projects(rt) -> int:  # type: ignore[no-untyped-def]
    async with rt.db.session() as session:
        return sum([await store.get_project(session=session, project_id=n) is not None for n in range(1, 6)])


@sqlite_only
@pytest.mark.parametrize(
    ("line", "hint"),
    [
        ("#", "a line starting with # answers a thread: `#N <text>`"),
        ("#abc hello", "a line starting with # answers a thread: `#N <text>`"),
        ("#1accept", "did you mean `#1 accept`? Put a space after the number"),
        ("#1", "#1 what? Reply `#1 <feedback>`, `#1 accept`, `#1 reject`"),
        ("#1   ", "#1 what?"),
        ("#٣ hello", "a line starting with # answers a thread"),  # a non-ASCII digit is no number
        ("#99999999999999999999 hi", "is not a project number"),
        ("// just a thought", "an aside belongs in a thread: `#N // just a thought`"),
        ("[poetry] a sonnet on tea", "[poetry] is not a category; nothing was sent. Use one of: writing,"),
    ],
)
async def test_a_mistyped_line_gets_a_hint_and_creates_nothing(
    make_runtime, settings_factory, line: str, hint: str
) -> None:  # type: ignore[no-untyped-def]
    rt, out, _ = await _console(make_runtime, settings_factory, line + "\n")
    assert f"alice> {line.strip() if line.strip() != line else line}" in out or f"alice> {line}" in out
    hints = [x for x in out.splitlines() if x.startswith("  ↳ ")]
    assert len(hints) == 1 and hint in hints[0], out
    assert "Project #" not in out
    assert await _count_projects(rt) == 0


@sqlite_only
async def test_a_configured_category_and_an_alias_are_known(make_runtime, settings_factory) -> None:  # type: ignore[no-untyped-def]
    toml = '[categories.poetry]\nexperts = ["ed"]\n'
    rt, out, _ = await _console(
        make_runtime, settings_factory, "[Data Science] clean a CSV\n[poetry] a sonnet\n[bogus] x\n", toml=toml
    )
    assert "Project #1 · data-science" in out
    assert "[poetry] is not a category" not in out
    hint = next(x for x in out.splitlines() if "[bogus] is not a category" in x)
    assert "poetry" in hint  # the configured one is offered too
    assert await _count_projects(rt) == 2


@sqlite_only
async def test_an_aside_is_acknowledged_without_a_revision(make_runtime, settings_factory) -> None:  # type: ignore[no-untyped-def]
    rt, out, _ = await _console(make_runtime, settings_factory, "a post\n#1 // ship it before Friday\n#7 // lost\n")
    assert "alice> #1 // ship it before Friday\n  ↳ #1: aside kept (no revision)\n" in out
    assert "(v2" not in out
    # an aside to a project that does not exist gets the error, not an acknowledgement
    assert "There is no project #7" in out and "#7: aside kept" not in out


@sqlite_only
async def test_a_failure_says_retry_the_console_way(make_runtime, settings_factory) -> None:  # type: ignore[no-untyped-def]
    """The core's "reply `retry`" is typed `#N retry` here."""
    rt = make_runtime(settings_factory())
    out = io.StringIO()
    console = ConsoleService(rt, stdin=io.StringIO(""), out=out, err=io.StringIO())
    await console.start()
    platform = console.platform
    from bot.events import ThreadRef

    thread = ThreadRef("console", "console", "4")
    failed = "⚠️ #4: v1 could not be written. The agent is down. Nothing was lost: reply `retry` to try again."
    await platform.post(thread, Reply(failed, kind=ReplyKind.NOTICE))
    await platform.post(thread, Reply("#4 has no draft yet; wait for v1 or reply `reject` to drop it."))
    text = out.getvalue()
    assert "Nothing was lost: reply `#4 retry` to try again." in text
    assert "reply `#4 reject` to drop it" in text
    assert "reply `retry`" not in text


@sqlite_only
async def test_a_failed_draft_in_the_console_names_the_thread_in_retry(
    make_runtime, settings_factory, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """End to end: an agent that always fails, the failure notice as the console prints it."""
    from bot.errors import AgentRejected
    from tests.fakes.agents import Intercepted

    async def refuse(request: object) -> None:
        raise AgentRejected("the model refused", agent="offline")

    rt = make_runtime(settings_factory())
    rt.agents.use("offline", Intercepted(rt.agents.backend(rt.agents.spec("offline")), refuse))
    out = io.StringIO()
    console = ConsoleService(rt, stdin=io.StringIO("a post\n#1 try harder\n"), out=out, err=io.StringIO())
    console.speaker = "alice"
    await console.run()
    text = out.getvalue()
    assert "`#1 retry`" in text, text
    assert "reply `retry`" not in text


def test_visible_escapes_controls_and_replaces_undecodable_bytes() -> None:
    assert visible("\x1b[2Jclear") == "\\x1b[2Jclear"
    assert visible("a\rb\x07c\x9bd\x7f") == "a\\x0db\\x07c\\x9bd\\x7f"
    assert visible("abc\u202edcba") == "abc\\u202edcba"
    assert visible("tab\tstays, ünïcödé stays ✅") == "tab\tstays, ünïcödé stays ✅"
    assert visible("\udcff\udcfe hello") == "\ufffd\ufffd hello"


@sqlite_only
async def test_escape_sequences_are_never_echoed_raw(make_runtime, settings_factory) -> None:  # type: ignore[no-untyped-def]
    script = "\x1b[2J\x1b]0;pwned\x07 a post\n/as \x1b[31mmallory\n/bogus\x1b[2J\n#1 \x1b[2Jshorter\n"
    _, out, _ = await _console(make_runtime, settings_factory, script)
    assert "\x1b" not in out and "\x07" not in out, out
    assert "alice> \\x1b[2J\\x1b]0;pwned\\x07 a post" in out
    assert "(now speaking as \\x1b[31mmallory)" in out


def test_describe_database_hides_the_password_and_shows_the_sqlite_file(tmp_path: Path) -> None:
    url = "postgresql+asyncpg://bot:Hunter2%2F@db.internal:5432/draftloop?password=x&sslmode=require"
    shown = describe_database(url)
    assert shown == "postgresql://bot:***@db.internal:5432/draftloop"
    assert describe_database("postgresql+asyncpg://db/app") == "postgresql://db/app"
    here = Path.cwd() / "data" / "draftloop.db"
    assert describe_database(f"sqlite+aiosqlite:///{here}") == "data/draftloop.db (SQLite)"
    assert describe_database(f"sqlite+aiosqlite:///{tmp_path}/x.db") == f"{tmp_path}/x.db (SQLite)"
    assert describe_database("sqlite+aiosqlite:///:memory:").startswith("SQLite in memory")


def _env(tmp_path: Path, **more: str) -> dict[str, str]:
    env = {**os.environ, "DRAFTLOOP_DATA_DIR": str(tmp_path), **more}
    for name in ("DATABASE_URL", "DRAFTLOOP_CONFIG", "DRAFTLOOP_AGENT", "DRAFTLOOP_LOG_LEVEL"):
        if name not in more:
            env.pop(name, None)
    return env


def test_chat_says_which_database_and_agent_on_one_stderr_line(tmp_path: Path) -> None:
    db = tmp_path / "team.db"
    env = _env(tmp_path, DATABASE_URL=f"sqlite:///{db}", DRAFTLOOP_AGENT="offline")
    done = subprocess.run([EXE, "chat"], input="", env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [f"draftloop console: database {db} (SQLite), agent offline (offline-v1)"]
    assert done.stdout == ""


def test_invalid_utf8_on_stdin_is_a_request_like_any_other(tmp_path: Path) -> None:
    # PYTHONIOENCODING: a UTF-8 locale's strict decoding (the C locale would hide it with surrogateescape)
    env = _env(tmp_path, PYTHONIOENCODING="utf-8")
    done = subprocess.run(
        [EXE, "chat"], input=b"\xff\xfe hello\n\x1b[2J\xc3 there\n", env=env, capture_output=True, timeout=60
    )
    stdout, stderr = done.stdout.decode(), done.stderr.decode()
    assert done.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "> \ufffd\ufffd hello" in stdout
    assert "> \\x1b[2J\ufffd there" in stdout
    assert "[#2] draftloop (v1 · in_review)" in stdout


def _read_until(proc: subprocess.Popen[bytes], needle: bytes, timeout: float = 30) -> bytes:
    assert proc.stdout is not None
    seen = b""
    deadline = time.monotonic() + timeout
    while needle not in seen:
        assert time.monotonic() < deadline, seen
        chunk = os.read(proc.stdout.fileno(), 65536)
        assert chunk, seen
        seen += chunk
    return seen


@pytest.mark.usefixtures("ctrl_c_reaches_children")
def test_ctrl_c_at_the_prompt_exits_at_once_and_keeps_everything(tmp_path: Path) -> None:
    """Before: the next line was thrown away (the reading thread kept the process), then rc 130
    without a word. Now: at once, one goodbye, rc 130, the project stored."""
    proc = subprocess.Popen(
        [EXE, "chat"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(tmp_path)
    )
    try:
        assert proc.stdin is not None
        proc.stdin.write(b"[writing] a haiku on tea\n")
        proc.stdin.flush()
        _read_until(proc, b"`#1 accept`")
        proc.send_signal(signal.SIGINT)
        # No further line is sent: the old console waited for one (or for the end of input) forever.
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.stderr is not None
    err = proc.stderr.read().decode()
    assert code == 130, err
    assert "Traceback" not in err
    assert err.splitlines()[-1] == "bye (interrupted; everything you sent is stored)"
    with sqlite3.connect(tmp_path / "draftloop.db") as conn:
        assert conn.execute("SELECT id, current_version FROM projects").fetchall() == [(1, 1)]


def test_end_of_input_at_a_terminal_exits_0_on_a_fresh_line(tmp_path: Path) -> None:
    import pty

    leader, follower = pty.openpty()
    proc = subprocess.Popen([EXE, "chat"], stdin=follower, stdout=follower, stderr=subprocess.PIPE, env=_env(tmp_path))
    os.close(follower)
    try:
        seen = b""
        deadline = time.monotonic() + 30
        while not re.search(rb"\S+> $", seen):
            assert time.monotonic() < deadline, seen
            seen += os.read(leader, 4096)
        assert b"draftloop console: type a request" in seen
        os.write(leader, b"\x04")  # Ctrl-D
        code = proc.wait(timeout=5)
        rest = b""
        try:
            while chunk := os.read(leader, 4096):
                rest += chunk
        except OSError:
            pass
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(leader)
    assert code == 0
    assert rest.endswith(b"\n")


@sqlite_only
async def test_an_attachment_is_saved_and_its_path_shown(make_runtime, settings_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """`draftloop digest --post console:-` sends the chart with the digest: it lands in a file, and
    the line says where (before, the console dropped it without a word)."""
    from bot.events import ThreadRef

    rt = make_runtime(settings_factory())
    out = io.StringIO()
    console = ConsoleService(rt, stdin=io.StringIO(""), out=out, err=io.StringIO())
    reply = Reply(
        "the digest\n\nBy category\n  writing 1", kind=ReplyKind.NOTICE, files=(("../chart.png", b"\x89PNG"),)
    )
    await console.platform.post(ThreadRef("console", "-", ""), reply)
    saved = rt.settings.draftloop_data_dir / "files" / "chart.png"
    assert saved.read_bytes() == b"\x89PNG"
    assert (
        out.getvalue()
        == f"[draftloop] draftloop (notice) [file: {saved}]: the digest\n\n  By category\n    writing 1\n"
    )


async def test_a_name_too_long_to_store_is_refused_by_as(make_runtime, settings_factory) -> None:  # type: ignore[no-untyped-def]
    """Before: `/as` took any name, and PostgreSQL refused the next request (`character varying(128)`)
    with a traceback in the log and "Something went wrong"."""
    long = "n" * 300
    rt, out, _ = await _console(make_runtime, settings_factory, f"/as {long}\na post\n/as {'m' * 64}\n#1 hello\n")
    assert "  ↳ a name is at most 64 characters; still speaking as alice" in out
    assert "Project #1" in out and "Something went wrong" not in out
    assert f"(now speaking as {'m' * 64})" in out and "[#1] draftloop (v2 · in_review)" in out
