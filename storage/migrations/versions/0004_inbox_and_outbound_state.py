"""inbox (inbound events stored before they are acknowledged, replayed until handled) and the
projects' outbound state: when the acknowledgement was posted, which version was last shown, and
the progress message a resumed cycle edits instead of leaving

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 10:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbox",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_until", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("source", "key", name="uq_inbox"),
    )
    op.create_index("ix_inbox_due", "inbox", ["status", "claimed_until"])
    with op.batch_alter_table("projects") as batch_op:
        batch_op.add_column(sa.Column("acked_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("posted_version", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("progress_message_id", sa.String(length=128), nullable=True))
    # Projects from before this revision were acknowledged and shown as they went.
    op.execute("UPDATE projects SET acked_at = created_at, posted_version = current_version")


def downgrade() -> None:
    with op.batch_alter_table("projects") as batch_op:
        batch_op.drop_column("progress_message_id")
        batch_op.drop_column("posted_version")
        batch_op.drop_column("acked_at")
    op.drop_index("ix_inbox_due", table_name="inbox")
    op.drop_table("inbox")
