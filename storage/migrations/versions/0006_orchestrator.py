"""the orchestrator: routes (each project's agent, policy, reason and review mode) and qc_checks
(each version's quality check before experts saw it)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 13:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "routes",
        sa.Column("project_id", sa.Integer(), sa.ForeignKey("projects.id"), primary_key=True),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("agent", sa.String(length=128), nullable=False),
        sa.Column("policy", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("review", sa.String(length=16), nullable=True),
        sa.Column("review_reason", sa.String(length=300), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_routes_category", "routes", ["category", "created_at"])
    op.create_table(
        "qc_checks",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("project_id", sa.Integer(), sa.ForeignKey("projects.id"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("checker", sa.String(length=128), nullable=False),
        sa.Column("gaps", sa.Text(), nullable=False),
        sa.Column("remaining", sa.Text(), nullable=False),
        sa.Column("auto_revisions", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("project_id", "version", name="uq_qc_checks"),
    )
    op.create_index("ix_qc_checks_created", "qc_checks", ["created_at", "verdict"])


def downgrade() -> None:
    op.drop_index("ix_qc_checks_created", table_name="qc_checks")
    op.drop_table("qc_checks")
    op.drop_index("ix_routes_category", table_name="routes")
    op.drop_table("routes")
