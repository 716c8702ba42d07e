"""SIP account settings: call diversions, accept rules, reject members, barring prefixes,
phonebook entries, each kept with its account (ON DELETE CASCADE)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 00:43:23.914652
"""

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sip_account_settings',
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('diversions', sa.JSON(), nullable=False),
    sa.Column('accept_rules', sa.JSON(), nullable=False),
    sa.Column('reject_members', sa.JSON(), nullable=False),
    sa.Column('barring_prefixes', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['sip_accounts.id'], name=op.f('fk_sip_account_settings_account_id_sip_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('account_id', name=op.f('pk_sip_account_settings'))
    )
    op.create_table('sip_phonebook_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('uri', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('group_name', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['sip_accounts.id'], name=op.f('fk_sip_phonebook_entries_account_id_sip_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sip_phonebook_entries')),
    sa.UniqueConstraint('account_id', 'uri', name='uq_sip_phonebook_entries_account_id_uri'),
    sqlite_autoincrement=True
    )


def downgrade() -> None:
    op.drop_table('sip_phonebook_entries')
    op.drop_table('sip_account_settings')
