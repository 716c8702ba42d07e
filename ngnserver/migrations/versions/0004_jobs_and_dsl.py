"""jobs and dsl

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 23:47:15.755859
"""

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('dsl_packages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('vendor_package_id', sa.String(length=64), nullable=False),
    sa.Column('create_date', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dsl_packages')),
    sa.UniqueConstraint('name', name=op.f('uq_dsl_packages_name')),
    sa.UniqueConstraint('vendor_package_id', name=op.f('uq_dsl_packages_vendor_package_id')),
    sqlite_autoincrement=True
    )
    op.create_table('dsl_qualifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer', sa.Integer(), nullable=False),
    sa.Column('reseller', sa.Integer(), nullable=False),
    sa.Column('address', sa.JSON(), nullable=False),
    sa.Column('phone_number', sa.String(length=32), nullable=False),
    sa.Column('location_type', sa.String(length=1), nullable=False),
    sa.Column('vendor_qual_id', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=1), nullable=False),
    sa.Column('offered', sa.JSON(), nullable=False),
    sa.Column('create_date', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dsl_qualifications')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('dsl_qualifications', schema=None) as batch_op:
        batch_op.create_index('ix_dsl_qualifications_customer', ['customer'], unique=False)
        batch_op.create_index('ix_dsl_qualifications_reseller', ['reseller'], unique=False)

    op.create_table('jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('record_kind', sa.String(length=32), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('step', sa.String(length=64), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=False),
    sa.Column('next_run_at', sa.DateTime(), nullable=False),
    sa.Column('locked_by', sa.String(length=128), nullable=False),
    sa.Column('locked_until', sa.DateTime(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index('ix_jobs_record', ['record_kind', 'record_id'], unique=False)
        batch_op.create_index('ix_jobs_state_next_run_at', ['state', 'next_run_at'], unique=False)

    op.create_table('dsl_services',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer', sa.Integer(), nullable=False),
    sa.Column('reseller', sa.Integer(), nullable=False),
    sa.Column('owner', sa.Integer(), nullable=False),
    sa.Column('package_id', sa.Integer(), nullable=False),
    sa.Column('qualification_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('failure', sa.Text(), nullable=False),
    sa.Column('phone_number', sa.String(length=32), nullable=False),
    sa.Column('loop_type', sa.String(length=8), nullable=False),
    sa.Column('first_name', sa.String(length=128), nullable=False),
    sa.Column('last_name', sa.String(length=128), nullable=False),
    sa.Column('company_name', sa.String(length=255), nullable=False),
    sa.Column('contact_phone', sa.String(length=32), nullable=False),
    sa.Column('isp_change', sa.Boolean(), nullable=False),
    sa.Column('isp_previous', sa.String(length=128), nullable=False),
    sa.Column('current_provider', sa.String(length=128), nullable=False),
    sa.Column('desired_due_date', sa.Date(), nullable=True),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('expire_date', sa.Date(), nullable=True),
    sa.Column('order_type', sa.String(length=8), nullable=False),
    sa.Column('vendor_order_id', sa.String(length=64), nullable=False),
    sa.Column('vendor_order_status', sa.String(length=16), nullable=False),
    sa.Column('vendor_username', sa.String(length=128), nullable=False),
    sa.Column('password_sealed', sa.LargeBinary(), nullable=False),
    sa.Column('static_ips', sa.JSON(), nullable=False),
    sa.Column('monitored', sa.Boolean(), nullable=False),
    sa.Column('pushed', sa.DateTime(), nullable=True),
    sa.Column('last_pull', sa.DateTime(), nullable=True),
    sa.Column('create_date', sa.DateTime(), nullable=False),
    sa.Column('change_date', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['package_id'], ['dsl_packages.id'], name=op.f('fk_dsl_services_package_id_dsl_packages'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['qualification_id'], ['dsl_qualifications.id'], name=op.f('fk_dsl_services_qualification_id_dsl_qualifications'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dsl_services')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('dsl_services', schema=None) as batch_op:
        batch_op.create_index('ix_dsl_services_customer', ['customer'], unique=False)
        batch_op.create_index('ix_dsl_services_monitored_last_pull', ['monitored', 'last_pull'], unique=False)
        batch_op.create_index('ix_dsl_services_owner', ['owner'], unique=False)
        batch_op.create_index('ix_dsl_services_reseller', ['reseller'], unique=False)

    op.create_table('job_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('worker', sa.String(length=128), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('step', sa.String(length=64), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_job_attempts_job_id_jobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_attempts')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('job_attempts', schema=None) as batch_op:
        batch_op.create_index('ix_job_attempts_job_id', ['job_id'], unique=False)

    op.create_table('dsl_notes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('date', sa.String(length=32), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('author', sa.String(length=16), nullable=False),
    sa.Column('high_priority', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['service_id'], ['dsl_services.id'], name=op.f('fk_dsl_notes_service_id_dsl_services'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dsl_notes')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('dsl_notes', schema=None) as batch_op:
        batch_op.create_index('ix_dsl_notes_service_id', ['service_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('dsl_notes', schema=None) as batch_op:
        batch_op.drop_index('ix_dsl_notes_service_id')

    op.drop_table('dsl_notes')
    with op.batch_alter_table('job_attempts', schema=None) as batch_op:
        batch_op.drop_index('ix_job_attempts_job_id')

    op.drop_table('job_attempts')
    with op.batch_alter_table('dsl_services', schema=None) as batch_op:
        batch_op.drop_index('ix_dsl_services_reseller')
        batch_op.drop_index('ix_dsl_services_owner')
        batch_op.drop_index('ix_dsl_services_monitored_last_pull')
        batch_op.drop_index('ix_dsl_services_customer')

    op.drop_table('dsl_services')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_jobs_state_next_run_at')
        batch_op.drop_index('ix_jobs_record')

    op.drop_table('jobs')
    with op.batch_alter_table('dsl_qualifications', schema=None) as batch_op:
        batch_op.drop_index('ix_dsl_qualifications_reseller')
        batch_op.drop_index('ix_dsl_qualifications_customer')

    op.drop_table('dsl_qualifications')
    op.drop_table('dsl_packages')
