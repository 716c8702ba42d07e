"""Prepaid balances, their history and vouchers; voicemail accounts; rating profiles

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 00:54:20.070684
"""

import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('prepaid_vouchers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reseller', sa.Integer(), nullable=False),
    sa.Column('number_digest', sa.LargeBinary(length=32), nullable=False),
    sa.Column('value_units', sa.BigInteger(), nullable=False),
    sa.Column('create_date', sa.DateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.Column('redeem_date', sa.DateTime(), nullable=True),
    sa.Column('redeemed_by', sa.String(length=320), nullable=True),
    sa.CheckConstraint('value_units > 0', name=op.f('ck_prepaid_vouchers_value_positive')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prepaid_vouchers')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('prepaid_vouchers', schema=None) as batch_op:
        batch_op.create_index('ix_prepaid_vouchers_reseller', ['reseller'], unique=False)

    op.create_table('prepaid_balances',
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('balance_units', sa.BigInteger(), nullable=False),
    sa.Column('change_date', sa.DateTime(), nullable=False),
    sa.CheckConstraint('balance_units >= 0', name=op.f('ck_prepaid_balances_balance_not_negative')),
    sa.ForeignKeyConstraint(['account_id'], ['sip_accounts.id'], name=op.f('fk_prepaid_balances_account_id_sip_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('account_id', name=op.f('pk_prepaid_balances'))
    )
    op.create_table('prepaid_history',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('date', sa.DateTime(), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('value_units', sa.BigInteger(), nullable=False),
    sa.Column('balance_units', sa.BigInteger(), nullable=False),
    sa.Column('voucher_id', sa.Integer(), nullable=True),
    sa.Column('login', sa.String(length=128), nullable=False),
    sa.Column('acting_as', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['sip_accounts.id'], name=op.f('fk_prepaid_history_account_id_sip_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prepaid_history')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('prepaid_history', schema=None) as batch_op:
        batch_op.create_index('ix_prepaid_history_account_id', ['account_id', 'id'], unique=False)

    op.create_table('rating_profiles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entity', sa.String(length=330), nullable=False),
    sa.Column('sip_account_id', sa.Integer(), nullable=True),
    sa.Column('sip_domain_id', sa.Integer(), nullable=True),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('profile_weekday', sa.String(length=64), nullable=False),
    sa.Column('profile_weekday_alt', sa.String(length=64), nullable=False),
    sa.Column('profile_weekend', sa.String(length=64), nullable=False),
    sa.Column('profile_weekend_alt', sa.String(length=64), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('create_date', sa.DateTime(), nullable=False),
    sa.Column('change_date', sa.DateTime(), nullable=False),
    sa.CheckConstraint('(CASE WHEN sip_account_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN sip_domain_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN customer_id IS NULL THEN 0 ELSE 1 END) = 1', name=op.f('ck_rating_profiles_one_entity')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_rating_profiles_customer_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sip_account_id'], ['sip_accounts.id'], name=op.f('fk_rating_profiles_sip_account_id_sip_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sip_domain_id'], ['sip_domains.id'], name=op.f('fk_rating_profiles_sip_domain_id_sip_domains'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rating_profiles')),
    sa.UniqueConstraint('entity', name=op.f('uq_rating_profiles_entity')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('rating_profiles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rating_profiles_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rating_profiles_sip_account_id'), ['sip_account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rating_profiles_sip_domain_id'), ['sip_domain_id'], unique=False)

    op.create_table('voicemail_accounts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('password_sealed', sa.LargeBinary(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('email', sa.String(length=255), nullable=False),
    sa.Column('info', sa.String(length=255), nullable=False),
    sa.Column('delete_after_email', sa.Boolean(), nullable=False),
    sa.Column('announcement', sa.LargeBinary(), nullable=False),
    sa.Column('announcement_date', sa.DateTime(), nullable=True),
    sa.Column('create_date', sa.DateTime(), nullable=False),
    sa.Column('change_date', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['sip_accounts.id'], name=op.f('fk_voicemail_accounts_account_id_sip_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_voicemail_accounts')),
    sa.UniqueConstraint('account_id', name=op.f('uq_voicemail_accounts_account_id')),
    sqlite_autoincrement=True
    )


def downgrade() -> None:
    op.drop_table('voicemail_accounts')
    with op.batch_alter_table('rating_profiles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rating_profiles_sip_domain_id'))
        batch_op.drop_index(batch_op.f('ix_rating_profiles_sip_account_id'))
        batch_op.drop_index(batch_op.f('ix_rating_profiles_customer_id'))

    op.drop_table('rating_profiles')
    with op.batch_alter_table('prepaid_history', schema=None) as batch_op:
        batch_op.drop_index('ix_prepaid_history_account_id')

    op.drop_table('prepaid_history')
    op.drop_table('prepaid_balances')
    with op.batch_alter_table('prepaid_vouchers', schema=None) as batch_op:
        batch_op.drop_index('ix_prepaid_vouchers_reseller')

    op.drop_table('prepaid_vouchers')
