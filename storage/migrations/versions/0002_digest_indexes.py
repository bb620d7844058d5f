"""digest indexes: covering indexes for the digest's aggregate queries, nudge lookups

The digest groups the projects decided in a period by category, model and accepted version, sums
token usage of their versions and expert minutes of their feedback. These indexes let SQLite and
PostgreSQL answer each of those from an index alone (decided_at range first), so a digest over a
history of 100,000 projects stays well under a second.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 06:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_projects_digest",
        "projects",
        [
            "decided_at",
            "state",
            "category",
            "model",
            "accepted_version",
            "feedback_count",
            "current_version",
            "created_at",
            "first_draft_at",
        ],
    )
    op.create_index("ix_projects_review", "projects", ["state", "review_since"])
    op.create_index(
        "ix_versions_usage",
        "versions",
        ["project_id", "input_tokens", "output_tokens", "cached_tokens", "cost_usd"],
    )
    op.create_index(
        "ix_feedback_digest",
        "feedback",
        ["created_at", "is_aside", "project_id", "author_id", "stated_minutes", "estimated_minutes"],
    )
    op.create_index(
        "ix_feedback_minutes",
        "feedback",
        ["project_id", "is_aside", "stated_minutes", "estimated_minutes"],
    )


def downgrade() -> None:
    op.drop_index("ix_feedback_minutes", table_name="feedback")
    op.drop_index("ix_feedback_digest", table_name="feedback")
    op.drop_index("ix_versions_usage", table_name="versions")
    op.drop_index("ix_projects_review", table_name="projects")
    op.drop_index("ix_projects_digest", table_name="projects")
