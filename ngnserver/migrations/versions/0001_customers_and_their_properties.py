"""customers and their properties

Revision ID: 0001
Revises:
Create Date: 2026-11-21 23:08:19.650975
"""

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('customers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reseller', sa.Integer(), nullable=False),
    sa.Column('impersonate', sa.Integer(), nullable=False),
    sa.Column('reseller_active', sa.Boolean(), nullable=False),
    sa.Column('company_code', sa.String(length=64), nullable=False),
    sa.Column('balance', sa.Float(), nullable=False),
    sa.Column('credit', sa.Float(), nullable=False),
    sa.Column('username', sa.String(length=128), nullable=False),
    sa.Column('password_sealed', sa.LargeBinary(), nullable=False),
    sa.Column('first_name', sa.String(length=128), nullable=False),
    sa.Column('last_name', sa.String(length=128), nullable=False),
    sa.Column('organization', sa.String(length=255), nullable=False),
    sa.Column('vat_number', sa.String(length=64), nullable=False),
    sa.Column('email', sa.String(length=255), nullable=False),
    sa.Column('web', sa.String(length=255), nullable=False),
    sa.Column('tel', sa.String(length=64), nullable=False),
    sa.Column('fax', sa.String(length=64), nullable=False),
    sa.Column('mobile', sa.String(length=64), nullable=False),
    sa.Column('sip', sa.String(length=255), nullable=False),
    sa.Column('enum', sa.String(length=64), nullable=False),
    sa.Column('address', sa.String(length=255), nullable=False),
    sa.Column('postcode', sa.String(length=32), nullable=False),
    sa.Column('city', sa.String(length=128), nullable=False),
    sa.Column('state', sa.String(length=128), nullable=False),
    sa.Column('country', sa.String(length=64), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('language', sa.String(length=16), nullable=False),
    sa.Column('bank_account', sa.String(length=255), nullable=False),
    sa.Column('billing_address', sa.String(length=512), nullable=False),
    sa.Column('billing_email', sa.String(length=255), nullable=False),
    sa.Column('create_date', sa.DateTime(), nullable=False),
    sa.Column('change_date', sa.DateTime(), nullable=False),
    sa.CheckConstraint("username <> ''", name=op.f('ck_customers_username_not_empty')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customers')),
    sa.UniqueConstraint('username', name=op.f('uq_customers_username')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.create_index('ix_customers_change_date_id', ['change_date', 'id'], unique=False)
        batch_op.create_index('ix_customers_reseller_change_date', ['reseller', 'change_date'], unique=False)

    op.create_table('customer_properties',
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('value', sa.String(length=1024), nullable=False),
    sa.Column('category', sa.String(length=64), nullable=False),
    sa.Column('permission', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_customer_properties_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('customer_id', 'name', name=op.f('pk_customer_properties'))
    )


def downgrade() -> None:
    op.drop_table('customer_properties')
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_index('ix_customers_reseller_change_date')
        batch_op.drop_index('ix_customers_change_date_id')

    op.drop_table('customers')
