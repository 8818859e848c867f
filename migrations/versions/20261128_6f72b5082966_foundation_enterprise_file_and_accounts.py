"""foundation enterprise file and accounts

Revision ID: 6f72b5082966
Revises: 
Create Date: 2026-11-28 13:15:43.364680+00:00

Reviewed by hand: server defaults use sa.func.now() (portable); enum columns are
VARCHAR + CHECK (native_enum=False) so SQLite and PostgreSQL share one migration.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.database


revision = '6f72b5082966'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('towns',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_towns')),
    sa.UniqueConstraint('code', name=op.f('uq_towns_code')),
    sa.UniqueConstraint('name', name=op.f('uq_towns_name'))
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('display_name', sa.String(length=64), nullable=False),
    sa.Column('phone', sa.String(length=32), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=True),
    sa.Column('password_hash', sa.String(length=256), nullable=True),
    sa.Column('openid', sa.String(length=64), nullable=True),
    sa.Column('subscribed', sa.Boolean(), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', app.database.UTCDateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('updated_at', app.database.UTCDateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('openid', name=op.f('uq_users_openid')),
    sa.UniqueConstraint('username', name=op.f('uq_users_username'))
    )
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', app.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', app.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', app.database.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_tokens_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_user_id'), ['user_id'], unique=False)

    op.create_table('bureau_memberships',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.Enum('bureau_admin', 'bureau_staff', name='bureau_role', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('created_at', app.database.UTCDateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('updated_at', app.database.UTCDateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_bureau_memberships_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bureau_memberships')),
    sa.UniqueConstraint('user_id', name=op.f('uq_bureau_memberships_user_id'))
    )
    op.create_table('enterprises',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uscc', sa.String(length=18), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('address', sa.String(length=256), nullable=False),
    sa.Column('town_id', sa.Integer(), nullable=False),
    sa.Column('industry', sa.Enum('metallurgy', 'nonferrous', 'building_materials', 'machinery', 'light_industry', 'textile', 'tobacco', 'commerce', name='industry', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('scale', sa.Enum('above', 'below', name='scale', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('employee_count', sa.Integer(), nullable=False),
    sa.Column('main_processes', sa.Text(), nullable=False),
    sa.Column('principal_name', sa.String(length=64), nullable=False),
    sa.Column('principal_phone', sa.String(length=32), nullable=False),
    sa.Column('standardization_level', sa.Enum('none', 'level1', 'level2', 'level3', name='standardization_level', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('standardization_date', sa.Date(), nullable=True),
    sa.Column('dust_explosion', sa.Boolean(), nullable=False),
    sa.Column('confined_space', sa.Boolean(), nullable=False),
    sa.Column('ammonia_refrigeration', sa.Boolean(), nullable=False),
    sa.Column('metallurgical_gas', sa.Boolean(), nullable=False),
    sa.Column('molten_metal', sa.Boolean(), nullable=False),
    sa.Column('dust_worker_count', sa.Integer(), nullable=False),
    sa.Column('three_simultaneous', sa.Enum('complete', 'in_progress', 'missing', 'not_applicable', name='three_simultaneous', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('credit_status', sa.Enum('normal', 'watchlist', 'serious_discredit', name='credit_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('created_at', app.database.UTCDateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('updated_at', app.database.UTCDateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.CheckConstraint('dust_worker_count >= 0', name=op.f('ck_enterprises_dust_worker_count_nonnegative')),
    sa.CheckConstraint('employee_count >= 0', name=op.f('ck_enterprises_employee_count_nonnegative')),
    sa.ForeignKeyConstraint(['town_id'], ['towns.id'], name=op.f('fk_enterprises_town_id_towns'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enterprises')),
    sa.UniqueConstraint('uscc', name=op.f('uq_enterprises_uscc'))
    )
    with op.batch_alter_table('enterprises', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enterprises_town_id'), ['town_id'], unique=False)

    op.create_table('bureau_membership_towns',
    sa.Column('bureau_membership_id', sa.Integer(), nullable=False),
    sa.Column('town_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['bureau_membership_id'], ['bureau_memberships.id'], name=op.f('fk_bureau_membership_towns_bureau_membership_id_bureau_memberships'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['town_id'], ['towns.id'], name=op.f('fk_bureau_membership_towns_town_id_towns'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('bureau_membership_id', 'town_id', name=op.f('pk_bureau_membership_towns'))
    )
    op.create_table('departments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_departments_enterprise_id_enterprises'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_departments')),
    sa.UniqueConstraint('enterprise_id', 'name', name=op.f('uq_departments_enterprise_id_name'))
    )
    op.create_table('posts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('risks', sa.Text(), nullable=False),
    sa.Column('precautions', sa.Text(), nullable=False),
    sa.Column('emergency_measures', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_posts_department_id_departments'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_posts_enterprise_id_enterprises'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_posts')),
    sa.UniqueConstraint('enterprise_id', 'name', name=op.f('uq_posts_enterprise_id_name'))
    )
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_posts_department_id'), ['department_id'], unique=False)

    op.create_table('sites',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('area', sa.String(length=128), nullable=False),
    sa.Column('token', sa.String(length=32), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', app.database.UTCDateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('updated_at', app.database.UTCDateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_sites_department_id_departments'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_sites_enterprise_id_enterprises'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sites')),
    sa.UniqueConstraint('enterprise_id', 'name', name=op.f('uq_sites_enterprise_id_name')),
    sa.UniqueConstraint('token', name=op.f('uq_sites_token'))
    )
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sites_department_id'), ['department_id'], unique=False)

    op.create_table('teams',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_teams_department_id_departments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_teams')),
    sa.UniqueConstraint('department_id', 'name', name=op.f('uq_teams_department_id_name'))
    )
    op.create_table('memberships',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.Enum('worker', 'team_leader', 'department_head', 'manager', 'safety_officer', 'enterprise_admin', name='member_role', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('team_id', sa.Integer(), nullable=True),
    sa.Column('post_id', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', app.database.UTCDateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('updated_at', app.database.UTCDateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_memberships_department_id_departments'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_memberships_enterprise_id_enterprises'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_memberships_post_id_posts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_memberships_team_id_teams'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_memberships_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_memberships')),
    sa.UniqueConstraint('user_id', 'enterprise_id', 'role', name=op.f('uq_memberships_user_id_enterprise_id_role'))
    )
    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_memberships_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_memberships_enterprise_id'), ['enterprise_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_memberships_post_id'), ['post_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_memberships_team_id'), ['team_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_memberships_user_id'), ['user_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_memberships_user_id'))
        batch_op.drop_index(batch_op.f('ix_memberships_team_id'))
        batch_op.drop_index(batch_op.f('ix_memberships_post_id'))
        batch_op.drop_index(batch_op.f('ix_memberships_enterprise_id'))
        batch_op.drop_index(batch_op.f('ix_memberships_department_id'))

    op.drop_table('memberships')
    op.drop_table('teams')
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sites_department_id'))

    op.drop_table('sites')
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_posts_department_id'))

    op.drop_table('posts')
    op.drop_table('departments')
    op.drop_table('bureau_membership_towns')
    with op.batch_alter_table('enterprises', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enterprises_town_id'))

    op.drop_table('enterprises')
    op.drop_table('bureau_memberships')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_user_id'))

    op.drop_table('api_tokens')
    op.drop_table('users')
    op.drop_table('towns')
