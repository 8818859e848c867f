"""The outbox (messages written in the same transaction as the change that causes them) and
each user's notification preferences."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    Time,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.database import Base, str_enum
from app.notifications.domain import (
    DUE_STATUSES,
    MAX_DEDUPE_KEY_LENGTH,
    Channel,
    OutboxStatus,
)

_DUE = text("status IN ({})".format(", ".join(f"'{s.value}'" for s in DUE_STATUSES)))
_SENT = text(f"status = '{OutboxStatus.SENT.value}'")


class OutboxMessage(Base):
    """One message to one recipient. `dedupe_key` makes enqueueing idempotent: whatever
    causes a message twice (a retried job, a replayed callback) still sends it once.

    A dispatcher claims a due row by setting `claimed_by` and pushing `next_attempt_at` (and
    `claimed_until`) one lease ahead, commits, sends, then records the result and clears the
    claim. A dispatcher that dies in between leaves the claim to expire: the row is due again
    and the next claimer sees the stale `claimed_by` (a possible duplicate, logged and kept
    in `last_error`)."""

    __tablename__ = "outbox_messages"
    __table_args__ = (
        CheckConstraint("attempts >= 0", name="attempts_nonnegative"),
        CheckConstraint(
            "recipient_user_id IS NOT NULL OR recipient_openid IS NOT NULL", name="has_recipient"
        ),
        # The dispatcher's claim query: due rows by next attempt. Partial, so the index stays
        # as small as the backlog while sent/delivered history grows.
        Index(
            "ix_outbox_messages_due",
            "status",
            "next_attempt_at",
            postgresql_where=_DUE,
            sqlite_where=_DUE,
        ),
        # TEMPLATESENDJOBFINISH finds its row by MsgID; only sent rows await a report.
        Index("ix_outbox_messages_wx_msgid", "wx_msgid", postgresql_where=_SENT, sqlite_where=_SENT),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    recipient_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    recipient_openid: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    dedupe_key: Mapped[str] = mapped_column(String(MAX_DEDUPE_KEY_LENGTH), unique=True)
    status: Mapped[OutboxStatus] = mapped_column(
        str_enum(OutboxStatus, "outbox_status"), default=OutboxStatus.QUEUED
    )
    # Never held in quiet hours nor folded into a digest (major hazards).
    urgent: Mapped[bool] = mapped_column(default=False)
    # The channel of the last send (None before the first).
    channel: Mapped[Channel | None] = mapped_column(str_enum(Channel, "outbox_channel"))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    # Quiet hours: when the recipient may be disturbed again (next_attempt_at moves with it).
    hold_until: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None]
    last_errcode: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    wx_msgid: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    # When the delivery report (delivered or failed) or a final failure was recorded.
    finished_at: Mapped[datetime | None]


class NotificationPreference(Base):
    """How a user wants to be notified. No row: every notice as it comes, quiet hours
    22:00–07:00 (Asia/Shanghai); `save_preference` stores those hours unless told otherwise.
    Quiet hours None (or start == end): none."""

    __tablename__ = "notification_preferences"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    # One daily digest instead of a message per non-urgent notice.
    digest_only: Mapped[bool] = mapped_column(default=False)
    # No column default on purpose: the ORM would put it in place of an explicit None.
    quiet_start: Mapped[time | None] = mapped_column(Time)
    quiet_end: Mapped[time | None] = mapped_column(Time)
    updated_at: Mapped[datetime]
