"""safety training (安全培训): the sessions an enterprise held, their attendees, their history

Revision ID: a14c0e5e0005
Revises: a14c0e5e0004
Create Date: 2026-12-05 17:18:08+00:00

Drafted by autogenerate and reviewed (checked against the models by the drift test). Three
new tables: `training_sessions` (kind three_level | annual_refresher | principal_officer |
confined_space | special_operation | other; hours 0.5–40 by a CHECK), `training_attendances`
(one row per member and session, unique, passed and an optional certificate number) and the
append-only `training_events` (recorded, corrected with the reason). Enum columns are
VARCHAR + CHECK like the rest.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.database

revision = 'a14c0e5e0005'
down_revision = "a14c0e5e0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('training_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('topic', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.Enum('three_level', 'annual_refresher', 'principal_officer', 'confined_space', 'special_operation', 'other', name='training_kind', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('held_on', sa.Date(), nullable=False),
    sa.Column('trainer', sa.String(length=64), nullable=False),
    sa.Column('hours', sa.Numeric(precision=4, scale=1), nullable=False),
    sa.Column('location', sa.String(length=120), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', app.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.database.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('hours >= 0.5 AND hours <= 40', name=op.f('ck_training_sessions_hours_in_range')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_training_sessions_created_by_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_training_sessions_enterprise_id_enterprises'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_training_sessions'))
    )
    with op.batch_alter_table('training_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_training_sessions_enterprise_id_held_on', ['enterprise_id', 'held_on'], unique=False)

    op.create_table('training_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('at', app.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('action', sa.Enum('record', 'correct', name='training_action', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_training_events_actor_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['session_id'], ['training_sessions.id'], name=op.f('fk_training_events_session_id_training_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_training_events'))
    )
    with op.batch_alter_table('training_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_training_events_session_id'), ['session_id'], unique=False)

    op.create_table('training_attendances',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('membership_id', sa.Integer(), nullable=False),
    sa.Column('passed', sa.Boolean(), nullable=False),
    sa.Column('certificate_no', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['membership_id'], ['memberships.id'], name=op.f('fk_training_attendances_membership_id_memberships'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['session_id'], ['training_sessions.id'], name=op.f('fk_training_attendances_session_id_training_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_training_attendances')),
    sa.UniqueConstraint('session_id', 'membership_id', name=op.f('uq_training_attendances_session_id_membership_id'))
    )
    with op.batch_alter_table('training_attendances', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_training_attendances_membership_id'), ['membership_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('training_attendances', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_training_attendances_membership_id'))

    op.drop_table('training_attendances')
    with op.batch_alter_table('training_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_training_events_session_id'))

    op.drop_table('training_events')
    with op.batch_alter_table('training_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_training_sessions_enterprise_id_held_on')

    op.drop_table('training_sessions')
