"""The orchestrator through the console, with two configured agents: learned routing and its
acknowledgement, the check before experts (an automatic revision is no expert feedback)."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

from adapters.chat.console.service import ConsoleService
from bot.orchestrator.routing import Router
from bot.report.digest import Period, build_report
from storage import projects as store
from tests.fakes.recording_chat import RecordingChat

AGENTS = """
[agents.good]
provider = "offline"
model = "good-v1"

[agents.bad]
provider = "offline"
model = "bad-v1"
"""


async def _console(make_runtime: Any, settings_factory: Any, toml: str, script: str) -> tuple[str, Any]:
    rt = make_runtime(settings_factory(toml=toml))
    out = io.StringIO()
    console = ConsoleService(rt, stdin=io.StringIO(script), out=out)
    console.speaker = "alice"
    await console.run()
    return out.getvalue(), rt


def _history(first: int, n: int, decision: str) -> str:
    return "".join(f"[writing] post number {first + i} about tea\n#{first + i} {decision}\n" for i in range(n))


async def test_learned_routing_picks_the_accepted_agent_and_says_why(make_runtime, settings_factory) -> None:  # type: ignore[no-untyped-def]
    await _console(
        make_runtime, settings_factory, AGENTS + '[categories.writing]\nagent = "good"\n', _history(1, 6, "accept")
    )
    await _console(
        make_runtime, settings_factory, AGENTS + '[categories.writing]\nagent = "bad"\n', _history(7, 6, "reject")
    )
    learned = AGENTS + '[categories.writing]\nagents = ["bad", "good"]\n'
    out, rt = await _console(make_runtime, settings_factory, learned, "[writing] a post about coffee\n")
    assert "Project #13 · writing · agent good (good-v1)." in out
    assert "good · accepted 6/6 here, lower bound 0.61" in out
    explained = await Router(settings=rt.settings, db=rt.db).explain("writing")
    assert explained["agent"] == "good"
    assert explained["reason"].startswith("good · accepted 6/6 here, lower bound 0.61; Thompson sampling tries")
    by_agent = {c["agent"]: c for c in explained["candidates"]}
    assert list(by_agent) == ["bad", "good"]
    assert by_agent["bad"] == {
        "agent": "bad", "decided": 6, "accepted": 0, "rate": 0.0,
        "lower_bound": 0.0, "cost_per_accepted_usd": None,
    }  # fmt: skip
    assert by_agent["good"]["rate"] == 1.0 and round(by_agent["good"]["lower_bound"], 2) == 0.61


async def test_qc_revises_once_then_flags_and_it_is_no_expert_feedback(make_runtime, settings_factory, clock) -> None:  # type: ignore[no-untyped-def]
    toml = '[categories.writing]\nqc = "revise"\n'
    script = "[writing] a 600-word post on remote onboarding with a Pricing section\n#1 accept\n"
    out, rt = await _console(make_runtime, settings_factory, toml, script)
    assert "Took up draftloop QC's point (on v1)" in out  # the automatic revision, inside v1
    assert "[#1] draftloop (v2" not in out  # one version: the revision is an agent cycle
    assert "**Check first** (the automatic check found):" in out
    assert "- [ ] section: no section named “Pricing”" in out
    assert "- [ ] length: about 600 words asked, the draft has" in out
    period = Period(clock.now().date(), (clock.now() + timedelta(days=1)).date(), rt.settings.tz)
    data = (await build_report(rt.db, period, now=clock.now())).to_json()
    assert data["by_expert"] == [] and data["expert_minutes"] == {"stated": 0, "estimated": 0}
    assert data["agent_alone"]["k"] == 1 and data["mean_cycles_to_accept"] == 0
    qc = data["orchestrator"]["writing"]["qc"]
    assert qc == {"passed": 0, "revised": 1, "flagged": 0, "gap_reappeared": 0, "flagged_shown": 1}


async def test_likely_fine_pings_no_expert_and_says_why(make_runtime, settings_factory) -> None:  # type: ignore[no-untyped-def]
    toml = '[categories.writing]\nexperts = ["ed"]\nreview_threshold = 0.5\nreview_min_decided = 2\n'
    out, rt = await _console(make_runtime, settings_factory, toml, _history(1, 2, "accept") + "[writing] tea again\n")
    assert "needs review: 0 decided here, 2 needed to trust the agent alone" in out
    assert "likely fine as is: the agent alone was accepted 2/2 here (100% ≥ 50%)" in out
    first, third = out.split("[#3]", 1)
    assert first.count("↳ for review: ed") == 2 and "for review" not in third  # #3 pings no one


async def test_an_acknowledgement_resumed_after_a_failure_stays_quiet(make_runtime, settings_factory) -> None:  # type: ignore[no-untyped-def]
    # Before: the acknowledgement re-posted on resume named and pinged the experts of a likely-fine project.
    toml = '[categories.writing]\nexperts = ["ed"]\nreview_threshold = 0.5\nreview_min_decided = 2\n'
    out, rt = await _console(make_runtime, settings_factory, toml, _history(1, 2, "accept") + "[writing] tea again\n")
    async with rt.db.session() as session:
        project = await store.get_project(session=session, project_id=3)
    assert project is not None
    chat = RecordingChat()  # in the console's place, to read what the resume posts
    rt.register_platform(chat)
    await rt.workflow.drafting.acks.resume(project)
    ack = chat.sent[0].reply
    assert ack.mentions == () and "Feedback from" not in ack.text and "review" in ack.text
