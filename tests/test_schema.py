"""The schema the migrations build is the schema the models declare; the checked-in SQL and
docs/errors.md's error code table are what the code produces."""

from __future__ import annotations

from pathlib import Path

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


def test_the_docs_list_every_error_code():
    assert errorcode_table() in (ROOT / "docs" / "errors.md").read_text(), (
        "regenerate the table in docs/errors.md with: ngnserver errorcodes"
    )


def test_error_codes_are_unique_and_keep_the_ones_cdrtool_depends_on():
    codes = [c.code for c in all_codes()]
    assert len(codes) == len(set(codes))
    assert {1001, 1011, 1031, 3002, 5001, 7001, 7003} <= set(codes)


def _wal_size_after_writes(path: Path, writes: int) -> int:
    from sqlalchemy import text

    from ngnserver import db

    database = db.Database(f"sqlite:///{path}")
    database.migrate()
    try:
        for n in range(writes):
            with database.transaction() as session:
                session.execute(
                    text("INSERT INTO audit_log (at, login, admin_login, action, kind, record_key, changes) "
                         "VALUES (CURRENT_TIMESTAMP, 't', 0, 'create', 'test', :k, '{}')"),
                    {"k": str(n)},
                )  # fmt: skip
        with database.transaction(write=False) as session:
            assert session.execute(text("SELECT count(*) FROM audit_log")).scalar_one() == writes
        return Path(f"{path}-wal").stat().st_size
    finally:
        database.dispose()


def test_the_sqlite_write_ahead_log_is_copied_back_and_reused(tmp_path, monkeypatch):
    """SQLite's own checkpoints are off (they ran inside a writer's turn); ours run every
    CHECKPOINT_EVERY writes, so the log stays the size of about that many writes."""
    from ngnserver import sqlite_writers

    writes = 8 * sqlite_writers.CHECKPOINT_EVERY
    checkpointed = _wal_size_after_writes(tmp_path / "ours.sqlite3", writes)
    monkeypatch.setattr(sqlite_writers, "CHECKPOINT_EVERY", 10 * writes)
    never = _wal_size_after_writes(tmp_path / "never.sqlite3", writes)
    assert 0 < checkpointed < never / 4
