"""Read side of escalation: who asked for the daily digest, and what it reports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app.accounts.domain import Actor
from app.accounts.models import User
from app.accounts.queries import visible_enterprises
from app.enterprises.models import Enterprise
from app.hazard_reporting.checks.domain import CheckTaskStatus
from app.hazard_reporting.checks.models import CheckTask
from app.hazard_reporting.checks.queries import task_overdue_clause
from app.hazard_reporting.hazards.domain import OPEN_STATUSES
from app.hazard_reporting.hazards.models import Hazard
from app.hazard_reporting.hazards.queries import overdue_clause
from app.notifications.domain import OutboxStatus
from app.notifications.models import NotificationPreference, OutboxMessage

# What a daily digest looks back over.
DIGEST_PERIOD = timedelta(days=1)


def digest_users(session: Session) -> list[User]:
    """Active, following users with an openid who asked for the daily digest."""
    return list(
        session.scalars(
            select(User)
            .join(NotificationPreference, NotificationPreference.user_id == User.id)
            .where(
                NotificationPreference.digest_only.is_(True),
                User.is_active.is_(True),
                User.subscribed.is_(True),
                User.openid.is_not(None),
            )
            .order_by(User.id)
        )
    )


@dataclass(frozen=True)
class DigestCounts:
    overdue_checks: int
    open_hazards: int
    overdue_hazards: int
    folded_notices: int

    @property
    def empty(self) -> bool:
        return not (self.overdue_checks or self.open_hazards or self.overdue_hazards or self.folded_notices)


def digest_counts(session: Session, actor: Actor, now: datetime) -> DigestCounts:
    """What one user's digest reports, over the enterprises they may see:

    - overdue checks: tasks past their due time without a submission — still pending, or
      swept to missed during the last day;
    - open hazards (not closed nor rejected) and, of those, the ones whose rectification is
      overdue (hazards.domain.is_overdue: a rectified one waiting for verification is not);
    - the user's own notices folded into the digest during the last day."""
    since = now - DIGEST_PERIOD
    enterprises = visible_enterprises(actor).with_only_columns(Enterprise.id).scalar_subquery()
    overdue_checks = session.scalar(
        select(func.count())
        .select_from(CheckTask)
        .where(
            CheckTask.enterprise_id.in_(enterprises),
            task_overdue_clause(now),
            # A missed task counts on the day it was swept, not every day after.
            or_(CheckTask.status == CheckTaskStatus.PENDING, CheckTask.closed_at > since),
        )
    )
    open_hazards, overdue_hazards = session.execute(
        select(
            func.count(),
            func.count().filter(overdue_clause(now)),
        ).where(Hazard.enterprise_id.in_(enterprises), Hazard.status.in_(sorted(OPEN_STATUSES)))
    ).one()
    folded = session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(
            OutboxMessage.recipient_user_id == actor.user_id,
            OutboxMessage.status == OutboxStatus.DIGESTED,
            OutboxMessage.finished_at > since,
            OutboxMessage.finished_at <= now,
        )
    )
    return DigestCounts(
        overdue_checks=overdue_checks or 0,
        open_hazards=open_hazards or 0,
        overdue_hazards=overdue_hazards or 0,
        folded_notices=folded or 0,
    )
