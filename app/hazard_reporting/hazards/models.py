"""Tables of hazards: the hazard, its append-only history, photos, the major-hazard plan
(五到位 + the five duties) and deadline extensions.

Times are set from the `now` the use case was given (never the database clock), so the
ledger shows when things happened in the business sense.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.database import Base, str_enum
from app.hazard_reporting.hazards.domain import (
    ExtensionStatus,
    FiveInPlace,
    HazardAction,
    HazardCategory,
    HazardLevel,
    HazardSource,
    HazardStatus,
    PhotoKind,
    StandardVersion,
)


class Hazard(Base):
    """One hazard (隐患) of an enterprise, from report to 销号."""

    __tablename__ = "hazards"
    __table_args__ = (
        # Lists of an enterprise's hazards are always cut by status (open, overdue, closed).
        Index("ix_hazards_enterprise_id_status", "enterprise_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # RESTRICT: a hazard ledger is a legal record and must outlive any clean-up.
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id", ondelete="RESTRICT"))
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id", ondelete="SET NULL"), index=True)
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="SET NULL"), index=True
    )
    source: Mapped[HazardSource] = mapped_column(str_enum(HazardSource, "hazard_source"))
    # The check task the hazard was found in; a plain integer until the checks tables exist.
    source_task_id: Mapped[int | None] = mapped_column(index=True)
    # The register control whose check item found it (双重预防: the risk shows its open hazards).
    risk_control_id: Mapped[int | None] = mapped_column(
        ForeignKey("risk_controls.id", ondelete="SET NULL"), index=True
    )
    item_code: Mapped[str | None] = mapped_column(String(32))
    level: Mapped[HazardLevel] = mapped_column(str_enum(HazardLevel, "hazard_level"))
    # From an on_fail=review item: handled as general until a safety officer has looked.
    review_required: Mapped[bool] = mapped_column(default=False)
    category: Mapped[HazardCategory] = mapped_column(str_enum(HazardCategory, "hazard_category"))
    description: Mapped[str] = mapped_column(Text)
    location: Mapped[str] = mapped_column(String(256), default="")
    reporter_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    # General: domain.general_deadline (23:59:59 local of the report day; 18:00 the next day
    # for a night finding). Major: the approved plan's deadline.
    deadline: Mapped[datetime | None]
    status: Mapped[HazardStatus] = mapped_column(
        str_enum(HazardStatus, "hazard_status"), default=HazardStatus.REPORTED
    )
    # Major hazards: the article of the determination standard, or "external" + note.
    criteria_code: Mapped[str | None] = mapped_column(String(32))
    criteria_note: Mapped[str | None] = mapped_column(Text)
    standard_version: Mapped[StandardVersion | None] = mapped_column(
        str_enum(StandardVersion, "standard_version")
    )
    rejected_reason: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # 随手拍: "<reporter id>:<the page's key>" (the key of a chat photo's link derives from its
    # media id), unique, so reopening the link and submitting again cannot report twice.
    report_key: Mapped[str | None] = mapped_column(String(96), unique=True)

    events: Mapped[list[HazardEvent]] = relationship(
        back_populates="hazard", order_by="HazardEvent.id", passive_deletes=True
    )
    photos: Mapped[list[HazardPhoto]] = relationship(
        back_populates="hazard", order_by="HazardPhoto.id", passive_deletes=True
    )
    plan: Mapped[MajorHazardPlan | None] = relationship(back_populates="hazard", passive_deletes=True)
    extensions: Mapped[list[DeadlineExtension]] = relationship(
        back_populates="hazard", order_by="DeadlineExtension.id", passive_deletes=True
    )


class HazardEvent(Base):
    """Append-only history of a hazard: who did what, when, from which status to which."""

    __tablename__ = "hazard_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    hazard_id: Mapped[int] = mapped_column(ForeignKey("hazards.id", ondelete="CASCADE"), index=True)
    # Nullable for events a job records on nobody's behalf.
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    at: Mapped[datetime]
    action: Mapped[HazardAction] = mapped_column(str_enum(HazardAction, "hazard_action"))
    from_status: Mapped[HazardStatus | None] = mapped_column(
        str_enum(HazardStatus, "hazard_event_from_status")
    )
    to_status: Mapped[HazardStatus] = mapped_column(str_enum(HazardStatus, "hazard_event_to_status"))
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    hazard: Mapped[Hazard] = relationship(back_populates="events")


@event.listens_for(HazardEvent, "before_update")
@event.listens_for(HazardEvent, "before_delete")
def _events_are_append_only(_mapper: Any, _connection: Any, target: HazardEvent) -> None:
    raise RuntimeError(f"hazard event {target.id} is append-only; record a new event instead")


class HazardPhoto(Base):
    """A stored, metadata-free photo of a hazard (before) or of its rectification (after).

    Paths are relative to MEDIA_ROOT; files are content-addressed by `sha256`."""

    __tablename__ = "hazard_photos"
    __table_args__ = (
        # The same picture uploaded twice for the same purpose is one photo.
        UniqueConstraint("hazard_id", "kind", "sha256"),
        CheckConstraint("width > 0 AND height > 0", name="positive_size"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hazard_id: Mapped[int] = mapped_column(ForeignKey("hazards.id", ondelete="CASCADE"))
    kind: Mapped[PhotoKind] = mapped_column(str_enum(PhotoKind, "photo_kind"))
    path: Mapped[str] = mapped_column(String(256))
    thumb_path: Mapped[str] = mapped_column(String(256))
    width: Mapped[int]
    height: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    uploaded_at: Mapped[datetime]

    hazard: Mapped[Hazard] = relationship(back_populates="photos")


class MajorHazardPlan(Base):
    """The governance of one major hazard: the 五到位 plan (docs/DOMAIN.md §2) and the five duties
    (docs/DOMAIN.md §1.5), each recording who took it and when."""

    __tablename__ = "major_hazard_plans"
    __table_args__ = (CheckConstraint("fund_amount >= 0", name="fund_amount_nonnegative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hazard_id: Mapped[int] = mapped_column(ForeignKey("hazards.id", ondelete="CASCADE"), unique=True)
    # 五到位: measures, responsibility, funds, deadline (+ milestones), contingency.
    measures: Mapped[str | None] = mapped_column(Text)
    owner_org: Mapped[str | None] = mapped_column(String(128))
    owner_person: Mapped[str | None] = mapped_column(String(64))
    fund_amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    fund_source: Mapped[str | None] = mapped_column(String(128))
    deadline: Mapped[datetime | None]
    milestones: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    contingency: Mapped[str | None] = mapped_column(Text)
    drafted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    drafted_at: Mapped[datetime | None]
    # 评估认定: against the standard (criteria on the hazard), by whom, with what opinion.
    assessed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    assessed_at: Mapped[datetime | None]
    assessor: Mapped[str | None] = mapped_column(String(128))  # the assessor or expert panel
    assessment_opinion: Mapped[str | None] = mapped_column(Text)
    # 登记建档: entered in the major-hazard ledger and reported to the bureau.
    registration_no: Mapped[str | None] = mapped_column(String(32), unique=True)
    registered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    registered_at: Mapped[datetime | None]
    # 立项审核: the plan approved as a governance project.
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    approved_at: Mapped[datetime | None]
    approval_note: Mapped[str | None] = mapped_column(Text)
    # 督导督办: put under the bureau's supervision.
    supervised_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    supervised_at: Mapped[datetime | None]
    supervising_unit: Mapped[str | None] = mapped_column(String(128))
    supervision_note: Mapped[str | None] = mapped_column(Text)
    # 验收确认: accepted after rectification (销号).
    accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    accepted_at: Mapped[datetime | None]
    acceptor: Mapped[str | None] = mapped_column(String(128))  # the acceptor or expert panel
    acceptance_opinion: Mapped[str | None] = mapped_column(Text)

    hazard: Mapped[Hazard] = relationship(back_populates="plan")

    def five_in_place(self) -> FiveInPlace:
        return FiveInPlace(
            measures=self.measures,
            owner_org=self.owner_org,
            owner_person=self.owner_person,
            fund_amount=self.fund_amount,
            fund_source=self.fund_source,
            deadline=self.deadline,
            contingency=self.contingency,
        )


_PENDING = text(f"status = '{ExtensionStatus.REQUESTED.value}'")


class DeadlineExtension(Base):
    """A request to move a hazard's deadline, and its decision."""

    __tablename__ = "deadline_extensions"
    __table_args__ = (
        CheckConstraint("new_deadline > old_deadline", name="extends_deadline"),
        # At most one request waiting for a decision per hazard.
        Index(
            "ix_deadline_extensions_one_pending",
            "hazard_id",
            unique=True,
            postgresql_where=_PENDING,
            sqlite_where=_PENDING,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hazard_id: Mapped[int] = mapped_column(ForeignKey("hazards.id", ondelete="CASCADE"), index=True)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    requested_at: Mapped[datetime]
    old_deadline: Mapped[datetime]
    new_deadline: Mapped[datetime]
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[ExtensionStatus] = mapped_column(
        str_enum(ExtensionStatus, "extension_status"), default=ExtensionStatus.REQUESTED
    )
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str | None] = mapped_column(Text)

    hazard: Mapped[Hazard] = relationship(back_populates="extensions")
