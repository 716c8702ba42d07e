"""enum ranges and numbers, dns zones and records

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 23:18:47.338460
"""

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('dns_zones',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('ttl', sa.Integer(), nullable=False),
    sa.Column('minimum', sa.Integer(), nullable=False),
    sa.Column('retry', sa.Integer(), nullable=False),
    sa.Column('expire', sa.Integer(), nullable=False),
    sa.Column('serial', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=255), nullable=False),
    sa.Column('info', sa.String(length=255), nullable=False),
    sa.Column('nameservers', sa.JSON(), nullable=False),
    sa.Column('customer', sa.Integer(), nullable=False),
    sa.Column('reseller', sa.Integer(), nullable=False),
    sa.Column('create_date', sa.DateTime(), nullable=False),
    sa.Column('change_date', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dns_zones')),
    sa.UniqueConstraint('name', name=op.f('uq_dns_zones_name')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('dns_zones', schema=None) as batch_op:
        batch_op.create_index('ix_dns_zones_change_date', ['change_date'], unique=False)
        batch_op.create_index('ix_dns_zones_customer', ['customer'], unique=False)
        batch_op.create_index('ix_dns_zones_reseller', ['reseller'], unique=False)

    op.create_table('enum_ranges',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('prefix', sa.String(length=32), nullable=False),
    sa.Column('tld', sa.String(length=255), nullable=False),
    sa.Column('ttl', sa.Integer(), nullable=False),
    sa.Column('min_digits', sa.Integer(), nullable=False),
    sa.Column('max_digits', sa.Integer(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('nameservers', sa.JSON(), nullable=False),
    sa.Column('serial', sa.Integer(), nullable=False),
    sa.Column('info', sa.String(length=255), nullable=False),
    sa.Column('customer', sa.Integer(), nullable=False),
    sa.Column('reseller', sa.Integer(), nullable=False),
    sa.Column('create_date', sa.DateTime(), nullable=False),
    sa.Column('change_date', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enum_ranges')),
    sa.UniqueConstraint('tld', 'prefix', name='uq_enum_ranges_tld_prefix'),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('enum_ranges', schema=None) as batch_op:
        batch_op.create_index('ix_enum_ranges_change_date', ['change_date'], unique=False)
        batch_op.create_index('ix_enum_ranges_customer', ['customer'], unique=False)
        batch_op.create_index('ix_enum_ranges_reseller', ['reseller'], unique=False)

    op.create_table('dns_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('zone_id', sa.Integer(), nullable=False),
    sa.Column('zone', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('value', sa.String(length=1024), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('ttl', sa.Integer(), nullable=False),
    sa.Column('fancy', sa.Boolean(), nullable=False),
    sa.Column('owner', sa.Integer(), nullable=False),
    sa.Column('customer', sa.Integer(), nullable=False),
    sa.Column('reseller', sa.Integer(), nullable=False),
    sa.Column('create_date', sa.DateTime(), nullable=False),
    sa.Column('change_date', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['zone_id'], ['dns_zones.id'], name=op.f('fk_dns_records_zone_id_dns_zones'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dns_records')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('dns_records', schema=None) as batch_op:
        batch_op.create_index('ix_dns_records_customer', ['customer'], unique=False)
        batch_op.create_index('ix_dns_records_owner', ['owner'], unique=False)
        batch_op.create_index('ix_dns_records_reseller', ['reseller'], unique=False)
        batch_op.create_index('ix_dns_records_zone_id_name', ['zone_id', 'name'], unique=False)

    op.create_table('enum_numbers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('tld', sa.String(length=255), nullable=False),
    sa.Column('range_id', sa.Integer(), nullable=False),
    sa.Column('owner', sa.Integer(), nullable=False),
    sa.Column('customer', sa.Integer(), nullable=False),
    sa.Column('reseller', sa.Integer(), nullable=False),
    sa.Column('info', sa.String(length=255), nullable=False),
    sa.Column('create_date', sa.DateTime(), nullable=False),
    sa.Column('change_date', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['range_id'], ['enum_ranges.id'], name=op.f('fk_enum_numbers_range_id_enum_ranges'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enum_numbers')),
    sa.UniqueConstraint('tld', 'number', name='uq_enum_numbers_tld_number'),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('enum_numbers', schema=None) as batch_op:
        batch_op.create_index('ix_enum_numbers_customer', ['customer'], unique=False)
        batch_op.create_index('ix_enum_numbers_owner', ['owner'], unique=False)
        batch_op.create_index('ix_enum_numbers_range_id', ['range_id'], unique=False)
        batch_op.create_index('ix_enum_numbers_reseller', ['reseller'], unique=False)

    op.create_table('enum_mappings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number_id', sa.Integer(), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('mapto', sa.String(length=512), nullable=False),
    sa.Column('ttl', sa.Integer(), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['number_id'], ['enum_numbers.id'], name=op.f('fk_enum_mappings_number_id_enum_numbers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enum_mappings')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('enum_mappings', schema=None) as batch_op:
        batch_op.create_index('ix_enum_mappings_number_id', ['number_id'], unique=False)
        batch_op.create_index('ix_enum_mappings_type', ['type'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('enum_mappings', schema=None) as batch_op:
        batch_op.drop_index('ix_enum_mappings_type')
        batch_op.drop_index('ix_enum_mappings_number_id')

    op.drop_table('enum_mappings')
    with op.batch_alter_table('enum_numbers', schema=None) as batch_op:
        batch_op.drop_index('ix_enum_numbers_reseller')
        batch_op.drop_index('ix_enum_numbers_range_id')
        batch_op.drop_index('ix_enum_numbers_owner')
        batch_op.drop_index('ix_enum_numbers_customer')

    op.drop_table('enum_numbers')
    with op.batch_alter_table('dns_records', schema=None) as batch_op:
        batch_op.drop_index('ix_dns_records_zone_id_name')
        batch_op.drop_index('ix_dns_records_reseller')
        batch_op.drop_index('ix_dns_records_owner')
        batch_op.drop_index('ix_dns_records_customer')

    op.drop_table('dns_records')
    with op.batch_alter_table('enum_ranges', schema=None) as batch_op:
        batch_op.drop_index('ix_enum_ranges_reseller')
        batch_op.drop_index('ix_enum_ranges_customer')
        batch_op.drop_index('ix_enum_ranges_change_date')

    op.drop_table('enum_ranges')
    with op.batch_alter_table('dns_zones', schema=None) as batch_op:
        batch_op.drop_index('ix_dns_zones_reseller')
        batch_op.drop_index('ix_dns_zones_customer')
        batch_op.drop_index('ix_dns_zones_change_date')

    op.drop_table('dns_zones')
