"""ngn_caller_changed(): the check of a remembered caller refuses with its own error

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 08:00:00

PostgreSQL only. A worker that authenticated a caller before may act as that caller again
without reading its account first; the request's first statement then carries a check that
the account is as it was, and calls ``ngn_caller_changed()`` when it is not. The statement
fails with SQLSTATE NG002, which nothing else raises, so the request is sent again with the
caller read afresh (see core/callers.py, ``CallerCheck``). NG001 (``ngn_refuse``) already
means "a credit or a placement refused", which the record code answers on its own.
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

CALLER_CHANGED_SQLSTATE = "NG002"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE OR REPLACE FUNCTION ngn_caller_changed() RETURNS integer LANGUAGE plpgsql AS $$ "
        f"BEGIN RAISE EXCEPTION USING ERRCODE = '{CALLER_CHANGED_SQLSTATE}', "
        "MESSAGE = 'the caller''s account changed since this worker read it'; END $$"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS ngn_caller_changed()")
