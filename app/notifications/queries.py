"""Read side of notifications: who a message is for, and what a daily digest counts."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.notifications.domain import DEFAULT_QUIET_END, DEFAULT_QUIET_START, Recipient
from app.notifications.models import NotificationPreference


def recipients(session: Session, user_ids: Iterable[int]) -> dict[int, Recipient]:
    """The delivery facts of each user (openid, follow state, preferences), in one query.
    Users that do not exist are absent from the result."""
    ids = sorted(set(user_ids))
    if not ids:
        return {}
    rows = session.execute(
        select(
            User.id,
            User.openid,
            User.subscribed,
            User.is_active,
            NotificationPreference.user_id,
            NotificationPreference.digest_only,
            NotificationPreference.quiet_start,
            NotificationPreference.quiet_end,
        )
        .outerjoin(NotificationPreference, NotificationPreference.user_id == User.id)
        .where(User.id.in_(ids))
    )
    found = {}
    for user_id, openid, subscribed, active, pref_id, digest_only, start, end in rows:
        has_pref = pref_id is not None
        found[user_id] = Recipient(
            openid=openid,
            subscribed=subscribed,
            active=active,
            digest_only=bool(digest_only) if has_pref else False,
            quiet_start=start if has_pref else DEFAULT_QUIET_START,
            quiet_end=end if has_pref else DEFAULT_QUIET_END,
        )
    return found


def preference_of(session: Session, user_id: int) -> NotificationPreference | None:
    return session.get(NotificationPreference, user_id)
