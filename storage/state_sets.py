"""The project states storage's queries need, as the core names them.

Storage never spells a state: the core (bot/states.py) builds one `StateSets` and hands it to the
`Database` (`Database(url, states=...)` or `Database.use_states`), whose sessions carry it; the
digest's queries take it as an argument. Adding a state to the core's table means deciding which
of these sets it belongs to, in bot/states.py, and nothing here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StateSets:
    drafting: str  # a new project: its first version is due
    revising: str  # pending feedback is being written into a new version
    review: str  # the current version waits for feedback or a decision
    accepted: str  # the outcome the digest counts as accepted
    open: frozenset[str]  # listed by `status`: not final
    decided: frozenset[str]  # counted as decided by the digest

    @property
    def working(self) -> tuple[str, str]:
        """States in which a cycle is due or running, whatever feedback is pending."""
        return (self.drafting, self.revising)
