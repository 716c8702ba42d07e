"""sip records, credit usage and the audit log

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 23:16:42.056821
"""

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('login', sa.String(length=128), nullable=False),
    sa.Column('admin_login', sa.Boolean(), nullable=False),
    sa.Column('acting_as', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('record_key', sa.String(length=255), nullable=False),
    sa.Column('changes', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index('ix_audit_log_at', ['at'], unique=False)
        batch_op.create_index('ix_audit_log_kind_record_key', ['kind', 'record_key'], unique=False)

    op.create_table('credit_usage',
    sa.Column('scope', sa.String(length=16), nullable=False),
    sa.Column('holder', sa.Integer(), nullable=False),
    sa.Column('credit', sa.String(length=32), nullable=False),
    sa.Column('used', sa.Integer(), nullable=False),
    sa.CheckConstraint('used >= 0', name=op.f('ck_credit_usage_used_not_negative')),
    sa.PrimaryKeyConstraint('scope', 'holder', 'credit', name=op.f('pk_credit_usage'))
    )
    op.create_table('sip_domains',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('domain', sa.String(length=255), nullable=False),
    sa.Column('customer', sa.Integer(), nullable=False),
    sa.Column('reseller', sa.Integer(), nullable=False),
    sa.Column('certificate', sa.Text(), nullable=False),
    sa.Column('private_key_sealed', sa.LargeBinary(), nullable=False),
    sa.Column('match_ip_address', sa.String(length=255), nullable=False),
    sa.Column('match_sip_domain', sa.String(length=255), nullable=False),
    sa.Column('verify_cert', sa.Boolean(), nullable=False),
    sa.Column('require_cert', sa.Boolean(), nullable=False),
    sa.Column('create_date', sa.DateTime(), nullable=False),
    sa.Column('change_date', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sip_domains')),
    sa.UniqueConstraint('domain', name=op.f('uq_sip_domains_domain')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('sip_domains', schema=None) as batch_op:
        batch_op.create_index('ix_sip_domains_change_date', ['change_date'], unique=False)
        batch_op.create_index('ix_sip_domains_customer', ['customer'], unique=False)
        batch_op.create_index('ix_sip_domains_reseller', ['reseller'], unique=False)

    op.create_table('sip_accounts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('domain', sa.String(length=255), nullable=False),
    sa.Column('password_sealed', sa.LargeBinary(), nullable=False),
    sa.Column('first_name', sa.String(length=128), nullable=False),
    sa.Column('last_name', sa.String(length=128), nullable=False),
    sa.Column('email', sa.String(length=255), nullable=False),
    sa.Column('rpid', sa.String(length=64), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('owner', sa.Integer(), nullable=False),
    sa.Column('customer', sa.Integer(), nullable=False),
    sa.Column('reseller', sa.Integer(), nullable=False),
    sa.Column('prepaid', sa.Boolean(), nullable=False),
    sa.Column('quota', sa.Integer(), nullable=False),
    sa.Column('call_limit', sa.Integer(), nullable=False),
    sa.Column('timeout', sa.Integer(), nullable=False),
    sa.Column('answer_timeout', sa.Integer(), nullable=False),
    sa.Column('quickdial_prefix', sa.String(length=32), nullable=False),
    sa.Column('region', sa.String(length=64), nullable=False),
    sa.Column('acl', sa.JSON(), nullable=False),
    sa.Column('properties', sa.JSON(), nullable=False),
    sa.Column('create_date', sa.DateTime(), nullable=False),
    sa.Column('change_date', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['domain'], ['sip_domains.domain'], name=op.f('fk_sip_accounts_domain_sip_domains'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sip_accounts')),
    sa.UniqueConstraint('domain', 'username', name='uq_sip_accounts_domain_username'),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('sip_accounts', schema=None) as batch_op:
        batch_op.create_index('ix_sip_accounts_customer', ['customer'], unique=False)
        batch_op.create_index('ix_sip_accounts_domain_change_date', ['domain', 'change_date'], unique=False)
        batch_op.create_index('ix_sip_accounts_owner', ['owner'], unique=False)
        batch_op.create_index('ix_sip_accounts_reseller', ['reseller'], unique=False)

    op.create_table('sip_aliases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('domain', sa.String(length=255), nullable=False),
    sa.Column('target_username', sa.String(length=64), nullable=False),
    sa.Column('target_domain', sa.String(length=255), nullable=False),
    sa.Column('owner', sa.Integer(), nullable=False),
    sa.Column('customer', sa.Integer(), nullable=False),
    sa.Column('reseller', sa.Integer(), nullable=False),
    sa.Column('create_date', sa.DateTime(), nullable=False),
    sa.Column('change_date', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['domain'], ['sip_domains.domain'], name=op.f('fk_sip_aliases_domain_sip_domains'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sip_aliases')),
    sa.UniqueConstraint('domain', 'username', name='uq_sip_aliases_domain_username'),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('sip_aliases', schema=None) as batch_op:
        batch_op.create_index('ix_sip_aliases_customer', ['customer'], unique=False)
        batch_op.create_index('ix_sip_aliases_owner', ['owner'], unique=False)
        batch_op.create_index('ix_sip_aliases_reseller', ['reseller'], unique=False)

    op.create_table('sip_account_groups',
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['sip_accounts.id'], name=op.f('fk_sip_account_groups_account_id_sip_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('account_id', 'name', name=op.f('pk_sip_account_groups'))
    )
    with op.batch_alter_table('sip_account_groups', schema=None) as batch_op:
        batch_op.create_index('ix_sip_account_groups_name', ['name', 'account_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('sip_account_groups', schema=None) as batch_op:
        batch_op.drop_index('ix_sip_account_groups_name')

    op.drop_table('sip_account_groups')
    with op.batch_alter_table('sip_aliases', schema=None) as batch_op:
        batch_op.drop_index('ix_sip_aliases_reseller')
        batch_op.drop_index('ix_sip_aliases_owner')
        batch_op.drop_index('ix_sip_aliases_customer')

    op.drop_table('sip_aliases')
    with op.batch_alter_table('sip_accounts', schema=None) as batch_op:
        batch_op.drop_index('ix_sip_accounts_reseller')
        batch_op.drop_index('ix_sip_accounts_owner')
        batch_op.drop_index('ix_sip_accounts_domain_change_date')
        batch_op.drop_index('ix_sip_accounts_customer')

    op.drop_table('sip_accounts')
    with op.batch_alter_table('sip_domains', schema=None) as batch_op:
        batch_op.drop_index('ix_sip_domains_reseller')
        batch_op.drop_index('ix_sip_domains_customer')
        batch_op.drop_index('ix_sip_domains_change_date')

    op.drop_table('sip_domains')
    op.drop_table('credit_usage')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_log_kind_record_key')
        batch_op.drop_index('ix_audit_log_at')

    op.drop_table('audit_log')
