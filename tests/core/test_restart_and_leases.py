"""Across processes: leases serialize revisions, and a killed process loses nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update

from bot.app.runtime import Runtime
from bot.ports import DraftRequest, DraftResult
from storage.engine import Database
from storage.models import Feedback, Project, Version
from tests.conftest import FakeClock, reply_event, request_event
from tests.fakes.llm_server import FakeLLMServer, Fault
from tests.fakes.recording_chat import RecordingChat


class TrackingAgent:
    """An agent that records how many calls run at once per project, across runtimes."""

    name = "offline"
    model = "tracking-1"

    def __init__(self, live: dict[int, int], peak: dict[int, int]) -> None:
        self.live, self.peak = live, peak

    async def stream(self, request: DraftRequest) -> AsyncIterator[str | DraftResult]:
        n = request.project_number
        self.live[n] += 1
        self.peak[n] = max(self.peak[n], self.live[n])
        try:
            await asyncio.sleep(0.05)
            text = f"v{request.version}: " + "; ".join(p.text for p in request.feedback if p.new)
            yield text
            yield DraftResult(text=text or "v1", model=self.model)
        finally:
            self.live[n] -= 1

    async def aclose(self) -> None:
        return None


async def test_two_workflows_on_one_database_never_revise_a_project_at_once(
    db_url: str, db: Database, settings_factory
) -> None:
    live: dict[int, int] = defaultdict(int)
    peak: dict[int, int] = defaultdict(int)
    runtimes = []
    for _ in range(2):  # two engines, two owners: as two processes would be
        rt = Runtime(settings_factory(), db=Database(db_url), clock=FakeClock())
        rt.register_platform(RecordingChat())
        rt.agents.use("offline", TrackingAgent(live, peak))
        runtimes.append(rt)
    a, b = runtimes
    await a.workflow.handle(request_event("a post"))
    await asyncio.gather(
        *((a if i % 2 else b).workflow.handle(reply_event(1, f"point {i}", who=f"u{i}")) for i in range(8))
    )
    await a.workflow.resume_pending()  # whatever is left pending is picked up
    assert peak[1] == 1
    async with db.session() as s:
        versions = [v.number for v in (await s.execute(select(Version).order_by(Version.number))).scalars()]
        pending = [f for f in (await s.execute(select(Feedback))).scalars() if f.consumed_by is None]
        project = await s.get(Project, 1)
    assert versions == list(range(1, len(versions) + 1)) and len(versions) >= 2
    assert pending == []
    assert project is not None and project.state == "in_review" and project.lease_owner is None
    for rt in runtimes:
        await rt.db.dispose()


async def _versions(db: Database) -> list[Version]:
    async with db.session() as s:
        return list((await s.execute(select(Version).order_by(Version.number))).scalars())


async def _chat(env: dict[str, str], script: str) -> asyncio.subprocess.Process:
    exe = str(Path(sys.executable).parent / "draftloop")
    proc = await asyncio.create_subprocess_exec(
        exe,
        "chat",
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdin is not None
    proc.stdin.write(script.encode())
    await proc.stdin.drain()
    proc.stdin.close()
    return proc


async def _lease_runs_out(db: Database, project_id: int) -> None:
    """What the passing of `lease_seconds` does to a dead holder's lease, without waiting for it: the
    processes run on the system clock, so the lease's end is moved into the past instead."""
    async with db.session() as s:
        await s.execute(
            update(Project).where(Project.id == project_id).values(lease_until=datetime.now(UTC) - timedelta(seconds=1))
        )
        await s.commit()


async def test_restart_between_feedback_and_revision(tmp_path: Path, db_url: str, db: Database) -> None:
    async with FakeLLMServer() as llm:
        cfg = tmp_path / "draftloop.toml"
        cfg.write_text("[workflow]\nlease_seconds = 600\n")  # longer than the test: only its end matters
        env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "DRAFTLOOP_DATA_DIR": str(tmp_path),
            "DRAFTLOOP_CONFIG": str(cfg),
            "DRAFTLOOP_AGENT": "openai:gpt-test",
            "OPENAI_BASE_URL": llm.openai_base_url,
            "OPENAI_API_KEY": "sk-test-restart",
        }
        # v1 comes back at once; the revision call hangs until the process is killed.
        llm.inject(Fault.stall(0), model="gpt-test")
        llm.inject(Fault.stall(30), model="gpt-test")
        proc = await _chat(env, "a post on onboarding\n#1 shorter please\n")
        for _ in range(300):
            if len(llm.requests(model="gpt-test")) >= 2:
                break
            await asyncio.sleep(0.05)
        assert len(llm.requests(model="gpt-test")) == 2
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        async with db.session() as s:
            project = await s.get(Project, 1)
            fb = (await s.execute(select(Feedback))).scalar_one()
        assert project is not None and project.current_version == 1 and project.state == "revising"
        assert project.lease_owner is not None  # the dead process still holds the project
        assert fb.consumed_by is None  # stored, not yet taken up

        llm.clear_faults()
        proc = await _chat(env, "")
        await asyncio.wait_for(proc.communicate(), 60)
        assert [v.number for v in await _versions(db)] == [1]  # a live lease is respected: no v2 yet

        await _lease_runs_out(db, 1)
        proc = await _chat(env, "")
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, err.decode()
        assert "(v2 · in_review)" in out.decode()
        # a further start finds nothing to do: the revision landed once
        proc = await _chat(env, "")
        await asyncio.wait_for(proc.communicate(), 60)
        async with db.session() as s:
            fb = (await s.execute(select(Feedback))).scalar_one()
        assert [v.number for v in await _versions(db)] == [1, 2] and fb.consumed_by == 2
        assert len(llm.requests(model="gpt-test")) == 3


class HeldChat(RecordingChat):
    """A platform whose acknowledgement hangs until released: the window between intake and drafting."""

    def __init__(self) -> None:
        super().__init__()
        self.acking = asyncio.Event()  # set once the project is stored: it is acknowledged after
        self.release = asyncio.Event()

    async def post(self, thread, reply):  # type: ignore[no-untyped-def]
        if reply.kind.value == "ack":
            self.acking.set()
            await self.release.wait()
        return await super().post(thread, reply)


async def test_a_new_project_is_not_drafted_by_another_process_before_its_first_cycle(
    db_url: str, db: Database, settings_factory
) -> None:
    first = Runtime(settings_factory(), db=Database(db_url), clock=FakeClock())
    held = HeldChat()
    first.register_platform(held)
    other = Runtime(settings_factory(), db=Database(db_url), clock=FakeClock())
    other.register_platform(RecordingChat())
    intake = asyncio.create_task(first.workflow.handle(request_event("a post")))
    await held.acking.wait()
    async with db.session() as s:
        assert await s.get(Project, 1) is not None
    assert await other.workflow.resume_pending() == 0  # the project was born holding its lease
    held.release.set()
    await intake
    async with db.session() as s:
        versions = list((await s.execute(select(Version))).scalars())
        project = await s.get(Project, 1)
    assert [v.number for v in versions] == [1]
    assert project is not None and project.state == "in_review" and project.lease_owner is None
    for rt in (first, other):
        await rt.db.dispose()
