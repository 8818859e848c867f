"""Tables of safety training (安全培训): a session an enterprise held, who attended it (each
member once, passed or not, with a certificate number where one was issued), and the
session's append-only history (recorded, corrected with the reason)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.database import Base, str_enum
from app.oversight.training.domain import (
    MAX_CERTIFICATE,
    MAX_LOCATION,
    MAX_TOPIC,
    MAX_TRAINER,
    TrainingAction,
    TrainingKind,
)


class TrainingSession(Base):
    """One training an enterprise held: topic, kind, day, trainer, class hours, place."""

    __tablename__ = "training_sessions"
    __table_args__ = (
        CheckConstraint("hours >= 0.5 AND hours <= 40", name="hours_in_range"),
        Index("ix_training_sessions_enterprise_id_held_on", "enterprise_id", "held_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # RESTRICT: a training record outlives any clean-up of the enterprise's file.
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id", ondelete="RESTRICT"))
    topic: Mapped[str] = mapped_column(String(MAX_TOPIC))
    kind: Mapped[TrainingKind] = mapped_column(str_enum(TrainingKind, "training_kind"))
    held_on: Mapped[date] = mapped_column(Date)
    trainer: Mapped[str] = mapped_column(String(MAX_TRAINER))
    hours: Mapped[Decimal] = mapped_column(Numeric(4, 1))
    location: Mapped[str] = mapped_column(String(MAX_LOCATION), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    attendances: Mapped[list[TrainingAttendance]] = relationship(
        back_populates="session", order_by="TrainingAttendance.id", cascade="all, delete-orphan", passive_deletes=True
    )
    events: Mapped[list[TrainingEvent]] = relationship(order_by="TrainingEvent.id", passive_deletes=True)


class TrainingAttendance(Base):
    """A member of the enterprise who attended a session: passed its assessment or not."""

    __tablename__ = "training_attendances"
    __table_args__ = (UniqueConstraint("session_id", "membership_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("training_sessions.id", ondelete="CASCADE"))
    membership_id: Mapped[int] = mapped_column(ForeignKey("memberships.id", ondelete="RESTRICT"), index=True)
    passed: Mapped[bool] = mapped_column(default=True)
    certificate_no: Mapped[str | None] = mapped_column(String(MAX_CERTIFICATE))

    session: Mapped[TrainingSession] = relationship(back_populates="attendances")


class TrainingEvent(Base):
    """Append-only history of a session: who recorded or corrected it, when, and why."""

    __tablename__ = "training_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("training_sessions.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    at: Mapped[datetime]
    action: Mapped[TrainingAction] = mapped_column(str_enum(TrainingAction, "training_action"))
    note: Mapped[str] = mapped_column(Text, default="")


@event.listens_for(TrainingEvent, "before_update")
@event.listens_for(TrainingEvent, "before_delete")
def _events_are_append_only(_mapper: Any, _connection: Any, target: TrainingEvent) -> None:
    raise RuntimeError(f"training event {target.id} is append-only; record a new event instead")
