"""Every state change the loop makes, checked against the state table (bot/states.py) and
written by storage as a compare-and-set, in the caller's transaction.

The moves a person asks for (a decision, retry, cancel) are checked from the state the project
was read in and refused with the table's sentence. The moves the drafting makes on its own
(a version lands, a write fails, a revision is taken up or found to be owed nothing) start from
the states the table lets them start from, worked out here once from the table.

A cycle writes only in a working state: a revision owed while in review is taken up first.
A move changes the row, not the `Project` object read before it (storage writes rows, not
loaded objects): what is shown afterwards takes the new state from the move.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any

from bot.errors import InvalidTransition
from bot.states import WORKING, State, can_move, check_move
from storage import Session, projects as store
from storage.models import Project


def _from(sources: Iterable[State], target: State) -> tuple[str, ...]:
    """The states among `sources` the table lets reach `target`."""
    return tuple(sorted(s.value for s in sources if can_move(s, target)))


# A version lands from the states a cycle writes in and goes to review; storage puts it straight
# back into revision (a move the table allows) when feedback came while it was written.
_LANDS_FROM = _from(WORKING, State.IN_REVIEW)
assert can_move(State.IN_REVIEW, State.REVISING), "a landed version with feedback waiting goes back to revision"
_CHANGED = "#{number} changed just now; look at its status and try again."


class Changed(InvalidTransition):
    """Another step moved the project between reading it and moving it."""

    def __init__(self, number: int) -> None:
        super().__init__(_CHANGED.format(number=number))


def check(project: Project, target: State) -> None:
    """InvalidTransition, with the table's sentence, when `project` may not move to `target`."""
    check_move(State(project.state), target, number=_number(project))


async def move(session: Session, project: Project, target: State, **columns: Any) -> None:
    """Move `project` from the state it was read in to `target`, with `columns` written beside.

    InvalidTransition (with the table's sentence) when the table forbids it; Changed when the row
    left that state meanwhile."""
    number = _number(project)
    current = State(project.state)
    check(project, target)
    moved = await store.move_state(
        session=session, project_id=number, expected=[current.value], target=target.value, **columns
    )
    if not moved:
        raise Changed(number)


async def move_any(
    session: Session, project_id: int, sources: Collection[State], target: State, **columns: Any
) -> bool:
    """Move the project to `target` if it is in one of `sources` the table lets reach it; False
    when it is in none (another step moved it elsewhere: nothing to do)."""
    expected = _from(sources, target)
    if not expected:
        return False
    return await store.move_state(
        session=session, project_id=project_id, expected=expected, target=target.value, **columns
    )


async def take_up(session: Session, project_id: int, **columns: Any) -> bool:
    """In review and feedback came: the revision it is owed begins. False when not in review."""
    return await move_any(session, project_id, (State.IN_REVIEW,), State.REVISING, **columns)


async def settle(session: Session, project_id: int) -> bool:
    """In revision with nothing left to revise: back to review."""
    return await move_any(session, project_id, (State.REVISING,), State.IN_REVIEW)


async def fail(session: Session, project_id: int, *, reason: str, now: datetime) -> bool:
    """A version could not be written; False when the project was decided meanwhile."""
    return await move_any(session, project_id, WORKING, State.FAILED, last_error=reason, updated_at=now, decided_at=now)


async def land(
    session: Session, project_id: int, *, number: int, model: str, lease: str, now: datetime
) -> Project | None:
    """Make version `number` current and put the project in review (or back into revision when
    feedback is waiting); the project as it is now, or None when it was decided meanwhile or
    `lease` lost it to another process."""
    return await store.finish_version(
        session=session, project_id=project_id, number=number, model=model, working=_LANDS_FROM, lease=lease, now=now
    )


def _number(project: Project) -> int:
    assert project.id is not None, "a stored project has an id"
    return project.id
