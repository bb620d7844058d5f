"""the orchestrator's comparisons: one request drafted by two agents (A and B), both drafts kept,
and the pick

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "comparisons",
        sa.Column("project_id", sa.Integer(), sa.ForeignKey("projects.id"), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("agent_a", sa.String(length=128), nullable=False),
        sa.Column("agent_b", sa.String(length=128), nullable=False),
        sa.Column("model_a", sa.String(length=128), nullable=False),
        sa.Column("model_b", sa.String(length=128), nullable=False),
        sa.Column("text_a", sa.Text(), nullable=True),
        sa.Column("text_b", sa.Text(), nullable=True),
        sa.Column("cost_a_usd", sa.Float(), nullable=False),
        sa.Column("cost_b_usd", sa.Float(), nullable=False),
        sa.Column("input_tokens_b", sa.Integer(), nullable=False),
        sa.Column("output_tokens_b", sa.Integer(), nullable=False),
        sa.Column("picked", sa.String(length=1), nullable=True),
        sa.Column("picked_by", sa.String(length=128), nullable=True),
        sa.Column("picked_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_comparisons_picked", "comparisons", ["picked_at"])


def downgrade() -> None:
    op.drop_index("ix_comparisons_picked", table_name="comparisons")
    op.drop_table("comparisons")
