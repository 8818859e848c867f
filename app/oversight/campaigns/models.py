"""Tables of special campaigns (专项整治): the campaign with its towns and pinned checklist
versions, its targets (snapshot at launch, changed by hand with a reason), each target's
self-check with its per-item results, the hazards the self-checks raised, and the
campaign's append-only history."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import CheckConstraint, Date, ForeignKey, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.database import Base, str_enum
from app.oversight.campaigns.domain import (
    MAX_ITEM_NOTE,
    MAX_REASON,
    MAX_TITLE,
    CampaignAction,
    CampaignStatus,
    CampaignTopic,
    ItemResult,
)


class Campaign(Base):
    """One campaign of a topic over the whole district (`all_towns`) or some towns
    (campaign_towns). Its checklists are pinned when it is launched."""

    __tablename__ = "campaigns"
    __table_args__ = (CheckConstraint("deadline >= starts_on", name="deadline_after_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    topic: Mapped[CampaignTopic] = mapped_column(str_enum(CampaignTopic, "campaign_topic"))
    title: Mapped[str] = mapped_column(String(MAX_TITLE))
    description: Mapped[str] = mapped_column(Text, default="")
    starts_on: Mapped[date] = mapped_column(Date)
    deadline: Mapped[date] = mapped_column(Date)  # last day of the self-check (local)
    status: Mapped[CampaignStatus] = mapped_column(
        str_enum(CampaignStatus, "campaign_status"), default=CampaignStatus.DRAFT, index=True
    )
    all_towns: Mapped[bool] = mapped_column(default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    launched_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    launched_at: Mapped[datetime | None]
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    closed_at: Mapped[datetime | None]
    close_note: Mapped[str] = mapped_column(String(MAX_REASON), default="")

    towns: Mapped[list[CampaignTown]] = relationship(cascade="all, delete-orphan", passive_deletes=True)
    checklists: Mapped[list[CampaignChecklist]] = relationship(
        order_by="CampaignChecklist.position", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def town_ids(self) -> frozenset[int]:
        return frozenset(t.town_id for t in self.towns)


class CampaignTown(Base):
    """A town a campaign covers (none: the whole district, `Campaign.all_towns`)."""

    __tablename__ = "campaign_towns"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True)
    town_id: Mapped[int] = mapped_column(ForeignKey("towns.id", ondelete="RESTRICT"), primary_key=True, index=True)


class CampaignChecklist(Base):
    """A standard checklist version the campaign's self-check uses, in order."""

    __tablename__ = "campaign_checklists"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True)
    version_id: Mapped[int] = mapped_column(
        ForeignKey("checklist_versions.id", ondelete="RESTRICT"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(default=0)


class CampaignTarget(Base):
    """An enterprise a campaign targets: by rule at launch (`by_rule`), or added by hand with
    the reason. A target taken off keeps its row with the reason (`removed_*`)."""

    __tablename__ = "campaign_targets"
    __table_args__ = (UniqueConstraint("campaign_id", "enterprise_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id", ondelete="RESTRICT"), index=True)
    by_rule: Mapped[bool] = mapped_column(default=True)
    added_reason: Mapped[str | None] = mapped_column(String(MAX_REASON))
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    added_at: Mapped[datetime]
    removed_reason: Mapped[str | None] = mapped_column(String(MAX_REASON))
    removed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    removed_at: Mapped[datetime | None]

    check: Mapped[CampaignCheck | None] = relationship(back_populates="target", uselist=False)

    @property
    def listed(self) -> bool:
        return self.removed_at is None


class CampaignCheck(Base):
    """A target's self-check: once per target (unique), who submitted it and when."""

    __tablename__ = "campaign_checks"

    id: Mapped[int] = mapped_column(primary_key=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("campaign_targets.id", ondelete="CASCADE"), unique=True)
    checked_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    checked_at: Mapped[datetime]

    target: Mapped[CampaignTarget] = relationship(back_populates="check")
    items: Mapped[list[CampaignCheckItem]] = relationship(
        order_by="CampaignCheckItem.position", cascade="all, delete-orphan", passive_deletes=True
    )


class CampaignCheckItem(Base):
    """One answered line of a self-check: the checklist item (its code and text as checked),
    合格 / 不合格 / 不适用 and the note."""

    __tablename__ = "campaign_check_items"
    __table_args__ = (UniqueConstraint("check_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    check_id: Mapped[int] = mapped_column(ForeignKey("campaign_checks.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("checklist_items.id", ondelete="RESTRICT"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    code: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    result: Mapped[ItemResult] = mapped_column(str_enum(ItemResult, "campaign_item_result"))
    note: Mapped[str] = mapped_column(String(MAX_ITEM_NOTE), default="")


class CampaignHazard(Base):
    """A hazard a campaign's self-check raised (in the enterprise's own ledger)."""

    __tablename__ = "campaign_hazards"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True)
    hazard_id: Mapped[int] = mapped_column(
        ForeignKey("hazards.id", ondelete="CASCADE"), primary_key=True, unique=True
    )
    target_id: Mapped[int] = mapped_column(ForeignKey("campaign_targets.id", ondelete="CASCADE"), index=True)
    item_code: Mapped[str] = mapped_column(String(16))


class CampaignEvent(Base):
    """Append-only history of a campaign: who did what, when, from which status to which."""

    __tablename__ = "campaign_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    at: Mapped[datetime]
    action: Mapped[CampaignAction] = mapped_column(str_enum(CampaignAction, "campaign_action"))
    from_status: Mapped[CampaignStatus | None] = mapped_column(
        str_enum(CampaignStatus, "campaign_event_from_status")
    )
    to_status: Mapped[CampaignStatus] = mapped_column(str_enum(CampaignStatus, "campaign_event_to_status"))
    note: Mapped[str | None] = mapped_column(Text)


@event.listens_for(CampaignEvent, "before_update")
@event.listens_for(CampaignEvent, "before_delete")
def _events_are_append_only(_mapper: Any, _connection: Any, target: CampaignEvent) -> None:
    raise RuntimeError(f"campaign event {target.id} is append-only; record a new event instead")
