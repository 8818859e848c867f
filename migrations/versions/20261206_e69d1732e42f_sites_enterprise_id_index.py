"""sites.enterprise_id: an index for every read of an enterprise's sites

Revision ID: e69d1732e42f
Revises: b4d6f8a0c2e4
Create Date: 2026-12-06 09:00:00+00:00

Written by hand (checked against the models by the drift test). The only index on
sites.enterprise_id was the partial unique (enterprise_id, name) WHERE active, which a query
for all of an enterprise's sites (in use and retired: the 一企一档, the sites page, the plans)
cannot use, so each of them scanned the whole table (bench/oversight_dossier.py: three
sequential scans per page view in a district of 10 000 enterprises).
"""

from __future__ import annotations

from alembic import op

revision = "e69d1732e42f"
down_revision = "b4d6f8a0c2e4"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sites_enterprise_id"), ["enterprise_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sites_enterprise_id"))
