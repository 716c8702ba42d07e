"""OZmap <-> IXC state: box links, client links, and the sync cursors

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sync_cursors",
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("position", sa.String(64), nullable=True),
        sa.Column("seen", sa.JSON(), nullable=False),
        sa.Column("pending", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_sync_cursors")),
    )
    op.create_table(
        "ozmap_box_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ozmap_box_id", sa.String(64), nullable=False),
        sa.Column("ozmap_splitter_id", sa.String(64), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("ixc_caixa_id", sa.String(20), nullable=False),
        sa.Column("ozmap_project_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
        sa.Column("removed", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "source IN ('box', 'splitter', 'building')", name=op.f("ck_ozmap_box_links_source")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ozmap_box_links")),
        sqlite_autoincrement=True,
    )
    op.create_index("uq_ozmap_box_links_caixa", "ozmap_box_links", ["ixc_caixa_id"], unique=True)
    op.create_index(
        "uq_ozmap_box_links_box_splitter",
        "ozmap_box_links",
        ["ozmap_box_id", "ozmap_splitter_id"],
        unique=True,
    )
    op.create_index(
        "uq_ozmap_box_links_whole_box",
        "ozmap_box_links",
        ["ozmap_box_id"],
        unique=True,
        sqlite_where=sa.text("ozmap_splitter_id IS NULL"),
        postgresql_where=sa.text("ozmap_splitter_id IS NULL"),
    )
    op.create_table(
        "ozmap_client_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ixc_login_id", sa.String(20), nullable=False),
        sa.Column("login", sa.String(255), nullable=False),
        sa.Column("ozmap_property_id", sa.String(64), nullable=True),
        sa.Column("ozmap_client_id", sa.String(64), nullable=True),
        sa.Column("to_ixc_hash", sa.String(64), nullable=False),
        sa.Column("to_ozmap_hash", sa.String(64), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ozmap_client_links")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "uq_ozmap_client_links_login", "ozmap_client_links", ["ixc_login_id"], unique=True
    )
    op.create_index("ix_ozmap_client_links_property", "ozmap_client_links", ["ozmap_property_id"])
    op.create_index("ix_ozmap_client_links_client", "ozmap_client_links", ["ozmap_client_id"])
    op.create_index("ix_ozmap_client_links_code", "ozmap_client_links", ["login"])


def downgrade() -> None:
    op.drop_table("ozmap_client_links")
    op.drop_table("ozmap_box_links")
    op.drop_table("sync_cursors")
