"""the risk register (风险分级管控, issue 17): risk_registers (version per enterprise),
risk_points, risk_sources (LEC assessment, grade), risk_controls (level and responsible unit),
risk_register_events; hazards.risk_control_id and check_item_results.risk_control_id (a
control's check item and the hazard it found); check_submissions.risk_register_version

Revision ID: 0c77ccd84e22
Revises: c4e1a7d9b305
Create Date: 2026-12-05 17:26:31.939564+00:00

Drafted by autogenerate and read by hand; no data to move (every new column is nullable).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.database


revision = '0c77ccd84e22'
down_revision = 'c4e1a7d9b305'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('risk_register_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('at', app.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_risk_register_events_actor_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_risk_register_events_enterprise_id_enterprises'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_risk_register_events')),
    sa.UniqueConstraint('enterprise_id', 'version', name=op.f('uq_risk_register_events_enterprise_id_version'))
    )
    op.create_table('risk_registers',
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('updated_at', app.database.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_risk_registers_enterprise_id_enterprises'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('enterprise_id', name=op.f('pk_risk_registers'))
    )
    op.create_table('risk_points',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.Enum('place', 'equipment', 'activity', name='risk_point_kind', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('area', sa.String(length=128), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', app.database.UTCDateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('updated_at', app.database.UTCDateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_risk_points_enterprise_id_enterprises'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_risk_points_site_id_sites'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_risk_points'))
    )
    with op.batch_alter_table('risk_points', schema=None) as batch_op:
        batch_op.create_index('ix_risk_points_enterprise_active', ['enterprise_id', 'active'], unique=False)
        batch_op.create_index(batch_op.f('ix_risk_points_site_id'), ['site_id'], unique=False)

    op.create_table('risk_sources',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('risk_point_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('is_major_factor', sa.Boolean(), nullable=False),
    sa.Column('accident_types', sa.JSON(), nullable=False),
    sa.Column('likelihood', sa.Numeric(precision=4, scale=1), nullable=False),
    sa.Column('exposure', sa.Numeric(precision=4, scale=1), nullable=False),
    sa.Column('consequence', sa.Numeric(precision=5, scale=1), nullable=False),
    sa.Column('score', sa.Numeric(precision=8, scale=2), nullable=False),
    sa.Column('grade', sa.Enum('major', 'large', 'general', 'low', name='risk_grade', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', app.database.UTCDateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('updated_at', app.database.UTCDateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.CheckConstraint('score > 0', name=op.f('ck_risk_sources_score_positive')),
    sa.ForeignKeyConstraint(['risk_point_id'], ['risk_points.id'], name=op.f('fk_risk_sources_risk_point_id_risk_points'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_risk_sources'))
    )
    with op.batch_alter_table('risk_sources', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_risk_sources_risk_point_id'), ['risk_point_id'], unique=False)

    op.create_table('risk_controls',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('kind', sa.Enum('engineering', 'management', 'training', 'ppe', 'emergency', name='risk_control_kind', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('control_level', sa.Enum('company', 'department', 'team', 'post', name='risk_control_level', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('team_id', sa.Integer(), nullable=True),
    sa.Column('post_id', sa.Integer(), nullable=True),
    sa.Column('responsible_user_id', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', app.database.UTCDateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('updated_at', app.database.UTCDateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.CheckConstraint("control_level <> 'department' OR department_id IS NOT NULL", name=op.f('ck_risk_controls_department_control_has_department')),
    sa.CheckConstraint("control_level <> 'team' OR team_id IS NOT NULL", name=op.f('ck_risk_controls_team_control_has_team')),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_risk_controls_department_id_departments'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_risk_controls_post_id_posts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['responsible_user_id'], ['users.id'], name=op.f('fk_risk_controls_responsible_user_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['source_id'], ['risk_sources.id'], name=op.f('fk_risk_controls_source_id_risk_sources'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_risk_controls_team_id_teams'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_risk_controls'))
    )
    with op.batch_alter_table('risk_controls', schema=None) as batch_op:
        batch_op.create_index('ix_risk_controls_department_active', ['department_id', 'active'], unique=False)
        batch_op.create_index(batch_op.f('ix_risk_controls_post_id'), ['post_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_risk_controls_source_id'), ['source_id'], unique=False)
        batch_op.create_index('ix_risk_controls_team_active', ['team_id', 'active'], unique=False)

    with op.batch_alter_table('check_item_results', schema=None) as batch_op:
        batch_op.add_column(sa.Column('risk_control_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_check_item_results_risk_control_id'), ['risk_control_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_check_item_results_risk_control_id_risk_controls'), 'risk_controls', ['risk_control_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('check_submissions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('risk_register_version', sa.Integer(), nullable=True))

    with op.batch_alter_table('hazards', schema=None) as batch_op:
        batch_op.add_column(sa.Column('risk_control_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_hazards_risk_control_id'), ['risk_control_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_hazards_risk_control_id_risk_controls'), 'risk_controls', ['risk_control_id'], ['id'], ondelete='SET NULL')



def downgrade() -> None:
    with op.batch_alter_table('hazards', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_hazards_risk_control_id_risk_controls'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_hazards_risk_control_id'))
        batch_op.drop_column('risk_control_id')

    with op.batch_alter_table('check_submissions', schema=None) as batch_op:
        batch_op.drop_column('risk_register_version')

    with op.batch_alter_table('check_item_results', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_check_item_results_risk_control_id_risk_controls'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_check_item_results_risk_control_id'))
        batch_op.drop_column('risk_control_id')

    with op.batch_alter_table('risk_controls', schema=None) as batch_op:
        batch_op.drop_index('ix_risk_controls_team_active')
        batch_op.drop_index(batch_op.f('ix_risk_controls_source_id'))
        batch_op.drop_index(batch_op.f('ix_risk_controls_post_id'))
        batch_op.drop_index('ix_risk_controls_department_active')

    op.drop_table('risk_controls')
    with op.batch_alter_table('risk_sources', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_risk_sources_risk_point_id'))

    op.drop_table('risk_sources')
    with op.batch_alter_table('risk_points', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_risk_points_site_id'))
        batch_op.drop_index('ix_risk_points_enterprise_active')

    op.drop_table('risk_points')
    op.drop_table('risk_registers')
    op.drop_table('risk_register_events')
