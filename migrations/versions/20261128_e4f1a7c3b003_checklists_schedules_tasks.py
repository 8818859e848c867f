"""checklists, schedules and check tasks: standard and enterprise checklists (versioned),
calendar overrides, site risk profiles, check schedules and tasks, confined-space jobs

Revision ID: e4f1a7c3b003
Revises: c7d2b4e8a002
Create Date: 2026-11-28 15:30:00+00:00

Written by hand (checked against the models by the drift test). New tables only, so nothing
to backfill and no batch alteration of existing tables. Enum columns are VARCHAR + CHECK
(native_enum=False) like the rest of the schema; constraint names follow the naming
convention. `check_tasks` is unique per (schedule_id, period_start) — task generation relies on
it with ON CONFLICT DO NOTHING — and references the checklist version it used through a
composite foreign key to `checklist_versions (checklist_id, version)`. Schedules reference
teams, departments and sites without ON DELETE: their tasks are the check ledger (台账), so an
org unit with schedules cannot silently take them along.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.database


revision = "e4f1a7c3b003"
down_revision = "c7d2b4e8a002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('calendar_overrides',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('is_workday', sa.Boolean(), nullable=False),
    sa.Column('note', sa.String(length=128), nullable=False),
    sa.Column('created_at', app.database.UTCDateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('updated_at', app.database.UTCDateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_overrides')),
    sa.UniqueConstraint('day', name=op.f('uq_calendar_overrides_day'))
    )

    op.create_table('checklists',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=True),
    sa.Column('code', sa.String(length=16), nullable=True),
    sa.Column('kind', sa.Enum('inspection', 'work_confirmation', name='checklist_kind', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('applies_industries', sa.JSON(), nullable=False),
    sa.Column('applies_topics', sa.JSON(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', app.database.UTCDateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('updated_at', app.database.UTCDateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.CheckConstraint('(enterprise_id IS NULL AND code IS NOT NULL) OR (enterprise_id IS NOT NULL AND code IS NULL)', name=op.f('ck_checklists_standard_xor_enterprise')),
    sa.CheckConstraint('version >= 0', name=op.f('ck_checklists_version_nonnegative')),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_checklists_enterprise_id_enterprises'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_checklists')),
    sa.UniqueConstraint('code', name=op.f('uq_checklists_code')),
    sa.UniqueConstraint('enterprise_id', 'kind', name=op.f('uq_checklists_enterprise_id_kind'))
    )

    op.create_table('checklist_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('checklist_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('signature', sa.String(length=64), nullable=False),
    sa.Column('note', sa.String(length=256), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', app.database.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('version >= 1', name=op.f('ck_checklist_versions_version_positive')),
    sa.ForeignKeyConstraint(['checklist_id'], ['checklists.id'], name=op.f('fk_checklist_versions_checklist_id_checklists'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_checklist_versions_created_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_checklist_versions')),
    sa.UniqueConstraint('checklist_id', 'version', name=op.f('uq_checklist_versions_checklist_id_version'))
    )

    op.create_table('checklist_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('category', sa.Enum('SITE', 'EQUIP', 'BEHAV', 'MGMT', 'EMERG', name='checklist_item_category', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('levels', sa.String(length=3), nullable=False),
    sa.Column('on_fail', sa.Enum('general', 'major', 'review', name='checklist_item_on_fail', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('refs', sa.JSON(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('origin', sa.Enum('standard', 'override', 'added', name='checklist_item_origin', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['version_id'], ['checklist_versions.id'], name=op.f('fk_checklist_items_version_id_checklist_versions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_checklist_items')),
    sa.UniqueConstraint('version_id', 'code', name=op.f('uq_checklist_items_version_id_code'))
    )

    op.create_table('checklist_version_bases',
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('base_version_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['base_version_id'], ['checklist_versions.id'], name=op.f('fk_checklist_version_bases_base_version_id_checklist_versions')),
    sa.ForeignKeyConstraint(['version_id'], ['checklist_versions.id'], name=op.f('fk_checklist_version_bases_version_id_checklist_versions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('version_id', 'base_version_id', name=op.f('pk_checklist_version_bases'))
    )
    with op.batch_alter_table('checklist_version_bases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_checklist_version_bases_base_version_id'), ['base_version_id'], unique=False)

    op.create_table('site_risk_profiles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('risk_level', sa.Enum('red', 'orange', 'yellow', 'blue', name='site_risk_level', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('is_major_risk_point', sa.Boolean(), nullable=False),
    sa.Column('note', sa.String(length=256), nullable=False),
    sa.Column('created_at', app.database.UTCDateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('updated_at', app.database.UTCDateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_site_risk_profiles_site_id_sites'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_site_risk_profiles')),
    sa.UniqueConstraint('site_id', name=op.f('uq_site_risk_profiles_site_id'))
    )

    op.create_table('check_schedules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('routine', 'risk_point', name='check_schedule_kind', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('level', sa.Enum('daily', 'weekly', 'monthly', name='check_level', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('slot', sa.String(length=16), nullable=False),
    sa.Column('label', sa.String(length=64), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=True),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('due_time', sa.Time(), nullable=False),
    sa.Column('due_weekday', sa.SmallInteger(), nullable=True),
    sa.Column('due_month_day', sa.SmallInteger(), nullable=True),
    sa.Column('grace_minutes', sa.Integer(), nullable=False),
    sa.Column('workdays_only', sa.Boolean(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', app.database.UTCDateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('updated_at', app.database.UTCDateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.CheckConstraint("kind <> 'risk_point' OR site_id IS NOT NULL", name=op.f('ck_check_schedules_risk_point_has_site')),
    sa.CheckConstraint("kind <> 'routine' OR level <> 'daily' OR team_id IS NOT NULL", name=op.f('ck_check_schedules_routine_daily_has_team')),
    sa.CheckConstraint("kind <> 'routine' OR level <> 'weekly' OR department_id IS NOT NULL", name=op.f('ck_check_schedules_routine_weekly_has_department')),
    sa.CheckConstraint('due_month_day IS NULL OR due_month_day BETWEEN 1 AND 31', name=op.f('ck_check_schedules_due_month_day_range')),
    sa.CheckConstraint('due_weekday IS NULL OR due_weekday BETWEEN 1 AND 7', name=op.f('ck_check_schedules_due_weekday_range')),
    sa.CheckConstraint('grace_minutes >= 0', name=op.f('ck_check_schedules_grace_nonnegative')),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_check_schedules_department_id_departments')),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_check_schedules_enterprise_id_enterprises'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_check_schedules_site_id_sites')),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_check_schedules_team_id_teams')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_check_schedules'))
    )
    with op.batch_alter_table('check_schedules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_check_schedules_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_check_schedules_enterprise_id'), ['enterprise_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_check_schedules_site_id'), ['site_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_check_schedules_team_id'), ['team_id'], unique=False)

    op.create_table('check_tasks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('schedule_id', sa.Integer(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('due_at', app.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('grace_until', app.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.Enum('pending', 'done', 'done_late', 'missed', 'excused', name='check_task_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('checklist_id', sa.Integer(), nullable=False),
    sa.Column('checklist_version', sa.Integer(), nullable=False),
    sa.Column('created_at', app.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', app.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('excuse_reason', sa.String(length=200), nullable=True),
    sa.Column('excused_by_id', sa.Integer(), nullable=True),
    sa.Column('excused_at', app.database.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['checklist_id', 'checklist_version'], ['checklist_versions.checklist_id', 'checklist_versions.version'], name=op.f('fk_check_tasks_checklist_id_checklist_versions')),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_check_tasks_enterprise_id_enterprises'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['excused_by_id'], ['users.id'], name=op.f('fk_check_tasks_excused_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['schedule_id'], ['check_schedules.id'], name=op.f('fk_check_tasks_schedule_id_check_schedules'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_check_tasks')),
    sa.UniqueConstraint('schedule_id', 'period_start', name=op.f('uq_check_tasks_schedule_id_period_start'))
    )
    with op.batch_alter_table('check_tasks', schema=None) as batch_op:
        batch_op.create_index('ix_check_tasks_enterprise_id_status', ['enterprise_id', 'status'], unique=False)
        batch_op.create_index('ix_check_tasks_status_grace_until', ['status', 'grace_until'], unique=False)

    op.create_table('confined_space_jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('planned_start', app.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.Enum('draft', 'confirmed', 'started', 'finished', 'cancelled', name='confined_space_job_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('checklist_id', sa.Integer(), nullable=False),
    sa.Column('checklist_version', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('confirmed_at', app.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('started_at', app.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', app.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', app.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancel_reason', sa.String(length=200), nullable=False),
    sa.Column('created_at', app.database.UTCDateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('updated_at', app.database.UTCDateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.ForeignKeyConstraint(['checklist_id', 'checklist_version'], ['checklist_versions.checklist_id', 'checklist_versions.version'], name=op.f('fk_confined_space_jobs_checklist_id_checklist_versions')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_confined_space_jobs_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_confined_space_jobs_enterprise_id_enterprises'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_confined_space_jobs_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_confined_space_jobs'))
    )
    with op.batch_alter_table('confined_space_jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_confined_space_jobs_enterprise_id'), ['enterprise_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_confined_space_jobs_site_id'), ['site_id'], unique=False)

    op.create_table('confined_space_confirmations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('item_code', sa.String(length=16), nullable=False),
    sa.Column('passed', sa.Boolean(), nullable=False),
    sa.Column('confirmed_by', sa.String(length=64), nullable=False),
    sa.Column('confirmed_at', app.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.String(length=256), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['confined_space_jobs.id'], name=op.f('fk_confined_space_confirmations_job_id_confined_space_jobs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_confined_space_confirmations_recorded_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_confined_space_confirmations')),
    sa.UniqueConstraint('job_id', 'item_code', name=op.f('uq_confined_space_confirmations_job_id_item_code'))
    )

    op.create_table('confined_space_job_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('at', app.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('from_status', sa.Enum('draft', 'confirmed', 'started', 'finished', 'cancelled', name='job_event_from_status', native_enum=False, create_constraint=True), nullable=True),
    sa.Column('to_status', sa.Enum('draft', 'confirmed', 'started', 'finished', 'cancelled', name='job_event_to_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('note', sa.String(length=256), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_confined_space_job_events_actor_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['job_id'], ['confined_space_jobs.id'], name=op.f('fk_confined_space_job_events_job_id_confined_space_jobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_confined_space_job_events'))
    )
    with op.batch_alter_table('confined_space_job_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_confined_space_job_events_job_id'), ['job_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('confined_space_job_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_confined_space_job_events_job_id'))

    op.drop_table('confined_space_job_events')
    op.drop_table('confined_space_confirmations')
    with op.batch_alter_table('confined_space_jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_confined_space_jobs_site_id'))
        batch_op.drop_index(batch_op.f('ix_confined_space_jobs_enterprise_id'))

    op.drop_table('confined_space_jobs')
    with op.batch_alter_table('check_tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_check_tasks_status_grace_until')
        batch_op.drop_index('ix_check_tasks_enterprise_id_status')

    op.drop_table('check_tasks')
    with op.batch_alter_table('check_schedules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_check_schedules_team_id'))
        batch_op.drop_index(batch_op.f('ix_check_schedules_site_id'))
        batch_op.drop_index(batch_op.f('ix_check_schedules_enterprise_id'))
        batch_op.drop_index(batch_op.f('ix_check_schedules_department_id'))

    op.drop_table('check_schedules')
    op.drop_table('site_risk_profiles')
    with op.batch_alter_table('checklist_version_bases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_checklist_version_bases_base_version_id'))

    op.drop_table('checklist_version_bases')
    op.drop_table('checklist_items')
    op.drop_table('checklist_versions')
    op.drop_table('checklists')
    op.drop_table('calendar_overrides')
