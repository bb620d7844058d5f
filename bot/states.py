"""Project states and the one table of allowed moves between them (pure data, no I/O).

The states are named here only: storage gets the ones its queries need as `STORED`, a
`storage.StateSets` the Runtime hands to the Database.
"""

from __future__ import annotations

from enum import StrEnum

from bot.errors import InvalidTransition
from storage.state_sets import StateSets


class State(StrEnum):
    DRAFTING = "drafting"
    IN_REVIEW = "in_review"
    REVISING = "revising"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    FAILED = "failed"
    EXPIRED = "expired"


FINAL: frozenset[State] = frozenset({State.ACCEPTED, State.REJECTED, State.CANCELLED, State.EXPIRED})
# "decided" in the digest: every final state but cancelled, plus failed (docs/digest.md).
DECIDED: frozenset[State] = frozenset({State.ACCEPTED, State.REJECTED, State.EXPIRED, State.FAILED})
WORKING: frozenset[State] = frozenset({State.DRAFTING, State.REVISING})

# What storage's queries need to know of the states (storage/state_sets.py says what each means).
STORED = StateSets(
    drafting=State.DRAFTING.value,
    revising=State.REVISING.value,
    review=State.IN_REVIEW.value,
    accepted=State.ACCEPTED.value,
    open=frozenset(s.value for s in State if s not in FINAL),
    decided=frozenset(s.value for s in DECIDED),
)

# A decision may land while a draft is being written: the requester may accept any version,
# and the running cycle then finds a final state and stops.
TRANSITIONS: dict[State, frozenset[State]] = {
    State.DRAFTING: frozenset(
        {State.IN_REVIEW, State.FAILED, State.ACCEPTED, State.REJECTED, State.CANCELLED, State.EXPIRED}
    ),
    State.IN_REVIEW: frozenset({State.REVISING, State.ACCEPTED, State.REJECTED, State.CANCELLED, State.EXPIRED}),
    State.REVISING: frozenset(
        {State.IN_REVIEW, State.FAILED, State.ACCEPTED, State.REJECTED, State.CANCELLED, State.EXPIRED}
    ),
    # failed is final for the digest but `retry` may bring it back.
    State.FAILED: frozenset({State.DRAFTING, State.REVISING, State.REJECTED, State.CANCELLED, State.EXPIRED}),
    State.ACCEPTED: frozenset(),
    State.REJECTED: frozenset(),
    State.CANCELLED: frozenset(),
    State.EXPIRED: frozenset(),
}


def can_move(current: State, target: State) -> bool:
    return target in TRANSITIONS[current]


def check_move(current: State, target: State, *, number: int | None = None) -> None:
    """Raise InvalidTransition, with a sentence for the chat, when the move is not in the table."""
    if can_move(current, target):
        return
    label = f"#{number}" if number is not None else "This project"
    if current in FINAL:
        message = f"{label} is already {current.value}; start a new request to continue."
    else:
        message = f"{label} is {current.value.replace('_', ' ')}; it cannot become {target.value} now."
    raise InvalidTransition(message, current=current.value, target=target.value)
