"""Tables of scheduled checks: checklists (standard and enterprise, versioned), site risk
profiles, schedules, check tasks, their submissions (扫码排查) and
confined-space jobs."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Numeric,
    SmallInteger,
    String,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.database import Base, TimestampMixin, str_enum
from app.hazard_reporting.checklists.domain import ChecklistKind, ItemCategory, ItemOrigin, OnFail
from app.hazard_reporting.checks.domain import (
    CheckLevel,
    CheckTaskStatus,
    ItemResult,
    ScheduleKind,
    SubmissionStatus,
)
from app.hazard_reporting.confined_space.domain import JobStatus
from app.hazard_reporting.schedules.domain import RiskLevel


class Checklist(TimestampMixin, Base):
    """A checklist identity. Standard templates (GEN, DUST, …, CSC) have a code and no
    enterprise; an enterprise's own list (one per kind) has an enterprise and no code.

    `version` is the current version number; versions themselves are immutable rows."""

    __tablename__ = "checklists"
    __table_args__ = (
        UniqueConstraint("enterprise_id", "kind"),
        CheckConstraint(
            "(enterprise_id IS NULL AND code IS NOT NULL) OR (enterprise_id IS NOT NULL AND code IS NULL)",
            name="standard_xor_enterprise",
        ),
        CheckConstraint("version >= 0", name="version_nonnegative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id", ondelete="CASCADE"))
    code: Mapped[str | None] = mapped_column(String(16), unique=True)
    kind: Mapped[ChecklistKind] = mapped_column(str_enum(ChecklistKind, "checklist_kind"))
    name: Mapped[str] = mapped_column(String(128))
    # Standard templates only: applies_to of the data file, as Industry / Topic values.
    applies_industries: Mapped[list[str]] = mapped_column(JSON, default=list)
    applies_topics: Mapped[list[str]] = mapped_column(JSON, default=list)
    position: Mapped[int] = mapped_column(default=0)  # order of standard templates
    version: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)

    versions: Mapped[list[ChecklistVersion]] = relationship(
        back_populates="checklist", order_by="ChecklistVersion.version"
    )


class ChecklistVersion(Base):
    """One immutable version of a checklist.

    A standard version holds all its items. An enterprise version is copy-on-write: it names
    the standard versions it builds on (`bases`) and holds only the enterprise's own lines
    (reworded or disabled copies of standard items, and added items)."""

    __tablename__ = "checklist_versions"
    __table_args__ = (
        UniqueConstraint("checklist_id", "version"),
        CheckConstraint("version >= 1", name="version_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    checklist_id: Mapped[int] = mapped_column(ForeignKey("checklists.id", ondelete="CASCADE"))
    version: Mapped[int]
    # Content hash (standard) or hash of the base version ids (enterprise).
    signature: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(String(256), default="")  # what changed, for the record
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]

    checklist: Mapped[Checklist] = relationship(back_populates="versions")
    items: Mapped[list[ChecklistItem]] = relationship(
        back_populates="version_row", order_by="ChecklistItem.position", cascade="all, delete-orphan"
    )


class ChecklistVersionBase(Base):
    """An enterprise version builds on these standard versions, in this order."""

    __tablename__ = "checklist_version_bases"

    version_id: Mapped[int] = mapped_column(
        ForeignKey("checklist_versions.id", ondelete="CASCADE"), primary_key=True
    )
    base_version_id: Mapped[int] = mapped_column(
        ForeignKey("checklist_versions.id"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(default=0)


class ChecklistItem(Base):
    """A line of a checklist version."""

    __tablename__ = "checklist_items"
    __table_args__ = (UniqueConstraint("version_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("checklist_versions.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(default=0)
    code: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    category: Mapped[ItemCategory] = mapped_column(str_enum(ItemCategory, "checklist_item_category"))
    levels: Mapped[str] = mapped_column(String(3), default="")  # subset of "DWM"
    on_fail: Mapped[OnFail] = mapped_column(str_enum(OnFail, "checklist_item_on_fail"))
    refs: Mapped[list[str]] = mapped_column(JSON, default=list)  # major-hazard criteria codes
    note: Mapped[str] = mapped_column(Text, default="")
    origin: Mapped[ItemOrigin] = mapped_column(
        str_enum(ItemOrigin, "checklist_item_origin"), default=ItemOrigin.STANDARD
    )
    enabled: Mapped[bool] = mapped_column(default=True)

    version_row: Mapped[ChecklistVersion] = relationship(back_populates="items")


class SiteRiskProfile(TimestampMixin, Base):
    """A site's four-colour risk level and whether it is a registered major risk point
    (较大危险因素), which gives it its own, more frequent check schedule."""

    __tablename__ = "site_risk_profiles"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), unique=True)
    risk_level: Mapped[RiskLevel] = mapped_column(str_enum(RiskLevel, "site_risk_level"))
    is_major_risk_point: Mapped[bool] = mapped_column(default=False)
    note: Mapped[str] = mapped_column(String(256), default="")


class CheckSchedule(TimestampMixin, Base):
    """A recurring check: which level, whose duty, where, and when each period is due.

    Routine: daily per team, weekly per department, monthly per enterprise. Risk point: a
    site's own rounds (`slot` tells several rounds of one site apart: am/pm, daily, weekly).
    A schedule's level never changes (its task periods would collide); changing frequency
    retires the schedule and creates another."""

    __tablename__ = "check_schedules"
    __table_args__ = (
        CheckConstraint(
            "kind <> 'routine' OR level <> 'daily' OR team_id IS NOT NULL", name="routine_daily_has_team"
        ),
        CheckConstraint(
            "kind <> 'routine' OR level <> 'weekly' OR department_id IS NOT NULL",
            name="routine_weekly_has_department",
        ),
        CheckConstraint("kind <> 'risk_point' OR site_id IS NOT NULL", name="risk_point_has_site"),
        CheckConstraint("grace_minutes >= 0", name="grace_nonnegative"),
        CheckConstraint("due_weekday IS NULL OR due_weekday BETWEEN 1 AND 7", name="due_weekday_range"),
        CheckConstraint(
            "due_month_day IS NULL OR due_month_day BETWEEN 1 AND 31", name="due_month_day_range"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id", ondelete="CASCADE"), index=True)
    kind: Mapped[ScheduleKind] = mapped_column(str_enum(ScheduleKind, "check_schedule_kind"))
    level: Mapped[CheckLevel] = mapped_column(str_enum(CheckLevel, "check_level"))
    slot: Mapped[str] = mapped_column(String(16), default="routine")
    label: Mapped[str] = mapped_column(String(64))
    # Org units are not deleted from under a schedule: its tasks are the check ledger (台账).
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"), index=True)
    due_time: Mapped[time] = mapped_column(Time)  # local (Asia/Shanghai) wall-clock time
    due_weekday: Mapped[int | None] = mapped_column(SmallInteger)
    due_month_day: Mapped[int | None] = mapped_column(SmallInteger)
    grace_minutes: Mapped[int]
    workdays_only: Mapped[bool] = mapped_column(default=False)
    # First local date covered; reset to the day of reactivation so a pause leaves no backlog.
    starts_on: Mapped[date]
    active: Mapped[bool] = mapped_column(default=True)

    tasks: Mapped[list[CheckTask]] = relationship(back_populates="schedule", passive_deletes=True)


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

    submission: Mapped[CheckSubmission] = relationship(back_populates="results")


class ConfinedSpaceJob(TimestampMixin, Base):
    """A confined-space job (有限空间作业): may start only after every work-condition item
    is confirmed by a named person and holds."""

    __tablename__ = "confined_space_jobs"
    __table_args__ = (
        ForeignKeyConstraint(
            ["checklist_id", "checklist_version"],
            ["checklist_versions.checklist_id", "checklist_versions.version"],
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id", ondelete="CASCADE"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    description: Mapped[str] = mapped_column(Text)
    planned_start: Mapped[datetime]
    status: Mapped[JobStatus] = mapped_column(
        str_enum(JobStatus, "confined_space_job_status"), default=JobStatus.DRAFT
    )
    # The confirmation list (CSC) version the job is confirmed against.
    checklist_id: Mapped[int]
    checklist_version: Mapped[int]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    confirmed_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    cancel_reason: Mapped[str] = mapped_column(String(200), default="")

    confirmations: Mapped[list[ConfinedSpaceConfirmation]] = relationship(
        back_populates="job", order_by="ConfinedSpaceConfirmation.item_code", passive_deletes=True
    )
    events: Mapped[list[ConfinedSpaceJobEvent]] = relationship(
        order_by="ConfinedSpaceJobEvent.id", passive_deletes=True
    )


class ConfinedSpaceConfirmation(Base):
    """One work-condition item of a job, confirmed by a named person at a time."""

    __tablename__ = "confined_space_confirmations"
    __table_args__ = (UniqueConstraint("job_id", "item_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("confined_space_jobs.id", ondelete="CASCADE"))
    item_code: Mapped[str] = mapped_column(String(16))
    passed: Mapped[bool]
    confirmed_by: Mapped[str] = mapped_column(String(64))  # the person who signs (may be a contractor)
    confirmed_at: Mapped[datetime]
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    note: Mapped[str] = mapped_column(String(256), default="")

    job: Mapped[ConfinedSpaceJob] = relationship(back_populates="confirmations")


class ConfinedSpaceJobEvent(Base):
    """Append-only history of a job: who moved it from which status to which, when."""

    __tablename__ = "confined_space_job_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("confined_space_jobs.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Enum names differ per column: each names its own CHECK constraint.
    from_status: Mapped[JobStatus | None] = mapped_column(str_enum(JobStatus, "job_event_from_status"))
    to_status: Mapped[JobStatus] = mapped_column(str_enum(JobStatus, "job_event_to_status"))
    note: Mapped[str] = mapped_column(String(256), default="")
