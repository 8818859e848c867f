"""check submissions (扫码排查): one submission per check task, with the answer to every item

Revision ID: c1d3e5a7b007
Revises: b6c8d0e2f006
Create Date: 2026-11-28 20:00:00+00:00

Written by hand (checked against the models by the drift test). New tables only, so nothing
to backfill. Enum columns are VARCHAR + CHECK (native_enum=False) like the rest of the schema;
constraint names follow the metadata's naming convention. `check_submissions` is unique per
task and per idempotency key — a repeated submission finds the first one through either —
and references the checklist version it answered through a composite foreign key, like
`check_tasks`. Everything a submission points at is RESTRICT: it is part of the check ledger.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.database


revision = "c1d3e5a7b007"
down_revision = "b6c8d0e2f006"
branch_labels = None
depends_on = None

ITEM_CATEGORIES = ("SITE", "EQUIP", "BEHAV", "MGMT", "EMERG")
ITEM_RESULTS = ("ok", "hazard", "not_applicable")


def _enum(*values: str, name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True)


def _utc() -> app.database.UTCDateTime:
    return app.database.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "check_submissions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("site_token", sa.String(length=32), nullable=False),
        sa.Column("scanned_at", _utc(), nullable=False),
        sa.Column("submitted_at", _utc(), nullable=False),
        sa.Column("latitude", sa.Numeric(precision=9, scale=6), nullable=True),
        sa.Column("longitude", sa.Numeric(precision=9, scale=6), nullable=True),
        sa.Column("location_accuracy", sa.Integer(), nullable=True),
        sa.Column("checklist_id", sa.Integer(), nullable=False),
        sa.Column("checklist_version", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("status", _enum("on_time", "late", name="check_submission_status"), nullable=False),
        sa.CheckConstraint(
            "latitude IS NULL OR latitude BETWEEN -90 AND 90",
            name=op.f("ck_check_submissions_latitude_range"),
        ),
        sa.CheckConstraint(
            "longitude IS NULL OR longitude BETWEEN -180 AND 180",
            name=op.f("ck_check_submissions_longitude_range"),
        ),
        sa.CheckConstraint(
            "(latitude IS NULL) = (longitude IS NULL)",
            name=op.f("ck_check_submissions_location_both_or_neither"),
        ),
        sa.CheckConstraint(
            "location_accuracy IS NULL OR location_accuracy >= 0",
            name=op.f("ck_check_submissions_accuracy_nonnegative"),
        ),
        sa.ForeignKeyConstraint(
            ["checklist_id", "checklist_version"],
            ["checklist_versions.checklist_id", "checklist_versions.version"],
            name=op.f("fk_check_submissions_checklist_id_checklist_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprises.id"],
            name=op.f("fk_check_submissions_enterprise_id_enterprises"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_check_submissions_site_id_sites"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["check_tasks.id"],
            name=op.f("fk_check_submissions_task_id_check_tasks"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_check_submissions_user_id_users"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_check_submissions")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_check_submissions_idempotency_key")),
        sa.UniqueConstraint("task_id", name=op.f("uq_check_submissions_task_id")),
    )
    with op.batch_alter_table("check_submissions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_check_submissions_enterprise_id_submitted_at", ["enterprise_id", "submitted_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_check_submissions_site_id"), ["site_id"], unique=False)
        batch_op.create_index(
            "ix_check_submissions_user_id_submitted_at", ["user_id", "submitted_at"], unique=False
        )

    op.create_table(
        "check_item_results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("item_code", sa.String(length=16), nullable=False),
        sa.Column("item_text", sa.Text(), nullable=False),
        sa.Column("category", _enum(*ITEM_CATEGORIES, name="check_item_result_category"), nullable=False),
        sa.Column("result", _enum(*ITEM_RESULTS, name="check_item_result"), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("hazard_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "(result = 'hazard' AND hazard_id IS NOT NULL) OR (result <> 'hazard' AND hazard_id IS NULL)",
            name=op.f("ck_check_item_results_hazard_iff_hazard_result"),
        ),
        sa.ForeignKeyConstraint(
            ["hazard_id"],
            ["hazards.id"],
            name=op.f("fk_check_item_results_hazard_id_hazards"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["check_submissions.id"],
            name=op.f("fk_check_item_results_submission_id_check_submissions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_check_item_results")),
        sa.UniqueConstraint(
            "submission_id", "item_code", name=op.f("uq_check_item_results_submission_id_item_code")
        ),
    )
    with op.batch_alter_table("check_item_results", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_check_item_results_hazard_id"), ["hazard_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("check_item_results", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_check_item_results_hazard_id"))
    op.drop_table("check_item_results")
    with op.batch_alter_table("check_submissions", schema=None) as batch_op:
        batch_op.drop_index("ix_check_submissions_user_id_submitted_at")
        batch_op.drop_index(batch_op.f("ix_check_submissions_site_id"))
        batch_op.drop_index("ix_check_submissions_enterprise_id_submitted_at")
    op.drop_table("check_submissions")
