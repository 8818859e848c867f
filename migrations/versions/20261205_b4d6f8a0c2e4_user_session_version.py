"""users.session_version: 退出 ends the console sessions of the account

Revision ID: b4d6f8a0c2e4
Revises: a7c3e9f1b212
Create Date: 2026-12-05 09:10:00+00:00

Written by hand (checked against the models by the drift test). A console session carries
the version it was made at; logging out bumps the user's version, so a copied cookie stops
working. Existing users start at 0, the version of every session made before this column.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "b4d6f8a0c2e4"
down_revision = "a7c3e9f1b212"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("session_version", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("session_version")
