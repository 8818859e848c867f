"""The outbox: messages written in the same transaction as the change that causes them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from app.database import Base, str_enum
from app.notifications.domain import DUE_STATUSES, MAX_DEDUPE_KEY_LENGTH, OutboxStatus

_DUE = text("status IN ({})".format(", ".join(f"'{s.value}'" for s in DUE_STATUSES)))


class OutboxMessage(Base):
    """One message to one recipient. `dedupe_key` makes enqueueing idempotent: whatever
    causes a message twice (a retried job, a replayed callback) still sends it once."""

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
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    last_errcode: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    wx_msgid: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
