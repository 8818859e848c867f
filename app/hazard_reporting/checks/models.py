"""Tables of checks: check tasks (one per schedule and period), their submissions (扫码排查)
and the answer to each item."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.database import Base, str_enum
from app.hazard_reporting.checklists.domain import ItemCategory
from app.hazard_reporting.checks.domain import CheckTaskStatus, ItemResult, SelfCheckResult, SubmissionStatus

if TYPE_CHECKING:  # the schedules package builds on this one
    from app.hazard_reporting.schedules.models import CheckSchedule


class CheckTask(Base):
    """One occurrence of a schedule: the check owed for one period.

    Unique per (schedule, period_start): generation is idempotent by construction. The task
    records the checklist version in force when it was generated. Its few transitions are
    kept on the row itself (closed_at; excuse reason, approver and time) rather than in an
    event table, so that sweeping 200 000 tasks stays one UPDATE."""

    __tablename__ = "check_tasks"
    __table_args__ = (
        UniqueConstraint("schedule_id", "period_start"),
        ForeignKeyConstraint(
            ["checklist_id", "checklist_version"],
            ["checklist_versions.checklist_id", "checklist_versions.version"],
        ),
        # The sweep looks for pending tasks past their grace; scans look up open tasks.
        Index("ix_check_tasks_status_grace_until", "status", "grace_until"),
        Index("ix_check_tasks_enterprise_id_status", "enterprise_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("check_schedules.id", ondelete="CASCADE"))
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id", ondelete="CASCADE"))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    due_at: Mapped[datetime]
    grace_until: Mapped[datetime]
    status: Mapped[CheckTaskStatus] = mapped_column(
        str_enum(CheckTaskStatus, "check_task_status"), default=CheckTaskStatus.PENDING
    )
    checklist_id: Mapped[int]
    checklist_version: Mapped[int]
    created_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]  # left pending: done, done_late, missed or excused
    excuse_reason: Mapped[str | None] = mapped_column(String(200))
    excused_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    excused_at: Mapped[datetime | None]

    schedule: Mapped[CheckSchedule] = relationship(back_populates="tasks")


class CheckSubmission(Base):
    """A check as it was done: who scanned which point when, where they stood, and the
    answer to every item. One per task; the ledger (台账) keeps it, so nothing it points
    at may be deleted from under it.

    `idempotency_key` is made by the phone when the form is first filled in: sending the
    same form twice (a double tap, a retry after a lost answer) finds the first row."""

    __tablename__ = "check_submissions"
    __table_args__ = (
        ForeignKeyConstraint(
            ["checklist_id", "checklist_version"],
            ["checklist_versions.checklist_id", "checklist_versions.version"],
        ),
        CheckConstraint("latitude IS NULL OR latitude BETWEEN -90 AND 90", name="latitude_range"),
        CheckConstraint("longitude IS NULL OR longitude BETWEEN -180 AND 180", name="longitude_range"),
        CheckConstraint("(latitude IS NULL) = (longitude IS NULL)", name="location_both_or_neither"),
        CheckConstraint("location_accuracy IS NULL OR location_accuracy >= 0", name="accuracy_nonnegative"),
        # "My recent checks" and the enterprise's check ledger read by submitter / enterprise.
        Index("ix_check_submissions_user_id_submitted_at", "user_id", "submitted_at"),
        Index("ix_check_submissions_enterprise_id_submitted_at", "enterprise_id", "submitted_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("check_tasks.id", ondelete="RESTRICT"), unique=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id", ondelete="RESTRICT"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="RESTRICT"), index=True)
    # The token as scanned: a site's token can be replaced later (a poster was lost).
    site_token: Mapped[str] = mapped_column(String(32))
    scanned_at: Mapped[datetime]
    submitted_at: Mapped[datetime]
    # Optional, as the phone reported it (WGS-84 degrees; accuracy in metres).
    latitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    longitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    location_accuracy: Mapped[int | None]
    checklist_id: Mapped[int]
    checklist_version: Mapped[int]
    # The risk register's version whose controls the form offered (None: no register).
    risk_register_version: Mapped[int | None]
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[SubmissionStatus] = mapped_column(str_enum(SubmissionStatus, "check_submission_status"))

    task: Mapped[CheckTask] = relationship()
    results: Mapped[list[CheckItemResult]] = relationship(
        back_populates="submission", order_by="CheckItemResult.position", passive_deletes=True
    )


class CheckItemResult(Base):
    """The answer to one item, with the item's wording as the checker saw it (the checklist
    may be reworded later). A 隐患 answer names the hazard it reported; its photos are that
    hazard's before-photos."""

    __tablename__ = "check_item_results"
    __table_args__ = (
        UniqueConstraint("submission_id", "item_code"),
        CheckConstraint(
            "(result = 'hazard' AND hazard_id IS NOT NULL) OR (result <> 'hazard' AND hazard_id IS NULL)",
            name="hazard_iff_hazard_result",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("check_submissions.id", ondelete="CASCADE"))
    position: Mapped[int]
    item_code: Mapped[str] = mapped_column(String(16))
    item_text: Mapped[str] = mapped_column(Text)
    category: Mapped[ItemCategory] = mapped_column(str_enum(ItemCategory, "check_item_result_category"))
    result: Mapped[ItemResult] = mapped_column(str_enum(ItemResult, "check_item_result"))
    note: Mapped[str] = mapped_column(String(200), default="")
    hazard_id: Mapped[int | None] = mapped_column(ForeignKey("hazards.id", ondelete="RESTRICT"), index=True)
    # Set when the item was a control of the risk register, not a line of the checklist.
    risk_control_id: Mapped[int | None] = mapped_column(
        ForeignKey("risk_controls.id", ondelete="SET NULL"), index=True
    )

    submission: Mapped[CheckSubmission] = relationship(back_populates="results")


class PostSelfCheck(Base):
    """A worker's confirmation of one post-level control at a scanned site (岗位自查): 已确认,
    or 有问题 with a note and the hazard it reported. One per user, control and local day
    (`day`, Asia/Shanghai): the first answer of the day stands."""

    __tablename__ = "post_self_checks"
    __table_args__ = (
        UniqueConstraint("user_id", "risk_control_id", "day"),
        CheckConstraint(
            "(result = 'problem' AND hazard_id IS NOT NULL) OR (result <> 'problem' AND hazard_id IS NULL)",
            name="hazard_iff_problem",
        ),
        Index("ix_post_self_checks_enterprise_id_at", "enterprise_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    post_id: Mapped[int | None] = mapped_column(ForeignKey("posts.id", ondelete="SET NULL"))
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id", ondelete="SET NULL"))
    risk_control_id: Mapped[int] = mapped_column(ForeignKey("risk_controls.id", ondelete="CASCADE"), index=True)
    result: Mapped[SelfCheckResult] = mapped_column(str_enum(SelfCheckResult, "post_self_check_result"))
    note: Mapped[str] = mapped_column(String(200), default="")
    hazard_id: Mapped[int | None] = mapped_column(ForeignKey("hazards.id", ondelete="RESTRICT"))
    day: Mapped[date] = mapped_column(Date)
    at: Mapped[datetime]
