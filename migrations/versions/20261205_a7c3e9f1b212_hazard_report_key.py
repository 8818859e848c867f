"""hazards.report_key: one 随手拍 report per page key (a chat photo's link reports once)

Revision ID: a7c3e9f1b212
Revises: 5e7a9c1b3d20
Create Date: 2026-12-05 06:00:00+00:00

Written by hand (checked against the models by the drift test). A nullable, unique
`hazards.report_key` ("<reporter id>:<page key>"); existing hazards keep NULL, which the
unique constraint allows any number of times on both PostgreSQL and SQLite.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "a7c3e9f1b212"
down_revision = "5e7a9c1b3d20"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("hazards", schema=None) as batch_op:
        batch_op.add_column(sa.Column("report_key", sa.String(length=96), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_hazards_report_key"), ["report_key"])


def downgrade() -> None:
    with op.batch_alter_table("hazards", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_hazards_report_key"), type_="unique")
        batch_op.drop_column("report_key")
