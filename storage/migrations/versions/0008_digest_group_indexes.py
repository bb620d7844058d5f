"""digest group indexes: the decided projects in group order, feedback with its author's name

The digest groups the projects decided in a period by category, model, state, accepted version and
feedback count. With ix_projects_groups (category and model first, then state and decided_at) SQLite
reads them in that order, a skip-scan over the few categories and models with a decided_at range in
each, and streams every aggregate instead of sorting each decided project (and each of its versions)
into a temporary B-tree. 0002's ix_projects_digest (decided_at first) stays for the medians, which
sort by an expression anyway and read fewer entries by range. ix_feedback_period adds the author's stored name to 0002's
ix_feedback_digest, which it replaces, so the per-author figures come from the index alone. The
planner needs its statistics to choose the skip-scan: SQLite gets them here (ANALYZE) and keeps
them with PRAGMA optimize (storage/metrics.py refresh_statistics); PostgreSQL's autovacuum keeps its own.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 11:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FEEDBACK_0002 = ["created_at", "is_aside", "project_id", "author_id", "stated_minutes", "estimated_minutes"]


def upgrade() -> None:
    op.create_index(
        "ix_projects_groups",
        "projects",
        [
            "category",
            "model",
            "state",
            "decided_at",
            "accepted_version",
            "feedback_count",
            "current_version",
            "created_at",
            "first_draft_at",
        ],
    )
    op.drop_index("ix_feedback_digest", table_name="feedback")
    op.create_index(
        "ix_feedback_period",
        "feedback",
        ["created_at", "is_aside", "project_id", "author_id", "author_name", "stated_minutes", "estimated_minutes"],
    )
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ANALYZE")


def downgrade() -> None:
    op.drop_index("ix_feedback_period", table_name="feedback")
    op.create_index("ix_feedback_digest", "feedback", _FEEDBACK_0002)
    op.drop_index("ix_projects_groups", table_name="projects")
