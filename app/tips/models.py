"""Tables of safety tips: the library and custom tips, broadcasts with their history, and
one receipt per recipient (read, acknowledged, reminded)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.database import Base, TimestampMixin, str_enum
from app.tips.domain import (
    MAX_SUMMARY,
    MAX_TITLE,
    BroadcastAction,
    BroadcastStatus,
    MassStatus,
    TipKind,
)

_SCHEDULED = text("status = 'scheduled'")


class Tip(TimestampMixin, Base):
    """A tip article. Library tips (TIP-xx, CSK-xx) come from the data file and carry a
    code; custom tips are written by the bureau for one broadcast and have none."""

    __tablename__ = "tips"
    __table_args__ = (
        CheckConstraint(
            "(kind = 'custom' AND code IS NULL) OR (kind <> 'custom' AND code IS NOT NULL)",
            name="library_has_code",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str | None] = mapped_column(String(16), unique=True)
    kind: Mapped[TipKind] = mapped_column(str_enum(TipKind, "tip_kind"))
    title: Mapped[str] = mapped_column(String(MAX_TITLE))
    summary: Mapped[str] = mapped_column(String(MAX_SUMMARY))
    body: Mapped[str] = mapped_column(Text)
    months: Mapped[list[int]] = mapped_column(JSON, default=list)  # 1–12, local calendar
    audience: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # Audience.to_json()
    # Library tips: content hash of the loaded entry, so an unchanged reload writes nothing.
    signature: Mapped[str] = mapped_column(String(64), default="")
    position: Mapped[int] = mapped_column(default=0)  # order in the library
    active: Mapped[bool] = mapped_column(default=True)  # False: dropped from the data file
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class TipBroadcast(TimestampMixin, Base):
    """Sending one tip to an audience at a time. Drafts come from the seasonal calendar
    (one per tip and month: `proposed_month`); the release job fans a scheduled broadcast
    out into one receipt and one outbox message per recipient."""

    __tablename__ = "tip_broadcasts"
    __table_args__ = (
        UniqueConstraint("tip_id", "proposed_month"),
        CheckConstraint("recipient_count >= 0", name="recipient_count_nonnegative"),
        # The release job's query: scheduled broadcasts by send time; partial, so it stays as
        # small as the queue while history grows.
        Index("ix_tip_broadcasts_due", "send_at", postgresql_where=_SCHEDULED, sqlite_where=_SCHEDULED),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tip_id: Mapped[int] = mapped_column(ForeignKey("tips.id", ondelete="RESTRICT"), index=True)
    status: Mapped[BroadcastStatus] = mapped_column(str_enum(BroadcastStatus, "tip_broadcast_status"))
    audience: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # Audience.to_json()
    send_at: Mapped[datetime]  # drafts: the calendar's suggestion
    proposed_month: Mapped[str | None] = mapped_column(String(7))  # "2027-06" for calendar drafts
    recipient_count: Mapped[int | None]  # set at release
    # An acknowledgement task for each person (task notice by template message) rather than
    # a general tip (mass message by town tag): domain.delivery_for.
    requires_ack: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    # Mass broadcasts: recipients left out at release because WeChat's 4 mass messages per
    # follower and month were used up.
    over_quota_count: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    released_at: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    tip: Mapped[Tip] = relationship()


class TipBroadcastEvent(Base):
    """Append-only history of a broadcast: who did what, when, from which status to which."""

    __tablename__ = "tip_broadcast_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    broadcast_id: Mapped[int] = mapped_column(ForeignKey("tip_broadcasts.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))  # None: a job
    at: Mapped[datetime]
    action: Mapped[BroadcastAction] = mapped_column(str_enum(BroadcastAction, "tip_broadcast_action"))
    from_status: Mapped[BroadcastStatus | None] = mapped_column(
        str_enum(BroadcastStatus, "tip_broadcast_event_from_status")
    )
    to_status: Mapped[BroadcastStatus] = mapped_column(
        str_enum(BroadcastStatus, "tip_broadcast_event_to_status")
    )
    note: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class TipReceipt(Base):
    """One recipient of one broadcast: written with their outbox message, then read (the H5
    page opened), acknowledged (我已阅读并知晓) and reminded at most once.

    No foreign keys, on purpose: a broadcast writes one receipt per recipient (100 000 for
    the whole district) and each foreign key would add a referential-integrity trigger call
    per row — about a second per key and 100 000 rows. Receipts are written only by the
    fan-out, from the broadcast row it holds locked and user ids it has just selected, in
    one transaction; broadcasts and users are never deleted (users are deactivated)."""

    __tablename__ = "tip_receipts"

    # The primary key (broadcast_id, user_id) serves every lookup: a broadcast's receipts by
    # its prefix; a member's by probing it once per released broadcast (few per month), so
    # no second index has to be written 100 000 times per broadcast.
    broadcast_id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime]
    read_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]


class TipMassSend(Base):
    """One mass message (群发, sendall) of a broadcast to one town's tag: written at release
    (pending), submitted by the send job (msg_id), finished by WeChat's MASSSENDJOBFINISH
    (its totals)."""

    __tablename__ = "tip_mass_sends"
    __table_args__ = (UniqueConstraint("broadcast_id", "town_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    broadcast_id: Mapped[int] = mapped_column(ForeignKey("tip_broadcasts.id", ondelete="CASCADE"), index=True)
    town_id: Mapped[int] = mapped_column(ForeignKey("towns.id", ondelete="RESTRICT"))
    status: Mapped[MassStatus] = mapped_column(str_enum(MassStatus, "tip_mass_status"))
    recipients: Mapped[int] = mapped_column(default=0)  # receipts of this town at release
    wx_tag_id: Mapped[int | None]
    msg_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    msg_data_id: Mapped[int | None] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    # MASSSENDJOBFINISH: TotalCount (followers with the tag), FilterCount (left after WeChat's
    # filters, the monthly limit among them), SentCount, ErrorCount.
    total_count: Mapped[int | None]
    filter_count: Mapped[int | None]
    sent_count: Mapped[int | None]
    error_count: Mapped[int | None]
    report: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    submitted_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class TipMassQuota(Base):
    """Mass messages a person was sent in a calendar month (Asia/Shanghai, "2027-07"):
    WeChat delivers at most 4 per follower and month."""

    __tablename__ = "tip_mass_quota"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    used: Mapped[int] = mapped_column(default=0)


class TipTownTag(Base):
    """The WeChat tag (用户标签) of one town's members, created with tags/create."""

    __tablename__ = "tip_town_tags"

    town_id: Mapped[int] = mapped_column(ForeignKey("towns.id", ondelete="CASCADE"), primary_key=True)
    wx_tag_id: Mapped[int] = mapped_column(unique=True)
    name: Mapped[str] = mapped_column(String(64))
    synced_at: Mapped[datetime | None]


class TipTagMember(Base):
    """Which town tag a follower carries at WeChat, as we last set it (batchtagging); the
    sync compares it with each member's home town and tags/untags the difference."""

    __tablename__ = "tip_tag_members"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    openid: Mapped[str] = mapped_column(String(64))
    town_id: Mapped[int] = mapped_column(index=True)
    wx_tag_id: Mapped[int]
    tagged_at: Mapped[datetime]
