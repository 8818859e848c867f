"""hazards and the outbox: hazards, their history, photos, major-hazard plans, deadline
extensions; outbox messages

Revision ID: f8b2d6e1c004
Revises: e4f1a7c3b003
Create Date: 2026-11-28 16:00:00+00:00

Written by hand. New tables only, so nothing to backfill. Enum columns are VARCHAR + CHECK
(native_enum=False) like the rest of the schema; CHECK, FK, unique and index names follow the
metadata's naming convention. `hazards.source_task_id` is a plain integer (no FK) until the
check tables reference it. Two partial indexes, portable to PostgreSQL and SQLite: the
outbox's due rows (what the dispatcher claims), and at most one pending extension per hazard.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.database


revision = "f8b2d6e1c004"
down_revision = "e4f1a7c3b003"
branch_labels = None
depends_on = None

HAZARD_STATUSES = (
    "reported",
    "assigned",
    "assessed",
    "registered",
    "plan_approved",
    "supervising",
    "rectifying",
    "rectified",
    "closed",
    "rejected",
)
HAZARD_ACTIONS = (
    "report",
    "assign",
    "start_rectification",
    "submit_rectification",
    "verify",
    "reopen",
    "reject",
    "upgrade_to_major",
    "assess",
    "register",
    "save_plan",
    "approve_plan",
    "supervise",
    "accept",
    "request_extension",
    "decide_extension",
    "add_before_photo",
    "add_after_photo",
)
OUTBOX_DUE = sa.text("status IN ('queued', 'failed')")
EXTENSION_PENDING = sa.text("status = 'requested'")


def _enum(*values: str, name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True)


def _utc() -> app.database.UTCDateTime:
    return app.database.UTCDateTime(timezone=True)


def _user_fk(column: str, table: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], ["users.id"], name=op.f(f"fk_{table}_{column}_users"), ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "outbox_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("recipient_user_id", sa.Integer(), nullable=True),
        sa.Column("recipient_openid", sa.String(length=64), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=False),
        sa.Column(
            "status",
            _enum("queued", "sent", "delivered", "failed", "dead", name="outbox_status"),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _utc(), nullable=True),
        sa.Column("last_errcode", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("wx_msgid", sa.BigInteger(), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("sent_at", _utc(), nullable=True),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_outbox_messages_attempts_nonnegative")),
        sa.CheckConstraint(
            "recipient_user_id IS NOT NULL OR recipient_openid IS NOT NULL",
            name=op.f("ck_outbox_messages_has_recipient"),
        ),
        _user_fk("recipient_user_id", "outbox_messages", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_messages")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_outbox_messages_dedupe_key")),
    )
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_messages_due",
            ["status", "next_attempt_at"],
            unique=False,
            postgresql_where=OUTBOX_DUE,
            sqlite_where=OUTBOX_DUE,
        )
        batch_op.create_index(
            batch_op.f("ix_outbox_messages_recipient_user_id"), ["recipient_user_id"], unique=False
        )

    op.create_table(
        "hazards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("source", _enum("check", "adhoc", "enforcement", name="hazard_source"), nullable=False),
        sa.Column("source_task_id", sa.Integer(), nullable=True),
        sa.Column("item_code", sa.String(length=32), nullable=True),
        sa.Column("level", _enum("general", "major", name="hazard_level"), nullable=False),
        sa.Column("review_required", sa.Boolean(), nullable=False),
        sa.Column(
            "category",
            _enum("unsafe_condition", "unsafe_behavior", "management_defect", name="hazard_category"),
            nullable=False,
        ),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("location", sa.String(length=256), nullable=False),
        sa.Column("reporter_id", sa.Integer(), nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("deadline", _utc(), nullable=True),
        sa.Column("status", _enum(*HAZARD_STATUSES, name="hazard_status"), nullable=False),
        sa.Column("criteria_code", sa.String(length=32), nullable=True),
        sa.Column("criteria_note", sa.Text(), nullable=True),
        sa.Column("standard_version", _enum("GM2017", "MEM10_2023", name="standard_version"), nullable=True),
        sa.Column("rejected_reason", sa.Text(), nullable=True),
        sa.Column("closed_at", _utc(), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        _user_fk("assignee_id", "hazards", "SET NULL"),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_hazards_department_id_departments"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprises.id"],
            name=op.f("fk_hazards_enterprise_id_enterprises"),
            ondelete="RESTRICT",
        ),
        _user_fk("reporter_id", "hazards", "RESTRICT"),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_hazards_site_id_sites"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hazards")),
    )
    with op.batch_alter_table("hazards", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_hazards_assignee_id"), ["assignee_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_hazards_department_id"), ["department_id"], unique=False)
        batch_op.create_index("ix_hazards_enterprise_id_status", ["enterprise_id", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_hazards_reporter_id"), ["reporter_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_hazards_site_id"), ["site_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_hazards_source_task_id"), ["source_task_id"], unique=False)

    op.create_table(
        "hazard_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hazard_id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("at", _utc(), nullable=False),
        sa.Column("action", _enum(*HAZARD_ACTIONS, name="hazard_action"), nullable=False),
        sa.Column("from_status", _enum(*HAZARD_STATUSES, name="hazard_event_from_status"), nullable=True),
        sa.Column("to_status", _enum(*HAZARD_STATUSES, name="hazard_event_to_status"), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        _user_fk("actor_id", "hazard_events", "RESTRICT"),
        sa.ForeignKeyConstraint(
            ["hazard_id"], ["hazards.id"], name=op.f("fk_hazard_events_hazard_id_hazards"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hazard_events")),
    )
    with op.batch_alter_table("hazard_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_hazard_events_hazard_id"), ["hazard_id"], unique=False)

    op.create_table(
        "hazard_photos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hazard_id", sa.Integer(), nullable=False),
        sa.Column("kind", _enum("before", "after", name="photo_kind"), nullable=False),
        sa.Column("path", sa.String(length=256), nullable=False),
        sa.Column("thumb_path", sa.String(length=256), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=False),
        sa.Column("uploaded_at", _utc(), nullable=False),
        sa.CheckConstraint("width > 0 AND height > 0", name=op.f("ck_hazard_photos_positive_size")),
        sa.ForeignKeyConstraint(
            ["hazard_id"], ["hazards.id"], name=op.f("fk_hazard_photos_hazard_id_hazards"), ondelete="CASCADE"
        ),
        _user_fk("uploaded_by_id", "hazard_photos", "RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hazard_photos")),
        # Also serves lookups by hazard (leading column), so no separate hazard_id index.
        sa.UniqueConstraint("hazard_id", "kind", "sha256", name=op.f("uq_hazard_photos_hazard_id_kind_sha256")),
    )

    op.create_table(
        "major_hazard_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hazard_id", sa.Integer(), nullable=False),
        sa.Column("measures", sa.Text(), nullable=True),
        sa.Column("owner_org", sa.String(length=128), nullable=True),
        sa.Column("owner_person", sa.String(length=64), nullable=True),
        sa.Column("fund_amount", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("fund_source", sa.String(length=128), nullable=True),
        sa.Column("deadline", _utc(), nullable=True),
        sa.Column("milestones", sa.JSON(), nullable=False),
        sa.Column("contingency", sa.Text(), nullable=True),
        sa.Column("drafted_by_id", sa.Integer(), nullable=True),
        sa.Column("drafted_at", _utc(), nullable=True),
        sa.Column("assessed_by_id", sa.Integer(), nullable=True),
        sa.Column("assessed_at", _utc(), nullable=True),
        sa.Column("assessor", sa.String(length=128), nullable=True),
        sa.Column("assessment_opinion", sa.Text(), nullable=True),
        sa.Column("registration_no", sa.String(length=32), nullable=True),
        sa.Column("registered_by_id", sa.Integer(), nullable=True),
        sa.Column("registered_at", _utc(), nullable=True),
        sa.Column("approved_by_id", sa.Integer(), nullable=True),
        sa.Column("approved_at", _utc(), nullable=True),
        sa.Column("approval_note", sa.Text(), nullable=True),
        sa.Column("supervised_by_id", sa.Integer(), nullable=True),
        sa.Column("supervised_at", _utc(), nullable=True),
        sa.Column("supervising_unit", sa.String(length=128), nullable=True),
        sa.Column("supervision_note", sa.Text(), nullable=True),
        sa.Column("accepted_by_id", sa.Integer(), nullable=True),
        sa.Column("accepted_at", _utc(), nullable=True),
        sa.Column("acceptor", sa.String(length=128), nullable=True),
        sa.Column("acceptance_opinion", sa.Text(), nullable=True),
        sa.CheckConstraint("fund_amount >= 0", name=op.f("ck_major_hazard_plans_fund_amount_nonnegative")),
        _user_fk("accepted_by_id", "major_hazard_plans", "RESTRICT"),
        _user_fk("approved_by_id", "major_hazard_plans", "RESTRICT"),
        _user_fk("assessed_by_id", "major_hazard_plans", "RESTRICT"),
        _user_fk("drafted_by_id", "major_hazard_plans", "RESTRICT"),
        sa.ForeignKeyConstraint(
            ["hazard_id"], ["hazards.id"], name=op.f("fk_major_hazard_plans_hazard_id_hazards"), ondelete="CASCADE"
        ),
        _user_fk("registered_by_id", "major_hazard_plans", "RESTRICT"),
        _user_fk("supervised_by_id", "major_hazard_plans", "RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_major_hazard_plans")),
        sa.UniqueConstraint("hazard_id", name=op.f("uq_major_hazard_plans_hazard_id")),
        sa.UniqueConstraint("registration_no", name=op.f("uq_major_hazard_plans_registration_no")),
    )

    op.create_table(
        "deadline_extensions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hazard_id", sa.Integer(), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=False),
        sa.Column("requested_at", _utc(), nullable=False),
        sa.Column("old_deadline", _utc(), nullable=False),
        sa.Column("new_deadline", _utc(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "status",
            _enum("requested", "approved", "refused", "cancelled", name="extension_status"),
            nullable=False,
        ),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", _utc(), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.CheckConstraint("new_deadline > old_deadline", name=op.f("ck_deadline_extensions_extends_deadline")),
        _user_fk("decided_by_id", "deadline_extensions", "RESTRICT"),
        sa.ForeignKeyConstraint(
            ["hazard_id"],
            ["hazards.id"],
            name=op.f("fk_deadline_extensions_hazard_id_hazards"),
            ondelete="CASCADE",
        ),
        _user_fk("requested_by_id", "deadline_extensions", "RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deadline_extensions")),
    )
    with op.batch_alter_table("deadline_extensions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deadline_extensions_hazard_id"), ["hazard_id"], unique=False)
        batch_op.create_index(
            "ix_deadline_extensions_one_pending",
            ["hazard_id"],
            unique=True,
            postgresql_where=EXTENSION_PENDING,
            sqlite_where=EXTENSION_PENDING,
        )


def downgrade() -> None:
    # Dropping a table drops its indexes on both backends.
    op.drop_table("deadline_extensions")
    op.drop_table("major_hazard_plans")
    op.drop_table("hazard_photos")
    op.drop_table("hazard_events")
    op.drop_table("hazards")
    op.drop_table("outbox_messages")
