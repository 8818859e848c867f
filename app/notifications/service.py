"""Use cases of the outbox: writing messages, folding in WeChat's delivery reports, giving up
on users who unfollowed, preferences and daily digests.

Each takes (session, …, now), flushes and never commits: the caller owns the transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import or_, text, update
from sqlalchemy.orm import Session

from app.accounts.domain import Actor
from app.accounts.models import User
from app.database import chunks, insert_ignoring_conflicts
from app.notifications.domain import (
    MAX_DEDUPE_KEY_LENGTH,
    OutboxStatus,
    delivery_status,
    truncate_error,
)
from app.notifications.kinds import get_kind, is_urgent
from app.notifications.models import NotificationPreference, OutboxMessage
from app.notifications.schemas import PreferenceIn
from app.validation import parse

log = logging.getLogger(__name__)

_BATCH = 5000  # outbox rows per INSERT of enqueue_many
UNFOLLOWED_REASON = "收件人已取消关注公众号（43004）"


def enqueue(
    session: Session,
    *,
    kind: str,
    recipient_user_id: int | None,
    payload: dict[str, Any],
    dedupe_key: str,
    now: datetime,
    recipient_openid: str | None = None,
    urgent: bool | None = None,
) -> int | None:
    """Queue one message, due at `now`. Idempotent: when a message with `dedupe_key`
    already exists nothing is written and None is returned; otherwise the new row's id.

    `urgent` defaults to the kind's rule (major hazards are urgent: never held in quiet hours
    nor folded into a digest). Uses INSERT … ON CONFLICT DO NOTHING, so two transactions
    racing on the same key cannot both insert and neither fails. Raises ValueError for an
    unknown kind, without a recipient, or with a key longer than the column.
    """
    try:
        get_kind(kind)
    except KeyError as exc:
        raise ValueError(str(exc.args[0])) from None
    if recipient_user_id is None and not recipient_openid:
        raise ValueError("an outbox message needs a recipient user or openid")
    if not dedupe_key or len(dedupe_key) > MAX_DEDUPE_KEY_LENGTH:
        raise ValueError(f"dedupe_key must be 1–{MAX_DEDUPE_KEY_LENGTH} characters")
    # Pending ORM changes first, so the outbox row lands after the change that caused it.
    session.flush()
    row = outbox_row(kind, recipient_user_id, payload, dedupe_key, now, recipient_openid=recipient_openid)
    if urgent is not None:
        row["urgent"] = urgent
    statement = (
        insert_ignoring_conflicts(session, OutboxMessage)
        .values(**row)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(OutboxMessage.__table__.c.id)
    )
    return session.execute(statement).scalar_one_or_none()


def outbox_row(
    kind: str,
    user_id: int | None,
    payload: dict[str, Any],
    dedupe_key: str,
    now: datetime,
    *,
    recipient_openid: str | None = None,
) -> dict[str, Any]:
    """An outbox row as `enqueue` writes it: queued, due now, urgent by the kind's rule
    (anything about a major hazard). Raises KeyError for an unknown kind."""
    return {
        "kind": kind,
        "recipient_user_id": user_id,
        "recipient_openid": recipient_openid,
        "payload": payload,
        "dedupe_key": dedupe_key,
        "status": OutboxStatus.QUEUED,
        "urgent": is_urgent(get_kind(kind), payload),
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def enqueue_many(session: Session, rows: Iterable[dict[str, Any]]) -> int:
    """The bulk form of `enqueue` for rows made by `outbox_row` (the thousands of notices an
    escalation catch-up can owe): inserted in batches, skipping any whose dedupe key exists
    (ON CONFLICT DO NOTHING: a concurrent run cannot write a notice twice, nor fail on one).
    Returns how many rows were inserted."""
    batch = list(rows)
    if not batch:
        return 0
    session.flush()
    # A Core statement on the table: executemany with a plain rowcount (the ORM's bulk path
    # would hand back no count).
    statement = (
        insert_ignoring_conflicts(session, OutboxMessage)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .execution_options(preserve_rowcount=True)
    )
    return sum(session.execute(statement, part).rowcount for part in chunks(batch, _BATCH))


def record_template_result(session: Session, msg_id: int | str, report: str, now: datetime) -> bool:
    """Fold a TEMPLATESENDJOBFINISH report into the sent row with this MsgID: `success` →
    delivered, `failed…` → failed (the report kept as the error). True when a row changed;
    False for an unknown MsgID, a row already finished, or a status it does not know."""
    status = delivery_status(report)
    try:
        msgid = int(str(msg_id).strip())
    except ValueError:
        return False
    if status is None:
        log.warning("template message %s: unknown delivery status %r", msgid, report)
        return False
    values: dict[str, Any] = {"status": status, "finished_at": now}
    if status is OutboxStatus.FAILED:
        values |= {"last_error": truncate_error(f"投递失败：{report.strip()}"), "last_errcode": None}
    result = session.execute(
        update(OutboxMessage)
        # The status as a literal, so PostgreSQL uses the partial wx_msgid index (sent rows).
        .where(OutboxMessage.wx_msgid == msgid, text(f"outbox_messages.status = '{OutboxStatus.SENT.value}'"))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)


def mark_unfollowed(session: Session, now: datetime, *, user_id: int | None, openid: str | None) -> int:
    """WeChat said 43004: the user no longer follows the account. Mark them unsubscribed and
    give up their queued messages (failed, with the reason), except rows a dispatcher holds a
    live claim on: those are being sent and finish by themselves.
    They get messages again once they follow again (the subscribe handler marks them).
    Returns how many queued rows were failed."""
    recipient = []
    if user_id is not None:
        session.execute(update(User).where(User.id == user_id).values(subscribed=False))
        recipient.append(OutboxMessage.recipient_user_id == user_id)
    if openid:
        session.execute(update(User).where(User.openid == openid).values(subscribed=False))
        recipient.append(OutboxMessage.recipient_openid == openid)
    if not recipient:
        return 0
    claim_free = or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until <= now)
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.QUEUED, or_(*recipient), claim_free)
        .values(
            status=OutboxStatus.FAILED,
            last_errcode=43004,
            last_error=UNFOLLOWED_REASON,
            finished_at=now,
            claimed_by=None,
            claimed_until=None,
        )
        .execution_options(synchronize_session="fetch")
    )
    return result.rowcount


def save_preference(session: Session, actor: Actor, now: datetime, data: Any) -> NotificationPreference:
    """Set the actor's own notification preferences (digest only, quiet hours).
    Raises ValidationFailed."""
    payload = parse(PreferenceIn, data)
    preference = session.get(NotificationPreference, actor.user_id)
    if preference is None:
        preference = NotificationPreference(user_id=actor.user_id)
        session.add(preference)
    preference.digest_only = payload.digest_only
    preference.quiet_start = payload.quiet_start
    preference.quiet_end = payload.quiet_end
    preference.updated_at = now
    session.flush()
    return preference
