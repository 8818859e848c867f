"""enforcement inspections (执法检查) with the five 见

Revision ID: a14c0e5e0003
Revises: a14c0e5e0005
Create Date: 2026-12-06 09:00:00+00:00

new tables: `inspections` (the record: date, inspectors, 异地/联合 attributes, the penalty
directive, the responsible person and the signature's path and sha256, the re-inspection;
status draft → signed → accepted, or rectifying after a failed re-inspection; a signed
record must carry its signature), `inspection_problems` (the problem list; each becomes a
hazard when the record is signed: `hazard_id`, unique) and the append-only
`inspection_events`. Enum columns are VARCHAR + CHECK like the rest; works on PostgreSQL and
SQLite (indexes through batch_alter_table).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.database

revision = "a14c0e5e0003"
down_revision = "a14c0e5e0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('inspections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('draft', 'signed', 'rectifying', 'accepted', name='inspection_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('inspected_on', sa.Date(), nullable=False),
    sa.Column('inspectors', sa.String(length=200), nullable=False),
    sa.Column('cross_region', sa.Boolean(), nullable=False),
    sa.Column('cross_region_district', sa.String(length=64), nullable=False),
    sa.Column('joint', sa.Boolean(), nullable=False),
    sa.Column('joint_agencies', sa.String(length=200), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('no_problems', sa.Boolean(), nullable=False),
    sa.Column('penalty_kind', sa.Enum('none', 'rectify_order', 'administrative_penalty', name='inspection_penalty_kind', native_enum=False, create_constraint=True), nullable=True),
    sa.Column('penalty_number', sa.String(length=64), nullable=False),
    sa.Column('penalty_content', sa.Text(), nullable=False),
    sa.Column('penalty_deadline', sa.Date(), nullable=True),
    sa.Column('responsible_name', sa.String(length=64), nullable=False),
    sa.Column('responsible_title', sa.String(length=64), nullable=False),
    sa.Column('signature_path', sa.String(length=255), nullable=True),
    sa.Column('signature_sha256', sa.String(length=64), nullable=True),
    sa.Column('signer_name', sa.String(length=64), nullable=True),
    sa.Column('signed_at', app.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reinspected_on', sa.Date(), nullable=True),
    sa.Column('reinspection_result', sa.Text(), nullable=True),
    sa.Column('reinspection_passed', sa.Boolean(), nullable=True),
    sa.Column('reinspected_by_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', app.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.database.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status = 'draft' OR (signature_sha256 IS NOT NULL AND signed_at IS NOT NULL)", name=op.f('ck_inspections_signed_has_signature')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_inspections_created_by_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_inspections_enterprise_id_enterprises'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['reinspected_by_id'], ['users.id'], name=op.f('fk_inspections_reinspected_by_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inspections'))
    )
    with op.batch_alter_table('inspections', schema=None) as batch_op:
        batch_op.create_index('ix_inspections_enterprise_id_inspected_on', ['enterprise_id', 'inspected_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_inspections_status'), ['status'], unique=False)

    op.create_table('inspection_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('inspection_id', sa.Integer(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('at', app.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('action', sa.Enum('create', 'edit', 'add_problem', 'remove_problem', 'set_directive', 'sign', 'accept', 'reopen', name='inspection_action', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('from_status', sa.Enum('draft', 'signed', 'rectifying', 'accepted', name='inspection_event_from_status', native_enum=False, create_constraint=True), nullable=True),
    sa.Column('to_status', sa.Enum('draft', 'signed', 'rectifying', 'accepted', name='inspection_event_to_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_inspection_events_actor_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['inspection_id'], ['inspections.id'], name=op.f('fk_inspection_events_inspection_id_inspections'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inspection_events'))
    )
    with op.batch_alter_table('inspection_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inspection_events_inspection_id'), ['inspection_id'], unique=False)

    op.create_table('inspection_problems',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('inspection_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('level', sa.Enum('general', 'major', name='inspection_problem_level', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('category', sa.Enum('unsafe_condition', 'unsafe_behavior', 'management_defect', name='inspection_problem_category', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('deadline', sa.Date(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('hazard_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_inspection_problems_department_id_departments'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['hazard_id'], ['hazards.id'], name=op.f('fk_inspection_problems_hazard_id_hazards'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['inspection_id'], ['inspections.id'], name=op.f('fk_inspection_problems_inspection_id_inspections'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_inspection_problems_site_id_sites'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inspection_problems')),
    sa.UniqueConstraint('hazard_id', name=op.f('uq_inspection_problems_hazard_id'))
    )
    with op.batch_alter_table('inspection_problems', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inspection_problems_inspection_id'), ['inspection_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('inspection_problems', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inspection_problems_inspection_id'))

    op.drop_table('inspection_problems')
    with op.batch_alter_table('inspection_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inspection_events_inspection_id'))

    op.drop_table('inspection_events')
    with op.batch_alter_table('inspections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inspections_status'))
        batch_op.drop_index('ix_inspections_enterprise_id_inspected_on')

    op.drop_table('inspections')
