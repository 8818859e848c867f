"""Tables of bulletins (通报): the bulletin (monthly or supervision), one entry per
enterprise it names (praised, warned or visited, with the reasons), and its append-only
history."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Index, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.database import Base, str_enum
from app.oversight.bulletins.domain import (
    MAX_REASON,
    MAX_TITLE,
    BulletinAction,
    BulletinKind,
    BulletinStatus,
    Verdict,
)


class Bulletin(Base):
    """One bulletin of a scope (a town, or the whole district when town_id is NULL).

    A monthly bulletin names its month (the first day); a supervision bulletin its visit
    date, requirements and deadline. The figures the rule saw are kept with it (`figures`,
    and each entry's `facts`), so a published bulletin never drifts as the data moves on.
    Published bulletins are read-only; a correction is a new bulletin that `supersedes` it."""

    __tablename__ = "bulletins"
    __table_args__ = (
        CheckConstraint(
            "(kind = 'monthly' AND month IS NOT NULL) OR (kind = 'supervision' AND visit_date IS NOT NULL)",
            name="kind_has_its_date",
        ),
        Index("ix_bulletins_kind_month", "kind", "month"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[BulletinKind] = mapped_column(str_enum(BulletinKind, "bulletin_kind"))
    status: Mapped[BulletinStatus] = mapped_column(
        str_enum(BulletinStatus, "bulletin_status"), default=BulletinStatus.DRAFT
    )
    town_id: Mapped[int | None] = mapped_column(ForeignKey("towns.id", ondelete="RESTRICT"), index=True)
    month: Mapped[date | None] = mapped_column(Date)  # monthly: the month's first day
    visit_date: Mapped[date | None] = mapped_column(Date)  # supervision
    title: Mapped[str] = mapped_column(String(MAX_TITLE))
    body: Mapped[str] = mapped_column(Text)
    requirements: Mapped[str] = mapped_column(Text, default="")  # supervision: 整改要求
    deadline: Mapped[date | None] = mapped_column(Date)  # supervision: 整改期限
    figures: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    facts_cutoff: Mapped[datetime | None]  # the instant the month's facts were read at
    supersedes_id: Mapped[int | None] = mapped_column(
        ForeignKey("bulletins.id", ondelete="RESTRICT"), index=True
    )
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    published_at: Mapped[datetime | None]

    entries: Mapped[list[BulletinEntry]] = relationship(
        back_populates="bulletin", order_by="BulletinEntry.id", passive_deletes=True
    )
    events: Mapped[list[BulletinEvent]] = relationship(
        back_populates="bulletin", order_by="BulletinEvent.id", passive_deletes=True
    )


class BulletinEntry(Base):
    """An enterprise a bulletin names: praised or warned (monthly; by rule or by hand) or
    visited (supervision), with its reasons or findings. An entry taken off the list keeps
    its row with the reason it was removed (`removed_reason`)."""

    __tablename__ = "bulletin_entries"
    __table_args__ = (UniqueConstraint("bulletin_id", "enterprise_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bulletin_id: Mapped[int] = mapped_column(ForeignKey("bulletins.id", ondelete="CASCADE"))
    # RESTRICT: a published bulletin is a record and must outlive any clean-up.
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id", ondelete="RESTRICT"), index=True)
    verdict: Mapped[Verdict] = mapped_column(str_enum(Verdict, "bulletin_verdict"))
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)  # or findings (supervision)
    facts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # the month's facts
    by_rule: Mapped[bool] = mapped_column(default=True)
    added_reason: Mapped[str | None] = mapped_column(String(MAX_REASON))  # added by hand: why
    removed_reason: Mapped[str | None] = mapped_column(String(MAX_REASON))
    removed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    removed_at: Mapped[datetime | None]

    bulletin: Mapped[Bulletin] = relationship(back_populates="entries")

    @property
    def listed(self) -> bool:
        return self.removed_at is None


class BulletinEvent(Base):
    """Append-only history of a bulletin: who did what, when, from which status to which."""

    __tablename__ = "bulletin_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    bulletin_id: Mapped[int] = mapped_column(ForeignKey("bulletins.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    at: Mapped[datetime]
    action: Mapped[BulletinAction] = mapped_column(str_enum(BulletinAction, "bulletin_action"))
    from_status: Mapped[BulletinStatus | None] = mapped_column(
        str_enum(BulletinStatus, "bulletin_event_from_status")
    )
    to_status: Mapped[BulletinStatus] = mapped_column(str_enum(BulletinStatus, "bulletin_event_to_status"))
    note: Mapped[str | None] = mapped_column(Text)

    bulletin: Mapped[Bulletin] = relationship(back_populates="events")


@event.listens_for(BulletinEvent, "before_update")
@event.listens_for(BulletinEvent, "before_delete")
def _events_are_append_only(_mapper: Any, _connection: Any, target: BulletinEvent) -> None:
    raise RuntimeError(f"bulletin event {target.id} is append-only; record a new event instead")
