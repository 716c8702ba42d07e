"""login_failures: the brake on password guessing

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 19:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("last_failure", sa.DateTime, nullable=False),
        sa.Column("blocked_until", sa.DateTime, nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_failures")),
    )
    op.create_index(op.f("ix_login_failures_last_failure"), "login_failures", ["last_failure"])


def downgrade() -> None:
    op.drop_table("login_failures")
