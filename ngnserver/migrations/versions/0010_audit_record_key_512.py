"""audit_log.record_key holds 512 characters

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 18:30:00

The key of a SIP account or alias is ``username@domain``: a 64-character username in a
253-character domain is legal and needs 318 characters, more than the 255 the column had.
SQLite does not enforce a VARCHAR length, but its declared type changes all the same (a
batch copy of the table) so that the schema matches the models on both.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.alter_column("record_key", type_=sa.String(512), existing_type=sa.String(255), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.alter_column("record_key", type_=sa.String(255), existing_type=sa.String(512), existing_nullable=False)
