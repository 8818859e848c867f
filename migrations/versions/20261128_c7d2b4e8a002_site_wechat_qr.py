"""site wechat qr: the permanent parametric QR of each site

Revision ID: c7d2b4e8a002
Revises: a3c1e9d2f001
Create Date: 2026-11-28 15:00:00+00:00

Written by hand. Three nullable columns on `sites` hold the permanent WeChat QR
(QR_LIMIT_STR_SCENE) once it has been obtained: ticket, the url the QR image encodes (unique),
and when it was created. Nullable, so existing rows need no backfill; batch mode so SQLite can
alter the table.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.database


revision = "c7d2b4e8a002"
down_revision = "a3c1e9d2f001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.add_column(sa.Column("wx_qr_ticket", sa.String(length=256), nullable=True))
        batch_op.add_column(sa.Column("wx_qr_url", sa.String(length=256), nullable=True))
        batch_op.add_column(
            sa.Column("wx_qr_created_at", app.database.UTCDateTime(timezone=True), nullable=True)
        )
        # One printed code per site; also indexes the lookup of a menu scan's result.
        batch_op.create_unique_constraint(batch_op.f("uq_sites_wx_qr_url"), ["wx_qr_url"])


def downgrade() -> None:
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_sites_wx_qr_url"), type_="unique")
        batch_op.drop_column("wx_qr_created_at")
        batch_op.drop_column("wx_qr_url")
        batch_op.drop_column("wx_qr_ticket")
