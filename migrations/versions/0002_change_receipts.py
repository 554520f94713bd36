"""Change receipts: every acknowledged change until its person has been told.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 18:10:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "change_receipts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("channel_id", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("target", sa.String(length=255), nullable=True),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "state IN ('queued', 'running', 'reporting', 'ended', 'reported')",
            name=op.f("ck_change_receipts_state"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_receipts")),
    )
    op.create_index(
        "ix_change_receipts_state_lease_until", "change_receipts", ["state", "lease_until"]
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("ix_change_receipts_state_lease_until", table_name="change_receipts")
    op.drop_table("change_receipts")
