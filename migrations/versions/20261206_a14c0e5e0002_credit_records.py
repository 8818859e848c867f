"""credit records (失信名单): the 重点关注 and 严重失信主体 lists with their history

Revision ID: a14c0e5e0002
Revises: 0c77ccd84e22
Create Date: 2026-12-05 17:30:00+00:00

Written by hand against the models (the drift test checks them). One table,
`credit_records`: one row per listing of an enterprise (list_kind watchlist |
serious_discredit, reason, basis, optional decision number, listed_on, review_on, the four
四个一律 flags, who listed it) kept after delisting (delisted_on, delist_reason, who, when).
A partial unique index allows one active (not delisted) row per enterprise, on PostgreSQL
and SQLite alike.

Enterprises already marked before the list existed (`enterprises.credit_status` set
through the API) get an active row each, listed on the day of the upgrade with a reason
saying so, so that the status and the list agree from the start; the bureau completes the
basis on the list page. Downgrading drops the table and leaves credit_status as it is.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

import app.database

revision = "a14c0e5e0002"
down_revision = "0c77ccd84e22"
branch_labels = None
depends_on = None

ACTIVE = "delisted_on IS NULL"
KINDS = ("normal", "watchlist", "serious_discredit")
TERM_YEARS = {"watchlist": 1, "serious_discredit": 3}
BACKFILL_REASON = "启用失信名单前已标记的信用状态（系统升级时补录）"
BACKFILL_BASIS = "升级前经企业档案设置，列入依据待补充"


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def upgrade() -> None:
    op.create_table(
        "credit_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column(
            "list_kind",
            sa.Enum(*KINDS, name="credit_list_kind", native_enum=False, create_constraint=True, length=17),
            nullable=False,
        ),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("basis", sa.String(length=300), nullable=False),
        sa.Column("decision_no", sa.String(length=64), nullable=True),
        sa.Column("listed_on", sa.Date(), nullable=False),
        sa.Column("review_on", sa.Date(), nullable=False),
        sa.Column("restrict_market", sa.Boolean(), nullable=False),
        sa.Column("publicize", sa.Boolean(), nullable=False),
        sa.Column("occupational_ban", sa.Boolean(), nullable=False),
        sa.Column("industry_ban", sa.Boolean(), nullable=False),
        sa.Column("listed_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", app.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("delisted_on", sa.Date(), nullable=True),
        sa.Column("delist_reason", sa.String(length=500), nullable=True),
        sa.Column("delisted_by_id", sa.Integer(), nullable=True),
        sa.Column("delisted_at", app.database.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("list_kind <> 'normal'", name=op.f("ck_credit_records_list_kind_is_a_list")),
        sa.CheckConstraint("review_on > listed_on", name=op.f("ck_credit_records_review_after_listing")),
        sa.CheckConstraint(
            "(delisted_on IS NULL AND delist_reason IS NULL AND delisted_at IS NULL)"
            " OR (delisted_on IS NOT NULL AND delist_reason IS NOT NULL AND delisted_at IS NOT NULL"
            " AND delisted_on >= listed_on)",
            name=op.f("ck_credit_records_delisting_is_complete"),
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_id"], ["enterprises.id"],
            name=op.f("fk_credit_records_enterprise_id_enterprises"), ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["listed_by_id"], ["users.id"], name=op.f("fk_credit_records_listed_by_id_users"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["delisted_by_id"], ["users.id"], name=op.f("fk_credit_records_delisted_by_id_users"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_records")),
    )
    with op.batch_alter_table("credit_records", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_credit_records_enterprise_id"), ["enterprise_id"], unique=False)
        batch_op.create_index("ix_credit_records_listed_on", ["listed_on"], unique=False)
        batch_op.create_index(
            "uq_credit_records_one_active",
            ["enterprise_id"],
            unique=True,
            postgresql_where=sa.text(ACTIVE),
            sqlite_where=sa.text(ACTIVE),
        )
    _backfill()


def _backfill() -> None:
    """An active row for every enterprise already marked (see the module's docstring)."""
    bind = op.get_bind()
    enterprises = sa.table("enterprises", sa.column("id", sa.Integer()), sa.column("credit_status", sa.String()))
    records = sa.table(
        "credit_records",
        sa.column("enterprise_id", sa.Integer()),
        sa.column("list_kind", sa.String()),
        sa.column("reason", sa.String()),
        sa.column("basis", sa.String()),
        sa.column("listed_on", sa.Date()),
        sa.column("review_on", sa.Date()),
        sa.column("restrict_market", sa.Boolean()),
        sa.column("publicize", sa.Boolean()),
        sa.column("occupational_ban", sa.Boolean()),
        sa.column("industry_ban", sa.Boolean()),
        sa.column("created_at", app.database.UTCDateTime(timezone=True)),
    )
    marked = bind.execute(
        sa.select(enterprises.c.id, enterprises.c.credit_status)
        .where(enterprises.c.credit_status.in_(tuple(TERM_YEARS)))
        .order_by(enterprises.c.id)
    ).all()
    if not marked:
        return
    now = datetime.now(UTC)
    today = now.astimezone(ZoneInfo("Asia/Shanghai")).date()
    bind.execute(
        records.insert(),
        [
            {
                "enterprise_id": enterprise_id,
                "list_kind": status,
                "reason": BACKFILL_REASON,
                "basis": BACKFILL_BASIS,
                "listed_on": today,
                "review_on": _add_years(today, TERM_YEARS[status]),
                "restrict_market": False,
                "publicize": False,
                "occupational_ban": False,
                "industry_ban": False,
                "created_at": now,
            }
            for enterprise_id, status in marked
        ],
    )


def downgrade() -> None:
    with op.batch_alter_table("credit_records", schema=None) as batch_op:
        batch_op.drop_index("uq_credit_records_one_active")
        batch_op.drop_index("ix_credit_records_listed_on")
        batch_op.drop_index(batch_op.f("ix_credit_records_enterprise_id"))
    op.drop_table("credit_records")
