"""post hazard factors: the 较大危险因素 identified for a post, each with its 管控措施

Revision ID: 11a5b8f9a6ec
Revises: a7c3e9f1b2d4
Create Date: 2026-12-05 09:00:00+00:00

Written by hand (checked against the models by the drift test). One new table: a post's
risk card (岗位风险告知卡) lists its major hazard factors in order (`position`); a name is
unique within its post; the rows go with their post.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "11a5b8f9a6ec"
down_revision = "a7c3e9f1b2d4"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "post_hazard_factors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("measures", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.CheckConstraint("position >= 0", name=op.f("ck_post_hazard_factors_position_nonnegative")),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name=op.f("fk_post_hazard_factors_post_id_posts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_post_hazard_factors")),
        sa.UniqueConstraint("post_id", "name", name=op.f("uq_post_hazard_factors_post_id_name")),
    )
    op.create_index(op.f("ix_post_hazard_factors_post_id"), "post_hazard_factors", ["post_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_post_hazard_factors_post_id"), table_name="post_hazard_factors")
    op.drop_table("post_hazard_factors")
