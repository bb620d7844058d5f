"""drop versions.message_id: the message_links row of kind "draft" already says which message
shows which version, so the column was a second copy to keep in step

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 06:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("versions") as batch_op:
        batch_op.drop_column("message_id")


def downgrade() -> None:
    with op.batch_alter_table("versions") as batch_op:
        batch_op.add_column(sa.Column("message_id", sa.String(length=128), nullable=True))
