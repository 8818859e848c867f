"""Tables of the risk register (风险辨识清单): risk points, their hazard sources with the LEC
assessment, and the controls with the unit that answers for each. Rows are retired
(`active = False`), never deleted: check records and hazards keep pointing at what they
verified. Every change bumps the enterprise's register version and writes an event, as the
checklists do."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.database import Base, TimestampMixin, str_enum
from app.hazard_reporting.risks.domain import ControlKind, ControlLevel, RiskGrade, RiskPointKind


class RiskRegister(Base):
    """One per enterprise: the register's version, bumped by every change (check tasks and
    item results record the version they were made from)."""

    __tablename__ = "risk_registers"

    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id", ondelete="CASCADE"), primary_key=True)
    version: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime | None]


class RiskPoint(TimestampMixin, Base):
    """风险点: a place, a piece of equipment or an activity of the enterprise, usually at a
    site (排查点位) whose QR code the checkers scan."""

    __tablename__ = "risk_points"
    __table_args__ = (Index("ix_risk_points_enterprise_active", "enterprise_id", "active"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id", ondelete="CASCADE"))
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id", ondelete="SET NULL"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[RiskPointKind] = mapped_column(str_enum(RiskPointKind, "risk_point_kind"))
    area: Mapped[str] = mapped_column(String(128), default="")  # 所在区域 (for the risk map)
    active: Mapped[bool] = mapped_column(default=True)

    sources: Mapped[list[RiskSource]] = relationship(back_populates="risk_point", order_by="RiskSource.position")


class RiskSource(TimestampMixin, Base):
    """危险源 / 较大危险因素 of a risk point: what can go wrong (GB 6441 accident types) and
    its LEC assessment; `score` and `grade` are kept with the factors (domain.lec_score,
    domain.grade_of) so lists and maps read them without recomputing."""

    __tablename__ = "risk_sources"
    __table_args__ = (CheckConstraint("score > 0", name="score_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    risk_point_id: Mapped[int] = mapped_column(ForeignKey("risk_points.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    name: Mapped[str] = mapped_column(String(128))
    # 较大危险因素 in the sense of the notice §四 (the enterprise's own identification).
    is_major_factor: Mapped[bool] = mapped_column(default=False)
    accident_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    likelihood: Mapped[Decimal] = mapped_column(Numeric(4, 1))  # L
    exposure: Mapped[Decimal] = mapped_column(Numeric(4, 1))  # E
    consequence: Mapped[Decimal] = mapped_column(Numeric(5, 1))  # C
    score: Mapped[Decimal] = mapped_column(Numeric(8, 2))  # D = L × E × C
    grade: Mapped[RiskGrade] = mapped_column(str_enum(RiskGrade, "risk_grade"))
    active: Mapped[bool] = mapped_column(default=True)

    risk_point: Mapped[RiskPoint] = relationship(back_populates="sources")
    controls: Mapped[list[RiskControl]] = relationship(back_populates="source", order_by="RiskControl.position")


class RiskControl(TimestampMixin, Base):
    """管控措施 of a hazard source, with its level and the unit (department, team, post or
    person) that answers for it. A team-level control is an item of that team's daily check
    at the risk point's site; department-level of the department's weekly check; company-
    level of the manager's monthly check; post-level of the worker's pre-shift 岗位自查."""

    __tablename__ = "risk_controls"
    __table_args__ = (
        CheckConstraint("control_level <> 'team' OR team_id IS NOT NULL", name="team_control_has_team"),
        CheckConstraint(
            "control_level <> 'department' OR department_id IS NOT NULL", name="department_control_has_department"
        ),
        Index("ix_risk_controls_team_active", "team_id", "active"),
        Index("ix_risk_controls_department_active", "department_id", "active"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("risk_sources.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    text: Mapped[str] = mapped_column(Text)
    kind: Mapped[ControlKind] = mapped_column(str_enum(ControlKind, "risk_control_kind"))
    control_level: Mapped[ControlLevel] = mapped_column(str_enum(ControlLevel, "risk_control_level"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id", ondelete="SET NULL"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    post_id: Mapped[int | None] = mapped_column(ForeignKey("posts.id", ondelete="SET NULL"), index=True)
    responsible_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    active: Mapped[bool] = mapped_column(default=True)

    source: Mapped[RiskSource] = relationship(back_populates="controls")


class RiskRegisterEvent(Base):
    """Append-only: who changed what in the register, and the version it made."""

    __tablename__ = "risk_register_events"
    __table_args__ = (UniqueConstraint("enterprise_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id", ondelete="CASCADE"))
    version: Mapped[int]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    at: Mapped[datetime]
    action: Mapped[str] = mapped_column(String(32))  # add_point, edit_source, retire_control, import, …
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
