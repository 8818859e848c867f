"""Tables of the working calendar: the bureau's day overrides, its confirmed years, and an
append-only log of every change."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from app.database import Base, TimestampMixin, str_enum
from app.hazard_reporting.work_calendar.domain import (
    MAX_NAME,
    MAX_NOTE,
    CalendarAction,
    OverrideOrigin,
    YearBasis,
)


class CalendarOverride(TimestampMixin, Base):
    """A district-wide correction of the working calendar for one day (a holiday, an
    adjusted working day, a local shutdown); wins over the official data and the rule."""

    __tablename__ = "calendar_overrides"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(unique=True)
    is_workday: Mapped[bool]
    name: Mapped[str] = mapped_column(String(MAX_NAME), default="", server_default="")
    note: Mapped[str] = mapped_column(String(MAX_NOTE), default="")
    origin: Mapped[OverrideOrigin] = mapped_column(
        str_enum(OverrideOrigin, "calendar_override_origin"), default=OverrideOrigin.MANUAL, server_default="manual"
    )
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class CalendarYear(Base):
    """A year the bureau has confirmed (no longer provisional), and how."""

    __tablename__ = "calendar_years"

    year: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    basis: Mapped[YearBasis] = mapped_column(str_enum(YearBasis, "calendar_year_basis"))
    confirmed_at: Mapped[datetime]
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    note: Mapped[str] = mapped_column(String(MAX_NOTE), default="")


class CalendarEvent(Base):
    """Append-only: who changed the calendar, when, and what (one row per action)."""

    __tablename__ = "calendar_events"
    __table_args__ = (Index("ix_calendar_events_year_at", "year", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    year: Mapped[int] = mapped_column(SmallInteger)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[CalendarAction] = mapped_column(str_enum(CalendarAction, "calendar_action"))
    summary: Mapped[str] = mapped_column(String(500))
