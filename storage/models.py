"""SQLModel tables. Changing a table means a new Alembic revision in storage/migrations/versions/.

Projects carry a few denormalized figures (current version, feedback count, accepted version,
first-draft and decision times) so the digest aggregates one table instead of scanning history.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime


def _ts(*, nullable: bool = False, index: bool = False) -> Column[datetime]:
    return Column(UTCDateTime(), nullable=nullable, index=index)


class Project(SQLModel, table=True):
    __tablename__ = "projects"
    __table_args__ = (
        UniqueConstraint("platform", "channel", "thread_id", name="uq_projects_thread"),
        Index("ix_projects_decided", "decided_at"),
        Index("ix_projects_created", "created_at"),
        Index("ix_projects_state", "state"),
        # migration 0002: the digest's covering index (by decided_at) and the waiting-for-review lookup
        Index(
            "ix_projects_digest",
            "decided_at",
            "state",
            "category",
            "model",
            "accepted_version",
            "feedback_count",
            "current_version",
            "created_at",
            "first_draft_at",
        ),
        # migration 0008: the same in the digest's group order (a skip-scan on SQLite)
        Index(
            "ix_projects_groups",
            "category",
            "model",
            "state",
            "decided_at",
            "accepted_version",
            "feedback_count",
            "current_version",
            "created_at",
            "first_draft_at",
        ),
        Index("ix_projects_review", "state", "review_since"),
    )

    id: int | None = Field(default=None, primary_key=True)  # the number every platform shows (#12)
    platform: str = Field(max_length=32)
    channel: str = Field(max_length=128)
    thread_id: str | None = Field(default=None, max_length=128)
    request_message_id: str = Field(default="", max_length=128)
    requester_id: str = Field(max_length=128)
    requester_name: str = Field(default="", max_length=200)
    brief: str = Field(sa_column=Column(Text, nullable=False))
    category: str = Field(max_length=64)
    category_reason: str = Field(default="", max_length=200)
    agent: str = Field(max_length=128)
    model: str = Field(default="", max_length=128)
    state: str = Field(max_length=16)
    current_version: int = 0
    feedback_count: int = 0  # non-aside feedback rows; > 0 ends "agent alone"
    accepted_version: int | None = None
    deadline: str | None = Field(default=None, max_length=64)
    last_error: str = Field(default="", max_length=500)
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    nudge_count: int = 0
    last_nudged_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    created_at: datetime = Field(sa_column=_ts())
    updated_at: datetime = Field(sa_column=_ts())
    first_draft_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    review_since: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    decided_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    # migration 0004: what a resumed cycle still owes the thread
    acked_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))  # None: no acknowledgement yet
    posted_version: int = 0  # the last version shown in the thread; below current_version: a post failed
    progress_message_id: str | None = Field(default=None, max_length=128)  # a cycle's "Writing vN…" message


class Version(SQLModel, table=True):
    __tablename__ = "versions"
    __table_args__ = (
        UniqueConstraint("project_id", "number", name="uq_versions_number"),
        # migration 0002: token usage per project from the index alone
        Index("ix_versions_usage", "project_id", "input_tokens", "output_tokens", "cached_tokens", "cost_usd"),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="projects.id", index=True)
    number: int
    text: str = Field(sa_column=Column(Text, nullable=False))
    agent: str = Field(max_length=128)
    model: str = Field(default="", max_length=128)
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: int = 0
    finish_reason: str = Field(default="", max_length=32)
    feedback_upto: int = 0  # highest feedback id folded into this version
    created_at: datetime = Field(sa_column=_ts())


class Feedback(SQLModel, table=True):
    __tablename__ = "feedback"
    __table_args__ = (
        Index("ix_feedback_project_pending", "project_id", "consumed_by"),
        Index("ix_feedback_created", "created_at"),
        # migrations 0002 and 0008: expert minutes and authors by period, by project, from the index alone
        Index(
            "ix_feedback_period",
            "created_at",
            "is_aside",
            "project_id",
            "author_id",
            "author_name",
            "stated_minutes",
            "estimated_minutes",
        ),
        Index("ix_feedback_minutes", "project_id", "is_aside", "stated_minutes", "estimated_minutes"),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="projects.id")
    author_id: str = Field(max_length=128)
    author_name: str = Field(default="", max_length=200)
    text: str = Field(sa_column=Column(Text, nullable=False))
    on_version: int
    is_aside: bool = False
    is_expert: bool = False
    stated_minutes: int | None = None
    estimated_minutes: int | None = None
    consumed_by: int | None = None  # version number that took this point up; None while pending
    message_id: str | None = Field(default=None, max_length=128)
    created_at: datetime = Field(sa_column=_ts())


class Decision(SQLModel, table=True):
    __tablename__ = "decisions"

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="projects.id", index=True)
    actor_id: str = Field(max_length=128)
    actor_name: str = Field(default="", max_length=200)
    outcome: str = Field(max_length=16)
    version: int
    via: str = Field(default="text", max_length=16)
    created_at: datetime = Field(sa_column=_ts())
    # migration 0005: why a reject (one of the core's reasons, bot/events.py) and what the decider added
    reason: str | None = Field(default=None, max_length=32)
    comment: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class Signal(SQLModel, table=True):
    """One-tap feedback (👍 / 👎) on one version, one row per person: a second tap replaces the first.
    Never feedback and never a decision; the digest counts them (migration 0005)."""

    __tablename__ = "signals"
    __table_args__ = (
        UniqueConstraint("project_id", "version", "person_id", name="uq_signals"),
        Index("ix_signals_updated", "updated_at", "value"),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="projects.id")
    version: int
    person_id: str = Field(max_length=128)
    person_name: str = Field(default="", max_length=200)
    value: str = Field(max_length=8)  # up, down
    via: str = Field(default="button", max_length=16)
    created_at: datetime = Field(sa_column=_ts())
    updated_at: datetime = Field(sa_column=_ts())


class Person(SQLModel, table=True):
    """Everyone who took part, per platform; experts are flagged from the config when seen."""

    __tablename__ = "people"
    __table_args__ = (UniqueConstraint("platform", "user_id", name="uq_people_user"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=32)
    user_id: str = Field(max_length=128)
    name: str = Field(default="", max_length=200)
    is_expert: bool = False
    first_seen: datetime = Field(sa_column=_ts())
    last_seen: datetime = Field(sa_column=_ts())


class MessageLink(SQLModel, table=True):
    """Which project a platform message belongs to, so a reaction on a draft finds its project."""

    __tablename__ = "message_links"
    __table_args__ = (UniqueConstraint("platform", "channel", "message_id", name="uq_message_links"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=32)
    channel: str = Field(max_length=128)
    message_id: str = Field(max_length=128)
    project_id: int = Field(foreign_key="projects.id", index=True)
    kind: str = Field(max_length=16)  # request, ack, draft, notice
    version: int = 0


class InboundEvent(SQLModel, table=True):
    """One row per platform event processed: a redelivery finds its key and is dropped."""

    __tablename__ = "inbound_events"
    __table_args__ = (UniqueConstraint("platform", "key", name="uq_inbound_events"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=32)
    key: str = Field(max_length=255)
    created_at: datetime = Field(sa_column=_ts())


class InboxEntry(SQLModel, table=True):
    """An inbound delivery stored before it is acknowledged, so a crash or a database fault after
    the acknowledgement loses nothing: `pending` until the event's effect is stored (in the same
    transaction: bot/loop/receipts.py), replayed by the sweeper when its claim runs out."""

    __tablename__ = "inbox"
    __table_args__ = (
        UniqueConstraint("source", "key", name="uq_inbox"),
        Index("ix_inbox_due", "status", "claimed_until"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=32)  # the platform whose replayer reads `payload`
    key: str = Field(max_length=255)  # the event's key, as the core records it
    payload: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(default="pending", max_length=16)  # pending, done, dropped
    attempts: int = 0
    claimed_until: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    created_at: datetime = Field(sa_column=_ts())


class DigestRun(SQLModel, table=True):
    """A digest posted (or being posted) for one channel and period; the unique key stops doubles."""

    __tablename__ = "digest_runs"
    __table_args__ = (UniqueConstraint("channel", "period_start", name="uq_digest_runs"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=200)  # "platform:channel"
    period_start: datetime = Field(sa_column=_ts())
    period_end: datetime = Field(sa_column=_ts())
    status: str = Field(default="started", max_length=16)
    created_at: datetime = Field(sa_column=_ts())


class Nudge(SQLModel, table=True):
    """A reminder or expiry notice sent, recorded so a job run twice does not send it twice."""

    __tablename__ = "nudges"
    __table_args__ = (UniqueConstraint("project_id", "kind", "seq", name="uq_nudges"),)

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="projects.id")
    kind: str = Field(max_length=16)  # nudge, expire
    seq: int = 0
    created_at: datetime = Field(sa_column=_ts())
