"""A hand-built history whose digest figures are known in advance.

Each `Spec` line is a number of projects with the same fate; the expected figures in the tests are
written from these lines by hand, not computed by the code under test.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from storage.engine import Database
from storage.models import Feedback, Project, Version

# The study's three model/category pairs plus a thin group (docs/digest.md).
SONNET, GEMINI, GPT5, OFFLINE = "claude-sonnet-4", "gemini-2.5-pro", "gpt-5", "offline-v1"
EXPERT_OF = {"data-science": "ana", "sales-marketing": "ben", "engineering": "cy", "writing": "dee"}


@dataclass(frozen=True)
class Spec:
    count: int
    category: str
    model: str
    state: str  # final state
    version: int  # current (and, when accepted, accepted) version
    feedback: int  # feedback rows (non-aside) on the project


STUDY: tuple[Spec, ...] = (
    # Claude Sonnet 4 / data science: 64 alone, 93 with feedback, of 100
    Spec(64, "data-science", SONNET, "accepted", 1, 0),
    Spec(20, "data-science", SONNET, "accepted", 2, 1),
    Spec(9, "data-science", SONNET, "accepted", 3, 2),
    Spec(7, "data-science", SONNET, "rejected", 3, 2),
    # Gemini 2.5 Pro / sales & marketing: 17 → 31 of 100
    Spec(17, "sales-marketing", GEMINI, "accepted", 1, 0),
    Spec(10, "sales-marketing", GEMINI, "accepted", 2, 1),
    Spec(4, "sales-marketing", GEMINI, "accepted", 3, 2),
    Spec(60, "sales-marketing", GEMINI, "rejected", 2, 1),
    Spec(9, "sales-marketing", GEMINI, "expired", 1, 0),
    # GPT-5 / engineering: 3 → 5 of 10
    Spec(3, "engineering", GPT5, "accepted", 1, 0),
    Spec(2, "engineering", GPT5, "accepted", 2, 1),
    Spec(5, "engineering", GPT5, "rejected", 2, 1),
    # a thin group (4 decided): one accepted at v1 *after* feedback counts with feedback, not alone
    Spec(1, "writing", OFFLINE, "accepted", 1, 0),
    Spec(1, "writing", OFFLINE, "accepted", 1, 1),
    Spec(1, "writing", OFFLINE, "accepted", 2, 1),
    Spec(1, "writing", OFFLINE, "failed", 1, 0),
)

# Never in the rates: cancelled in the period, still open, decided outside the period.
NOISE: tuple[Spec, ...] = (
    Spec(2, "writing", OFFLINE, "cancelled", 1, 0),
    Spec(3, "writing", OFFLINE, "in_review", 2, 1),
)

TOKENS_IN, TOKENS_OUT, COST = 1000, 200, 0.01  # per version
STATED = {"data-science": 10}  # minutes per feedback row; other categories get an estimate of 5
ESTIMATED = 5


async def insert_specs(
    db: Database,
    specs: tuple[Spec, ...],
    *,
    decided_at: datetime,
    created_at: datetime | None = None,
    first_draft_after: timedelta = timedelta(minutes=2),
    accept_after: timedelta = timedelta(hours=5),
) -> list[int]:
    """Insert the projects (with their versions and feedback); returns their ids."""
    created = created_at or decided_at - accept_after
    ids: list[int] = []
    async with db.session() as session:
        projects: list[tuple[Project, Spec]] = []
        for spec in specs:
            for _ in range(spec.count):
                final = spec.state not in ("in_review", "revising", "drafting")
                p = Project(
                    platform="console",
                    channel="C1",
                    thread_id=None,
                    requester_id="req",
                    brief="a request",
                    category=spec.category,
                    agent=spec.model,
                    model=spec.model,
                    state=spec.state,
                    current_version=spec.version,
                    feedback_count=spec.feedback,
                    accepted_version=spec.version if spec.state == "accepted" else None,
                    created_at=created,
                    updated_at=decided_at if final else created,
                    first_draft_at=created + first_draft_after,
                    review_since=None if final else created + first_draft_after,
                    decided_at=decided_at if final else None,
                )
                session.add(p)
                projects.append((p, spec))
        await session.flush()
        for p, spec in projects:
            assert p.id is not None
            ids.append(p.id)
            for n in range(1, spec.version + 1):
                session.add(
                    Version(
                        project_id=p.id,
                        number=n,
                        text=f"draft {n}",
                        agent=spec.model,
                        model=spec.model,
                        input_tokens=TOKENS_IN,
                        output_tokens=TOKENS_OUT,
                        cost_usd=COST,
                        created_at=created + first_draft_after,
                    )
                )
            for i in range(spec.feedback):
                stated = STATED.get(spec.category)
                session.add(
                    Feedback(
                        project_id=p.id,
                        author_id=EXPERT_OF[spec.category],
                        author_name=EXPERT_OF[spec.category],
                        text="tighten it",
                        on_version=min(i + 1, spec.version),
                        is_expert=True,
                        stated_minutes=stated,
                        estimated_minutes=None if stated is not None else ESTIMATED,
                        created_at=created + first_draft_after + timedelta(minutes=10 + i),
                    )
                )
    return ids


def at(y: int, m: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=UTC)
