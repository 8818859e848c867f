"""Tables of enforcement inspections (执法检查): the record with its directive, the responsible
person's signature and the re-inspection; its problems (each a hazard once signed); its
append-only history."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.database import Base, str_enum
from app.hazard_reporting.hazards.domain import HazardCategory, HazardLevel
from app.oversight.enforcement.domain import (
    MAX_AGENCIES,
    MAX_INSPECTORS,
    MAX_NAME,
    MAX_NUMBER,
    InspectionAction,
    InspectionStatus,
    PenaltyKind,
)


class Inspection(Base):
    """One enforcement inspection of an enterprise: the five 见 live here (the problem list,
    the penalty directive, the signature) and in the problems' hazards (the rectification
    result) and the re-inspection (复查验收). Signed records are frozen."""

    __tablename__ = "inspections"
    __table_args__ = (
        CheckConstraint(
            "status = 'draft' OR (signature_sha256 IS NOT NULL AND signed_at IS NOT NULL)",
            name="signed_has_signature",
        ),
        Index("ix_inspections_enterprise_id_inspected_on", "enterprise_id", "inspected_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # RESTRICT: an enforcement record is a legal record and must outlive any clean-up.
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id", ondelete="RESTRICT"))
    status: Mapped[InspectionStatus] = mapped_column(
        str_enum(InspectionStatus, "inspection_status"), default=InspectionStatus.DRAFT, index=True
    )
    inspected_on: Mapped[date] = mapped_column(Date)
    inspectors: Mapped[str] = mapped_column(String(MAX_INSPECTORS))  # the names, as written on the record
    cross_region: Mapped[bool] = mapped_column(default=False)  # 异地执法
    cross_region_district: Mapped[str] = mapped_column(String(MAX_NAME), default="")
    joint: Mapped[bool] = mapped_column(default=False)  # 联合执法
    joint_agencies: Mapped[str] = mapped_column(String(MAX_AGENCIES), default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    no_problems: Mapped[bool] = mapped_column(default=False)  # 「未发现问题」
    # 处罚指令: None until filled; 「无」 is PenaltyKind.NONE.
    penalty_kind: Mapped[PenaltyKind | None] = mapped_column(str_enum(PenaltyKind, "inspection_penalty_kind"))
    penalty_number: Mapped[str] = mapped_column(String(MAX_NUMBER), default="")
    penalty_content: Mapped[str] = mapped_column(Text, default="")
    penalty_deadline: Mapped[date | None] = mapped_column(Date)
    responsible_name: Mapped[str] = mapped_column(String(MAX_NAME), default="")
    responsible_title: Mapped[str] = mapped_column(String(MAX_NAME), default="")
    # The signature: a PNG under MEDIA_ROOT, content-addressed by its sha256.
    signature_path: Mapped[str | None] = mapped_column(String(255))
    signature_sha256: Mapped[str | None] = mapped_column(String(64))
    signer_name: Mapped[str | None] = mapped_column(String(MAX_NAME))
    signed_at: Mapped[datetime | None]
    # 复查验收: the last re-inspection.
    reinspected_on: Mapped[date | None] = mapped_column(Date)
    reinspection_result: Mapped[str | None] = mapped_column(Text)
    reinspection_passed: Mapped[bool | None]
    reinspected_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    problems: Mapped[list[InspectionProblem]] = relationship(
        back_populates="inspection",
        order_by="(InspectionProblem.position, InspectionProblem.id)",
        passive_deletes=True,
    )
    events: Mapped[list[InspectionEvent]] = relationship(
        back_populates="inspection", order_by="InspectionEvent.id", passive_deletes=True
    )

    @property
    def signed(self) -> bool:
        return self.signed_at is not None


class InspectionProblem(Base):
    """A problem found (问题清单): its level and deadline; once the record is signed, the
    hazard it became in the enterprise's ledger."""

    __tablename__ = "inspection_problems"

    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]
    text: Mapped[str] = mapped_column(Text)
    level: Mapped[HazardLevel] = mapped_column(str_enum(HazardLevel, "inspection_problem_level"))
    category: Mapped[HazardCategory] = mapped_column(str_enum(HazardCategory, "inspection_problem_category"))
    deadline: Mapped[date] = mapped_column(Date)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id", ondelete="SET NULL"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id", ondelete="SET NULL"))
    hazard_id: Mapped[int | None] = mapped_column(
        ForeignKey("hazards.id", ondelete="RESTRICT"), unique=True
    )

    inspection: Mapped[Inspection] = relationship(back_populates="problems")


class InspectionEvent(Base):
    """Append-only history of an inspection: who did what, when, from which status to which."""

    __tablename__ = "inspection_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    at: Mapped[datetime]
    action: Mapped[InspectionAction] = mapped_column(str_enum(InspectionAction, "inspection_action"))
    from_status: Mapped[InspectionStatus | None] = mapped_column(
        str_enum(InspectionStatus, "inspection_event_from_status")
    )
    to_status: Mapped[InspectionStatus] = mapped_column(str_enum(InspectionStatus, "inspection_event_to_status"))
    note: Mapped[str | None] = mapped_column(Text)

    inspection: Mapped[Inspection] = relationship(back_populates="events")


@event.listens_for(InspectionEvent, "before_update")
@event.listens_for(InspectionEvent, "before_delete")
def _events_are_append_only(_mapper: Any, _connection: Any, target: InspectionEvent) -> None:
    raise RuntimeError(f"inspection event {target.id} is append-only; record a new event instead")
