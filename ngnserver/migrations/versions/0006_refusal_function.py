"""ngn_refuse(): a statement that checks a condition can refuse with a known error

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 04:00:00

PostgreSQL only. A creation written as one statement (charging the credits and inserting the
rows, committed in the same round trip) calls ``ngn_refuse('credit')`` when a credit did not
allow it: the statement fails with SQLSTATE NG001, so nothing of it is kept and the COMMIT
sent with it never runs (see core/sip.py, ``Sip._create_account_at_once``).
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

REFUSED_SQLSTATE = "NG001"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE OR REPLACE FUNCTION ngn_refuse(reason text) RETURNS integer LANGUAGE plpgsql AS $$ "
        f"BEGIN RAISE EXCEPTION USING ERRCODE = '{REFUSED_SQLSTATE}', MESSAGE = reason; END $$"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS ngn_refuse(text)")
