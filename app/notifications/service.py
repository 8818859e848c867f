"""Writing to the outbox. Called inside the caller's transaction; flushes, never commits."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.notifications.domain import MAX_DEDUPE_KEY_LENGTH, OutboxStatus
from app.notifications.models import OutboxMessage

_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def enqueue(
    session: Session,
    *,
    kind: str,
    recipient_user_id: int | None,
    payload: dict[str, Any],
    dedupe_key: str,
    now: datetime,
    recipient_openid: str | None = None,
) -> int | None:
    """Queue one message, due at `now`. Idempotent: when a message with `dedupe_key`
    already exists nothing is written and None is returned; otherwise the new row's id.

    Uses INSERT … ON CONFLICT DO NOTHING, so two transactions racing on the same key
    cannot both insert and neither fails. Raises ValueError without a recipient or with
    a key longer than the column.
    """
    if recipient_user_id is None and not recipient_openid:
        raise ValueError("an outbox message needs a recipient user or openid")
    if not dedupe_key or len(dedupe_key) > MAX_DEDUPE_KEY_LENGTH:
        raise ValueError(f"dedupe_key must be 1–{MAX_DEDUPE_KEY_LENGTH} characters")
    dialect = session.get_bind().dialect.name
    try:
        insert = _INSERTS[dialect]
    except KeyError:
        raise RuntimeError(f"outbox enqueue does not support the {dialect} dialect") from None
    # Pending ORM changes first, so the outbox row lands after the change that caused it.
    session.flush()
    statement = (
        insert(OutboxMessage)
        .values(
            kind=kind,
            recipient_user_id=recipient_user_id,
            recipient_openid=recipient_openid,
            payload=payload,
            dedupe_key=dedupe_key,
            status=OutboxStatus.QUEUED,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=[OutboxMessage.dedupe_key])
        .returning(OutboxMessage.id)
    )
    return session.execute(statement).scalar_one_or_none()
