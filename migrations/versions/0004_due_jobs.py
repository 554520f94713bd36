"""Due jobs: timed work (expiry, notices to requesters) that any process can claim once.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 19:20:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "due_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "state IN ('due', 'running', 'done', 'failed')", name=op.f("ck_due_jobs_state")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_due_jobs")),
        sa.UniqueConstraint("key", name=op.f("uq_due_jobs_key")),
    )
    op.create_index("ix_due_jobs_state_due_at", "due_jobs", ["state", "due_at"])


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("ix_due_jobs_state_due_at", table_name="due_jobs")
    op.drop_table("due_jobs")
