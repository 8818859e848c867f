"""Tables of confined-space jobs: the job, its work-condition confirmations and the
append-only history of its status."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, ForeignKeyConstraint, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.database import Base, TimestampMixin, str_enum
from app.hazard_reporting.confined_space.domain import JobStatus


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
