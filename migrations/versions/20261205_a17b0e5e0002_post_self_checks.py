"""post_self_checks: a worker's daily confirmation of their post's controls at a site
(岗位自查, issue 17), one per user, control and local day

Revision ID: a17b0e5e0002
Revises: a14c0e5e0003
Create Date: 2026-12-05 18:20:00+00:00

A new table only; nothing to move.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.database

revision = 'a17b0e5e0002'
down_revision = "a14c0e5e0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('post_self_checks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=True),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('risk_control_id', sa.Integer(), nullable=False),
    sa.Column('result', sa.Enum('confirmed', 'problem', name='post_self_check_result', native_enum=False, create_constraint=True, length=9), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.Column('hazard_id', sa.Integer(), nullable=True),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('at', app.database.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(result = 'problem' AND hazard_id IS NOT NULL) OR (result <> 'problem' AND hazard_id IS NULL)", name=op.f('ck_post_self_checks_hazard_iff_problem')),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_post_self_checks_enterprise_id_enterprises'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['hazard_id'], ['hazards.id'], name=op.f('fk_post_self_checks_hazard_id_hazards'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_post_self_checks_post_id_posts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['risk_control_id'], ['risk_controls.id'], name=op.f('fk_post_self_checks_risk_control_id_risk_controls'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_post_self_checks_site_id_sites'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_post_self_checks_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_post_self_checks')),
    sa.UniqueConstraint('user_id', 'risk_control_id', 'day', name=op.f('uq_post_self_checks_user_id_risk_control_id_day'))
    )
    with op.batch_alter_table('post_self_checks', schema=None) as batch_op:
        batch_op.create_index('ix_post_self_checks_enterprise_id_at', ['enterprise_id', 'at'], unique=False)
        batch_op.create_index(batch_op.f('ix_post_self_checks_risk_control_id'), ['risk_control_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('post_self_checks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_post_self_checks_risk_control_id'))
        batch_op.drop_index('ix_post_self_checks_enterprise_id_at')

    op.drop_table('post_self_checks')
