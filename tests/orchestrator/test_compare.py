"""Compare two agents, `review` on a project marked likely fine, and the quiet acknowledgement,
through the console with two fake agents on SQLite and PostgreSQL; the counts read back through the
installed `draftloop route` and `draftloop digest`."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from adapters.chat.console.service import ConsoleService
from bot.orchestrator.compare import pick_label, split_flag
from bot.ports import DraftRequest, DraftResult
from storage import routing, versions
from tests.orchestrator.test_orchestrator_console import AGENTS

PAIR = AGENTS + '[categories.writing]\nagents = ["good", "bad"]\n'


class Signed:
    """A fake agent whose draft says who wrote it, so A and B can be told apart."""

    def __init__(self, name: str) -> None:
        self.name, self.model = name, f"{name}-v1"

    async def stream(self, request: DraftRequest) -> AsyncIterator[str | DraftResult]:
        text = f"{self.name} wrote about: {request.brief}"
        yield text
        yield DraftResult(text=text, model=self.model, input_tokens=10, output_tokens=20)

    async def aclose(self) -> None:
        return None


async def _console(rt: Any, script: str, speaker: str = "alice") -> str:
    out = io.StringIO()
    console = ConsoleService(rt, stdin=io.StringIO(script), out=out)
    console.speaker = speaker
    await console.run()
    return out.getvalue()


def _runtime(make_runtime: Any, settings_factory: Any, toml: str) -> Any:
    rt = make_runtime(settings_factory(toml=toml))
    for name in ("good", "bad"):
        rt.agents.use(name, Signed(name))
    return rt


def _cli(tmp_path: Path, db_url: str, toml: str, *args: str) -> Any:
    config = tmp_path / "cli.toml"
    config.write_text(toml, encoding="utf-8")
    env = {**os.environ, "DATABASE_URL": db_url, "DRAFTLOOP_DATA_DIR": str(tmp_path), "DRAFTLOOP_CONFIG": str(config)}
    done = subprocess.run(
        [sys.executable, "-m", "bot", *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_flag_and_the_pick_words() -> None:
    assert split_flag("--compare a post") == (True, "a post")
    assert split_flag("  --COMPARE\ta post") == (True, "a post")
    assert split_flag("a post --compare") == (False, "a post --compare")
    assert split_flag("--compared notes") == (False, "--compared notes")
    assert [pick_label(t) for t in ("pick B", "Pick a.", "pick  b!", "pick C", "pick B please")] == [
        "B", "A", "B", None, None,
    ]  # fmt: skip


async def test_compare_shows_a_and_b_and_pick_b_makes_b_current_and_counts(  # type: ignore[no-untyped-def]
    make_runtime, settings_factory, db_url, tmp_path
) -> None:
    rt = _runtime(make_runtime, settings_factory, PAIR)
    out = await _console(rt, "[writing] --compare a post about tea\n")
    # no history yet: Thompson sampling chooses A, and B is the other candidate
    found = re.search(r"Comparing two agents: A is (good|bad), B is (good|bad);", out)
    assert found is not None, out
    a, b = found.groups()
    assert {a, b} == {"good", "bad"}
    a_at, b_at = out.index(f"| **A** · agent {a} ({a}-v1)"), out.index(f"| **B** · agent {b} ({b}-v1)")
    assert a_at < b_at
    assert f"{a} wrote about: a post about tea" in out[a_at:b_at]  # the flag is not part of the brief
    assert f"{b} wrote about: a post about tea" in out[b_at:]
    assert "reply `#1 pick A` or `#1 pick B`" in out
    assert out.count("↳ reply `#1 <feedback>`") == 1  # decision controls on A only

    # someone who may not decide is told privately; then the requester picks B
    out = await _console(rt, "#1 pick B\n", speaker="mallory")
    assert "→ mallory only" in out and "can pick for #1" in out
    out = await _console(rt, "#1 pick B\n#1 pick A\n")
    assert f"#1: B ({b}) picked by alice; it is v1 now. A ({a}) is kept, marked not picked." in out
    assert "#1: no pick. B was picked already." in out
    async with rt.db.session() as session:
        current = await versions.latest_version(session=session, project_id=1)
        kept = await routing.get_comparison(session=session, project_id=1)
    assert current is not None and (current.number, current.agent, current.text) == (
        1, b, f"{b} wrote about: a post about tea",
    )  # fmt: skip
    assert kept is not None and kept.picked == "B" and kept.text_a == f"{a} wrote about: a post about tea"

    # the next revision is B's agent's
    out = await _console(rt, "#1 make it shorter\n")
    assert "[#1] draftloop (v2 · in_review):" in out and f"{b} wrote about" in out.split("(v2 · in_review)")[1]

    route = _cli(tmp_path, db_url, PAIR, "route", "writing", "--format", "json")
    by_agent = {c["agent"]: (c["decided"], c["accepted"]) for c in route["candidates"]}
    assert by_agent == {a: (1, 0), b: (1, 1)}
    assert route["agent"] == b
    digest = _cli(tmp_path, db_url, PAIR, "digest", "--since", "2026-11-12", "--until", "2026-11-19", "-f", "json")
    assert digest["orchestrator"]["writing"]["picks"] == {
        b: {"compared": 1, "picked": 1}, a: {"compared": 1, "picked": 0},
    }  # fmt: skip


async def test_compare_with_a_fallback_and_without_a_second_agent(  # type: ignore[no-untyped-def]
    make_runtime, settings_factory
) -> None:
    rt = _runtime(make_runtime, settings_factory, AGENTS + '[categories.writing]\nagent = "good"\n')
    out = await _console(rt, "[writing] --compare a post\n#1 pick A\n")
    assert "Compare needs two agents in writing (`agents` or a `fallback`); drafting with one." in out
    assert "**A**" not in out and "**B**" not in out
    assert "#1: no pick. It was drafted by one agent; there is nothing to pick." in out

    rt = _runtime(make_runtime, settings_factory, AGENTS + '[categories.writing]\nagent = "good"\nfallback = ["bad"]\n')
    out = await _console(rt, "[writing] a note\n#2 feedback first\n#2 pick A\n")
    assert "**A**" not in out  # not asked for: one draft
    out = await _console(rt, "--compare [writing] a second note\n#3 add a title\n#3 pick A\n")
    assert "A is good, B is bad" in out and "| **B** · agent bad (bad-v1)" in out
    assert "#3: no pick. It is in review at v2; a pick is made on v1, before any feedback or decision." in out


async def test_review_pings_the_experts_once_and_the_quiet_ack_names_none(  # type: ignore[no-untyped-def]
    make_runtime, settings_factory
) -> None:
    toml = '[categories.writing]\nexperts = ["ed"]\nreview_threshold = 0.5\nreview_min_decided = 1\n'
    rt = make_runtime(settings_factory(toml=toml))
    out = await _console(rt, "[writing] tea\n#1 accept\n[writing] coffee\n")
    first, second = out.split("[#2]", 1)
    assert "Feedback from: ed." in first  # needs review: named and pinged
    assert "Feedback from" not in second and "No expert is pinged: reply `#2 review` to ask them." in second
    assert "likely fine as is: the agent alone was accepted 1/1 here" in second

    out = await _console(rt, "#2 review\n#2 review\n#1 review\n")
    assert out.count("#2: alice asks for a review of v1. Feedback from: ed.") == 1
    assert "#2's experts were asked already" in out
    assert "#1 is not marked likely fine as is" in out

    out = await _console(rt, "#2 shorter please\n")
    assert "↳ for review: ed" in out  # asked once: its later drafts are the experts' too


async def test_a_category_may_make_comparing_the_default(make_runtime: Any, settings_factory: Any) -> None:
    # Before: `compare = true` was refused at start-up as an unknown key.
    rt = _runtime(make_runtime, settings_factory, PAIR + "compare = true\n")
    out = await _console(rt, "[writing] a post\n")
    assert "| **B** · agent" in out
