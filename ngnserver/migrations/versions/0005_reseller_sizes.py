"""reseller sizes

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 00:19:07.888488
"""

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


RECOUNT = "INSERT INTO reseller_sizes (reseller, customers) SELECT reseller, count(*) FROM customers GROUP BY reseller"


def upgrade() -> None:
    op.create_table('reseller_sizes',
    sa.Column('reseller', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('customers', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('reseller', name=op.f('pk_reseller_sizes'))
    )
    op.execute(RECOUNT)


def downgrade() -> None:
    op.drop_table('reseller_sizes')
