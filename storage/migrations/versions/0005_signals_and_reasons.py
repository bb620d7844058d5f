"""signals (one-tap 👍 / 👎 per project, version and person) and a reject's reason and comment on
decisions

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "signals",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("project_id", sa.Integer(), sa.ForeignKey("projects.id"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.String(length=128), nullable=False),
        sa.Column("person_name", sa.String(length=200), nullable=False),
        sa.Column("value", sa.String(length=8), nullable=False),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("project_id", "version", "person_id", name="uq_signals"),
    )
    op.create_index("ix_signals_updated", "signals", ["updated_at", "value"])
    with op.batch_alter_table("decisions") as batch_op:
        batch_op.add_column(sa.Column("reason", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("comment", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("decisions") as batch_op:
        batch_op.drop_column("comment")
        batch_op.drop_column("reason")
    op.drop_index("ix_signals_updated", table_name="signals")
    op.drop_table("signals")
