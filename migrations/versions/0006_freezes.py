"""Freezes: who froze an SMTP user, when and why, until it is enabled again.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 16:40:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("catalogue") as batch:
        batch.add_column(sa.Column("frozen_by", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("frozen_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("frozen_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("catalogue") as batch:
        batch.drop_column("frozen_reason")
        batch.drop_column("frozen_at")
        batch.drop_column("frozen_by")
