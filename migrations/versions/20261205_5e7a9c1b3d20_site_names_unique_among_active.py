"""site names unique among active sites: a retired site's name may be used again

Revision ID: 5e7a9c1b3d20
Revises: 11a5b8f9a6ec
Create Date: 2026-12-05 09:00:00+00:00

Written by hand. Sites are retired (active = false), never deleted: their token, WeChat QR
and check history stay. The unique constraint on (enterprise_id, name) becomes a partial
unique index over active sites, so a retired 配电室 does not block a new 配电室. Batch mode
so SQLite can drop the constraint (it recreates the table). The downgrade restores the
constraint and fails if two sites of one enterprise share a name by then.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "5e7a9c1b3d20"
down_revision = "11a5b8f9a6ec"
branch_labels = None
depends_on = None

ACTIVE = sa.text("active")


def upgrade() -> None:
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_sites_enterprise_id_name"), type_="unique")
    op.create_index(
        "ux_sites_enterprise_id_name_active",
        "sites",
        ["enterprise_id", "name"],
        unique=True,
        postgresql_where=ACTIVE,
        sqlite_where=ACTIVE,
    )


def downgrade() -> None:
    op.drop_index("ux_sites_enterprise_id_name_active", table_name="sites")
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f("uq_sites_enterprise_id_name"), ["enterprise_id", "name"])
