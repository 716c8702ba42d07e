"""The schema the migrations build is the schema the models declare; the checked-in SQL and
the README's error code table are what the code produces."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from ngnserver.cli import errorcode_table, schema_sql
from ngnserver.core.errors import all_codes
from ngnserver.models import Base

ROOT = Path(__file__).parent.parent


def test_migrations_build_exactly_the_models(server):
    with server.database.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_checked_in_postgresql_schema_is_what_the_migrations_produce():
    assert (ROOT / "sql" / "postgresql-schema.sql").read_text() == schema_sql("postgresql"), (
        "regenerate with: ngnserver db sql > sql/postgresql-schema.sql"
    )


def test_readme_lists_every_error_code():
    assert errorcode_table() in (ROOT / "README.md").read_text(), (
        "regenerate the README's table with: ngnserver errorcodes"
    )


def test_error_codes_are_unique_and_keep_the_ones_cdrtool_depends_on():
    codes = [c.code for c in all_codes()]
    assert len(codes) == len(set(codes))
    assert {1001, 1011, 1031, 3002, 5001, 7001, 7003} <= set(codes)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_read_only_request_cannot_write(backend, request, tmp_path):
    """get* operations run in read sessions (autocommit on PostgreSQL): a write through one
    is refused before it reaches the database."""
    from ngnserver.db import Database
    from ngnserver.models import Customer
    from tests.conftest import database_url

    database = Database(database_url(backend, request, tmp_path, "readonly"))
    database.migrate()
    try:
        with (
            pytest.raises(RuntimeError, match="read-only"),
            database.transaction(write=False) as session,
        ):
            session.add(Customer(id=1, reseller=1, username="sneaky", password_sealed=b""))
        with database.transaction(write=False) as session:
            assert session.query(Customer).count() == 0
    finally:
        database.dispose()
