"""Workflow steps: the function execution a request answers, to complete it when it ends.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-20 10:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("approval_requests") as batch:
        batch.add_column(sa.Column("function_execution_id", sa.String(length=64), nullable=True))
        batch.create_index(
            "ix_approval_requests_function_execution_id", ["function_execution_id"], unique=True
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("approval_requests") as batch:
        batch.drop_index("ix_approval_requests_function_execution_id")
        batch.drop_column("function_execution_id")
