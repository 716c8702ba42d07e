"""servers: packages, dedicated servers and colocation, and the claims on pool machines

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 18:25:13.877487
"""

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('server_packages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('template', sa.String(length=128), nullable=False),
    sa.Column('os_template', sa.String(length=128), nullable=False),
    sa.Column('recipe', sa.String(length=128), nullable=False),
    sa.Column('extra_ipv4', sa.Integer(), nullable=False),
    sa.Column('extra_ipv6', sa.Integer(), nullable=False),
    sa.Column('create_date', sa.DateTime(), nullable=False),
    sa.CheckConstraint("kind IN ('dedicated', 'colocation')", name=op.f('ck_server_packages_kind')),
    sa.CheckConstraint('extra_ipv4 >= 0 AND extra_ipv6 >= 0', name=op.f('ck_server_packages_extra_ips')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_server_packages')),
    sa.UniqueConstraint('name', name=op.f('uq_server_packages_name')),
    sqlite_autoincrement=True
    )
    op.create_table('server_services',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('package_id', sa.Integer(), nullable=False),
    sa.Column('hostname', sa.String(length=255), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('step', sa.String(length=64), nullable=False),
    sa.Column('failure', sa.Text(), nullable=False),
    sa.Column('progress', sa.JSON(), nullable=False),
    sa.Column('dcim_server_id', sa.String(length=32), nullable=False),
    sa.Column('main_ip', sa.String(length=64), nullable=False),
    sa.Column('ips', sa.JSON(), nullable=False),
    sa.Column('panel_username', sa.String(length=64), nullable=False),
    sa.Column('panel_user_id', sa.String(length=32), nullable=False),
    sa.Column('panel_password_sealed', sa.LargeBinary(), nullable=False),
    sa.Column('root_password_sealed', sa.LargeBinary(), nullable=False),
    sa.Column('welcome', sa.JSON(), nullable=False),
    sa.Column('owner', sa.Integer(), nullable=False),
    sa.Column('customer', sa.Integer(), nullable=False),
    sa.Column('reseller', sa.Integer(), nullable=False),
    sa.Column('create_date', sa.DateTime(), nullable=False),
    sa.Column('change_date', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['package_id'], ['server_packages.id'], name=op.f('fk_server_services_package_id_server_packages'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_server_services')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('server_services', schema=None) as batch_op:
        batch_op.create_index('ix_server_services_customer', ['customer'], unique=False)
        batch_op.create_index('ix_server_services_hostname', ['hostname'], unique=False)
        batch_op.create_index('ix_server_services_owner', ['owner'], unique=False)
        batch_op.create_index('ix_server_services_reseller', ['reseller'], unique=False)

    op.create_table('server_claims',
    sa.Column('dcim_server_id', sa.String(length=32), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('claimed_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['service_id'], ['server_services.id'], name=op.f('fk_server_claims_service_id_server_services'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('dcim_server_id', name=op.f('pk_server_claims')),
    sa.UniqueConstraint('service_id', name=op.f('uq_server_claims_service_id'))
    )


def downgrade() -> None:
    op.drop_table('server_claims')
    with op.batch_alter_table('server_services', schema=None) as batch_op:
        batch_op.drop_index('ix_server_services_reseller')
        batch_op.drop_index('ix_server_services_owner')
        batch_op.drop_index('ix_server_services_hostname')
        batch_op.drop_index('ix_server_services_customer')

    op.drop_table('server_services')
    op.drop_table('server_packages')
