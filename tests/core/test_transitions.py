"""Every state change of the loop goes through bot/loop/transitions.py, checked against the state
table: no stage assigns a project's state or calls storage's state writes itself, and the moves
the drafting makes on its own start only where the table allows."""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.app.runtime import Runtime
from bot.errors import InvalidTransition
from bot.events import Actor, DecisionSignal, Locator, Outcome
from bot.loop import transitions
from bot.settings import Settings
from bot.states import TRANSITIONS, WORKING, State
from tests.conftest import request_event

LOOP = Path(__file__).resolve().parents[2] / "bot" / "loop"
STATE_WRITES = {"move_state", "finish_version"}


def _offences(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            if isinstance(target, ast.Attribute) and target.attr == "state":
                found.append(f"{path.name}:{node.lineno} assigns .state")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in STATE_WRITES:
            if path.name != "transitions.py":
                found.append(f"{path.name}:{node.lineno} calls {node.func.attr}")
    return found


def test_no_stage_changes_a_state_past_the_transitions() -> None:
    modules = sorted(LOOP.glob("*.py"))
    assert len(modules) > 10
    offences = [o for path in modules for o in _offences(path)]
    assert offences == []


def test_the_drafting_moves_start_where_the_table_allows() -> None:
    for lands_from in transitions._LANDS_FROM:
        assert State.IN_REVIEW in TRANSITIONS[State(lands_from)]
    assert set(transitions._LANDS_FROM) == {s.value for s in WORKING}
    assert transitions._from(State, State.FAILED) == ("drafting", "revising")  # in review, nothing is being written


async def test_a_decision_on_a_decided_project_is_refused_by_the_table(
    make_runtime: Callable[..., Runtime], settings_factory: Callable[..., Settings]
) -> None:
    rt = make_runtime(settings_factory())
    await rt.workflow.handle(request_event("a post"))
    alice = Actor("console", "alice", "alice")
    await rt.workflow.handle(DecisionSignal(Locator(number=1), alice, Outcome.REJECT))
    await rt.workflow.handle(DecisionSignal(Locator(number=1), alice, Outcome.ACCEPT))
    assert "#1 is already rejected" in rt.chat.texts()[-1]  # type: ignore[attr-defined]


async def test_move_refuses_what_the_table_forbids(
    make_runtime: Callable[..., Runtime], settings_factory: Callable[..., Settings]
) -> None:
    rt = make_runtime(settings_factory())
    await rt.workflow.handle(request_event("a post"))
    async with rt.db.session() as session:
        project = await rt.workflow.threads.find_in(session, Locator(number=1))
        assert project is not None and project.state == State.IN_REVIEW
        with pytest.raises(InvalidTransition):
            await transitions.move(session, project, State.DRAFTING)
