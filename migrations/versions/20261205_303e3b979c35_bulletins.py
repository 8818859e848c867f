"""bulletins (通报): monthly and supervision bulletins, the enterprises they name, their history

Revision ID: 303e3b979c35
Revises: c4d8e2f6a913
Create Date: 2026-12-05 08:53:53+00:00

Drafted by autogenerate and reviewed (checked against the models by the drift test). Three
new tables: `bulletins` (kind monthly | supervision, scope = a town or NULL for the
district, status draft → published → superseded), `bulletin_entries` (one per enterprise
named: praised / warned / visited with its reasons; removed rows kept with the reason) and
the append-only `bulletin_events`. Enum columns are VARCHAR + CHECK like the rest.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.database

revision = '303e3b979c35'
down_revision = 'c4d8e2f6a913'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('bulletins',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('monthly', 'supervision', name='bulletin_kind', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('status', sa.Enum('draft', 'published', 'superseded', name='bulletin_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('town_id', sa.Integer(), nullable=True),
    sa.Column('month', sa.Date(), nullable=True),
    sa.Column('visit_date', sa.Date(), nullable=True),
    sa.Column('title', sa.String(length=120), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('requirements', sa.Text(), nullable=False),
    sa.Column('deadline', sa.Date(), nullable=True),
    sa.Column('figures', sa.JSON(), nullable=False),
    sa.Column('facts_cutoff', app.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('supersedes_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', app.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('published_by_id', sa.Integer(), nullable=True),
    sa.Column('published_at', app.database.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("(kind = 'monthly' AND month IS NOT NULL) OR (kind = 'supervision' AND visit_date IS NOT NULL)", name=op.f('ck_bulletins_kind_has_its_date')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_bulletins_created_by_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['published_by_id'], ['users.id'], name=op.f('fk_bulletins_published_by_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['supersedes_id'], ['bulletins.id'], name=op.f('fk_bulletins_supersedes_id_bulletins'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['town_id'], ['towns.id'], name=op.f('fk_bulletins_town_id_towns'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bulletins'))
    )
    with op.batch_alter_table('bulletins', schema=None) as batch_op:
        batch_op.create_index('ix_bulletins_kind_month', ['kind', 'month'], unique=False)
        batch_op.create_index(batch_op.f('ix_bulletins_supersedes_id'), ['supersedes_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_bulletins_town_id'), ['town_id'], unique=False)

    op.create_table('bulletin_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bulletin_id', sa.Integer(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('verdict', sa.Enum('praised', 'warned', 'visited', name='bulletin_verdict', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('facts', sa.JSON(), nullable=False),
    sa.Column('by_rule', sa.Boolean(), nullable=False),
    sa.Column('added_reason', sa.String(length=200), nullable=True),
    sa.Column('removed_reason', sa.String(length=200), nullable=True),
    sa.Column('removed_by_id', sa.Integer(), nullable=True),
    sa.Column('removed_at', app.database.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['bulletin_id'], ['bulletins.id'], name=op.f('fk_bulletin_entries_bulletin_id_bulletins'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_bulletin_entries_enterprise_id_enterprises'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['removed_by_id'], ['users.id'], name=op.f('fk_bulletin_entries_removed_by_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bulletin_entries')),
    sa.UniqueConstraint('bulletin_id', 'enterprise_id', name=op.f('uq_bulletin_entries_bulletin_id_enterprise_id'))
    )
    with op.batch_alter_table('bulletin_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bulletin_entries_enterprise_id'), ['enterprise_id'], unique=False)

    op.create_table('bulletin_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bulletin_id', sa.Integer(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('at', app.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('action', sa.Enum('draft', 'edit', 'remove_entry', 'add_entry', 'restore_entry', 'publish', 'supersede', name='bulletin_action', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('from_status', sa.Enum('draft', 'published', 'superseded', name='bulletin_event_from_status', native_enum=False, create_constraint=True), nullable=True),
    sa.Column('to_status', sa.Enum('draft', 'published', 'superseded', name='bulletin_event_to_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_bulletin_events_actor_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['bulletin_id'], ['bulletins.id'], name=op.f('fk_bulletin_events_bulletin_id_bulletins'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bulletin_events'))
    )
    with op.batch_alter_table('bulletin_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bulletin_events_bulletin_id'), ['bulletin_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('bulletin_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bulletin_events_bulletin_id'))

    op.drop_table('bulletin_events')
    with op.batch_alter_table('bulletin_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bulletin_entries_enterprise_id'))

    op.drop_table('bulletin_entries')
    with op.batch_alter_table('bulletins', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bulletins_town_id'))
        batch_op.drop_index(batch_op.f('ix_bulletins_supersedes_id'))
        batch_op.drop_index('ix_bulletins_kind_month')

    op.drop_table('bulletins')
