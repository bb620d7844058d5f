"""Fixtures of the fault suite: the fakes (Slack Web API, model server), real draftloop processes,
a database per scenario (a copied, migrated SQLite file, or the session's private PostgreSQL
database emptied), and the figures table.

Every scenario records its `Outcome` with `record(outcome)`; at the end of the session the table of
figures is printed in pytest's summary and written to $DRAFTLOOP_FAULTS_FIGURES (default
faults-figures.txt in the system's temporary directory), ready to paste into a closing note.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.llm_server import FakeLLMServer
from tests.fakes.slack_api import FakeSlackAPI
from tests.faults import pg_faults
from tests.faults.outcome import Outcome
from tests.faults.processes import OTHER_CODE, ProcessSet

FIGURES_PATH = Path(os.environ.get("DRAFTLOOP_FAULTS_FIGURES") or Path(tempfile.gettempdir()) / "faults-figures.txt")
_recorded: list[Outcome] = []


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlackAPI]:
    async with FakeSlackAPI() as fake:
        yield fake


@pytest.fixture
async def llm() -> AsyncIterator[FakeLLMServer]:
    async with FakeLLMServer() as server:
        yield server


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
async def procs(
    request: pytest.FixtureRequest, tmp_path: Path, fake_slack: FakeSlackAPI, llm: FakeLLMServer
) -> AsyncIterator[ProcessSet]:
    """The test's draftloop processes; killed at the end, their log tails printed when it failed."""
    started = ProcessSet(
        tmp_path, llm_base_url=llm.openai_base_url, slack_api_url=fake_slack.api_url, slack_token=fake_slack.token
    )
    try:
        yield started
    finally:
        await started.close()
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            print(f"\n===== process logs\n{started.tails()}")


@pytest.fixture
def sqlite_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated SQLite file of the test's own (a fresh one for other code, which migrates it)."""
    path = tmp_path / "draftloop.db"
    if not OTHER_CODE:
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
def postgres_url(pg_url: str) -> Iterator[str]:
    """The session's private PostgreSQL database, emptied (for other code: a fresh database of the
    test's own, which that code migrates). Depending on `pg_url` by name is what lets the main
    conftest deselect these tests when PostgreSQL is off, or stop the run once when it is not there."""
    if OTHER_CODE:
        with pg_faults.fresh_database() as fresh:
            yield fresh
        return
    asyncio.run(pg_faults.clean_slate(pg_url))
    yield pg_url


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest) -> str:
    """A scenario run on both databases (the main conftest's name and ids, so its PostgreSQL switch
    applies): a fresh SQLite file, or the PostgreSQL database emptied."""
    url: str = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
    return url


@pytest.fixture
def record() -> Callable[[Outcome], Outcome]:
    """Keep a scenario's figures for the summary table, and print its line."""

    def keep(outcome: Outcome) -> Outcome:
        _recorded.append(outcome)
        print(f"\nfigures: {outcome.line()}")
        for problem in outcome.problems:
            print(f"  problem: {problem}")
        return outcome

    return keep


def figures_table(outcomes: list[Outcome]) -> str:
    if not outcomes:
        return ""
    columns: list[str] = []
    for outcome in outcomes:
        columns += [k for k in outcome.figures() if k not in columns]
    table = [[str(o.figures().get(c, "")) for c in columns] for o in outcomes]
    widths = [max(len(c), *(len(r[i]) for r in table)) for i, c in enumerate(columns)]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(columns), rule, *(line(r) for r in table)])


def pytest_terminal_summary(terminalreporter: Any) -> None:
    table = figures_table(_recorded)
    if not table:
        return
    terminalreporter.write_sep("=", "fault scenarios: figures (targets: duplicated 0, lost 0, false 'saved' 0)")
    terminalreporter.write_line(table)
    try:
        FIGURES_PATH.write_text(table + "\n")
        terminalreporter.write_line(f"(written to {FIGURES_PATH})")
    except OSError as exc:
        terminalreporter.write_line(f"(could not write {FIGURES_PATH}: {exc})")
