"""PSTN routing: carriers, their gateways and gateway rules, routes, trusted peers

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 19:00:59.532615
"""

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('pstn_carriers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('customer', sa.Integer(), nullable=False),
    sa.Column('reseller', sa.Integer(), nullable=False),
    sa.Column('create_date', sa.DateTime(), nullable=False),
    sa.Column('change_date', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pstn_carriers')),
    sa.UniqueConstraint('reseller', 'name', name='uq_pstn_carriers_reseller_name'),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('pstn_carriers', schema=None) as batch_op:
        batch_op.create_index('ix_pstn_carriers_change_date', ['change_date'], unique=False)
        batch_op.create_index('ix_pstn_carriers_customer', ['customer'], unique=False)

    op.create_table('trusted_peers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ip', sa.String(length=255), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('call_limit', sa.Integer(), nullable=False),
    sa.Column('blocked', sa.Integer(), nullable=False),
    sa.Column('prepaid', sa.Boolean(), nullable=False),
    sa.Column('enum_lookup', sa.Boolean(), nullable=False),
    sa.Column('transit', sa.Boolean(), nullable=False),
    sa.Column('msteams', sa.Boolean(), nullable=False),
    sa.Column('tenant', sa.String(length=255), nullable=False),
    sa.Column('carrier_name', sa.String(length=128), nullable=False),
    sa.Column('originator', sa.String(length=128), nullable=False),
    sa.Column('prefix', sa.String(length=64), nullable=False),
    sa.Column('strip', sa.Integer(), nullable=False),
    sa.Column('auth_token', sa.String(length=255), nullable=False),
    sa.Column('tags', sa.String(length=255), nullable=False),
    sa.Column('billing_id', sa.String(length=128), nullable=False),
    sa.Column('owner', sa.Integer(), nullable=False),
    sa.Column('customer', sa.Integer(), nullable=False),
    sa.Column('reseller', sa.Integer(), nullable=False),
    sa.Column('create_date', sa.DateTime(), nullable=False),
    sa.Column('change_date', sa.DateTime(), nullable=False),
    sa.CheckConstraint('strip >= 0 AND call_limit >= 0', name=op.f('ck_trusted_peers_counts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trusted_peers')),
    sa.UniqueConstraint('ip', name=op.f('uq_trusted_peers_ip')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('trusted_peers', schema=None) as batch_op:
        batch_op.create_index('ix_trusted_peers_customer', ['customer'], unique=False)
        batch_op.create_index('ix_trusted_peers_owner', ['owner'], unique=False)
        batch_op.create_index('ix_trusted_peers_reseller', ['reseller'], unique=False)

    op.create_table('pstn_gateways',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('carrier_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('transport', sa.String(length=8), nullable=False),
    sa.Column('ip', sa.String(length=255), nullable=False),
    sa.Column('port', sa.Integer(), nullable=False),
    sa.Column('customer', sa.Integer(), nullable=False),
    sa.Column('reseller', sa.Integer(), nullable=False),
    sa.Column('create_date', sa.DateTime(), nullable=False),
    sa.Column('change_date', sa.DateTime(), nullable=False),
    sa.CheckConstraint("transport IN ('udp', 'tcp', 'tls')", name=op.f('ck_pstn_gateways_transport')),
    sa.CheckConstraint('port BETWEEN 1 AND 65535', name=op.f('ck_pstn_gateways_port')),
    sa.ForeignKeyConstraint(['carrier_id'], ['pstn_carriers.id'], name=op.f('fk_pstn_gateways_carrier_id_pstn_carriers'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pstn_gateways')),
    sa.UniqueConstraint('carrier_id', 'name', name='uq_pstn_gateways_carrier_id_name'),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('pstn_gateways', schema=None) as batch_op:
        batch_op.create_index('ix_pstn_gateways_change_date', ['change_date'], unique=False)
        batch_op.create_index('ix_pstn_gateways_reseller', ['reseller'], unique=False)

    op.create_table('pstn_routes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('carrier_id', sa.Integer(), nullable=False),
    sa.Column('prefix', sa.String(length=64), nullable=False),
    sa.Column('originator', sa.String(length=128), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('customer', sa.Integer(), nullable=False),
    sa.Column('reseller', sa.Integer(), nullable=False),
    sa.Column('create_date', sa.DateTime(), nullable=False),
    sa.Column('change_date', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['carrier_id'], ['pstn_carriers.id'], name=op.f('fk_pstn_routes_carrier_id_pstn_carriers'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pstn_routes')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('pstn_routes', schema=None) as batch_op:
        batch_op.create_index('ix_pstn_routes_carrier_id', ['carrier_id'], unique=False)
        batch_op.create_index('ix_pstn_routes_reseller_prefix', ['reseller', 'prefix'], unique=False)

    op.create_table('pstn_gateway_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('gateway_id', sa.Integer(), nullable=False),
    sa.Column('carrier_id', sa.Integer(), nullable=False),
    sa.Column('prefix', sa.String(length=64), nullable=False),
    sa.Column('strip', sa.Integer(), nullable=False),
    sa.Column('prepend', sa.String(length=64), nullable=False),
    sa.Column('min_length', sa.Integer(), nullable=False),
    sa.Column('max_length', sa.Integer(), nullable=False),
    sa.Column('customer', sa.Integer(), nullable=False),
    sa.Column('reseller', sa.Integer(), nullable=False),
    sa.Column('create_date', sa.DateTime(), nullable=False),
    sa.Column('change_date', sa.DateTime(), nullable=False),
    sa.CheckConstraint('strip >= 0 AND min_length >= 0 AND max_length >= 0', name=op.f('ck_pstn_gateway_rules_counts')),
    sa.ForeignKeyConstraint(['gateway_id'], ['pstn_gateways.id'], name=op.f('fk_pstn_gateway_rules_gateway_id_pstn_gateways'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pstn_gateway_rules')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('pstn_gateway_rules', schema=None) as batch_op:
        batch_op.create_index('ix_pstn_gateway_rules_carrier_id', ['carrier_id'], unique=False)
        batch_op.create_index('ix_pstn_gateway_rules_gateway_id', ['gateway_id'], unique=False)
        batch_op.create_index('ix_pstn_gateway_rules_reseller', ['reseller'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('pstn_gateway_rules', schema=None) as batch_op:
        batch_op.drop_index('ix_pstn_gateway_rules_reseller')
        batch_op.drop_index('ix_pstn_gateway_rules_gateway_id')
        batch_op.drop_index('ix_pstn_gateway_rules_carrier_id')

    op.drop_table('pstn_gateway_rules')
    with op.batch_alter_table('pstn_routes', schema=None) as batch_op:
        batch_op.drop_index('ix_pstn_routes_reseller_prefix')
        batch_op.drop_index('ix_pstn_routes_carrier_id')

    op.drop_table('pstn_routes')
    with op.batch_alter_table('pstn_gateways', schema=None) as batch_op:
        batch_op.drop_index('ix_pstn_gateways_reseller')
        batch_op.drop_index('ix_pstn_gateways_change_date')

    op.drop_table('pstn_gateways')
    with op.batch_alter_table('trusted_peers', schema=None) as batch_op:
        batch_op.drop_index('ix_trusted_peers_reseller')
        batch_op.drop_index('ix_trusted_peers_owner')
        batch_op.drop_index('ix_trusted_peers_customer')

    op.drop_table('trusted_peers')
    with op.batch_alter_table('pstn_carriers', schema=None) as batch_op:
        batch_op.drop_index('ix_pstn_carriers_customer')
        batch_op.drop_index('ix_pstn_carriers_change_date')

    op.drop_table('pstn_carriers')
