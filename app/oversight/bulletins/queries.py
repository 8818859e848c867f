"""Read side of bulletins: the month's facts of every enterprise of a scope (one grouped SQL
pass per figure, reusing the checks' and hazards' own overdue clauses), the bulletins an
actor may see, one bulletin with its lists, and what a member's phone shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, and_, case, exists, func, or_, select, true
from sqlalchemy.orm import Session

from app.accounts.domain import Actor, Role
from app.accounts.models import Membership, User
from app.database import count_rows, one_page
from app.enterprises.domain import Scale
from app.enterprises.models import Enterprise, Town
from app.errors import NotFound
from app.hazard_reporting.checks.domain import CheckTaskStatus
from app.hazard_reporting.checks.models import CheckTask
from app.hazard_reporting.checks.queries import task_overdue_clause
from app.hazard_reporting.hazards.domain import HazardLevel
from app.hazard_reporting.hazards.ledger import month_bounds
from app.hazard_reporting.hazards.models import Hazard
from app.hazard_reporting.hazards.queries import overdue_clause
from app.oversight.bulletins.domain import BulletinKind, BulletinStatus, Month, MonthFacts, Verdict
from app.oversight.bulletins.models import Bulletin, BulletinEntry, BulletinEvent

# Who hears of a bulletin that names their enterprise.
RECIPIENT_ROLES = (Role.MANAGER, Role.SAFETY_OFFICER)
VISIBLE_STATUSES = (BulletinStatus.PUBLISHED, BulletinStatus.SUPERSEDED)


def _count(condition) -> object:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def facts_cutoff(month: Month, now: datetime) -> datetime:
    """The instant a month's facts are read at: its end, or now while it runs."""
    _start, end = month_bounds(month.year, month.month)
    return min(now, end)


def _in_scope(column, town_id: int | None):
    """`column` (an enterprise id) within the scope: a town's enterprises; the whole
    district needs no condition."""
    if town_id is None:
        return true()
    return column.in_(select(Enterprise.id).where(Enterprise.town_id == town_id))


def check_counts(month: Month, town_id: int | None, now: datetime) -> Select:
    """Per enterprise of the scope: check tasks due in the month before the cut-off (excused
    ones left out), done on time, done late, still owing (checks.queries.task_overdue_clause)."""
    start, _end = month_bounds(month.year, month.month)
    cutoff = facts_cutoff(month, now)
    return (
        select(
            CheckTask.enterprise_id,
            func.count().label("due"),
            _count(CheckTask.status == CheckTaskStatus.DONE).label("on_time"),
            _count(CheckTask.status == CheckTaskStatus.DONE_LATE).label("late"),
            _count(task_overdue_clause(cutoff)).label("missed"),
        )
        .where(
            CheckTask.due_at >= start,
            CheckTask.due_at < cutoff,
            CheckTask.status != CheckTaskStatus.EXCUSED,
            _in_scope(CheckTask.enterprise_id, town_id),
        )
        .group_by(CheckTask.enterprise_id)
    )


def hazard_counts(month: Month, town_id: int | None, now: datetime) -> Select:
    """Per enterprise of the scope: general and major hazards overdue at the cut-off
    (hazards.queries.overdue_clause)."""
    cutoff = facts_cutoff(month, now)
    return (
        select(
            Hazard.enterprise_id,
            _count(Hazard.level == HazardLevel.GENERAL).label("general"),
            _count(Hazard.level == HazardLevel.MAJOR).label("major"),
        )
        .where(overdue_clause(cutoff), _in_scope(Hazard.enterprise_id, town_id))
        .group_by(Hazard.enterprise_id)
    )


def month_facts(session: Session, month: Month, town_id: int | None, now: datetime) -> list[MonthFacts]:
    """The month's facts of every enterprise of the scope (a town, or the district), in
    town then name order. Three grouped queries whatever the number of enterprises:
    the enterprises, their check tasks due in the month, their overdue hazards."""
    enterprises = select(
        Enterprise.id,
        Enterprise.name,
        Enterprise.town_id,
        Enterprise.scale,
        Enterprise.standardization_level,
        Enterprise.standardization_date,
    ).order_by(Enterprise.town_id, Enterprise.name, Enterprise.id)
    if town_id is not None:
        enterprises = enterprises.where(Enterprise.town_id == town_id)
    checks = {row.enterprise_id: row for row in session.execute(check_counts(month, town_id, now))}
    hazards = {row.enterprise_id: row for row in session.execute(hazard_counts(month, town_id, now))}
    facts = []
    for e in session.execute(enterprises):
        c, h = checks.get(e.id), hazards.get(e.id)
        facts.append(
            MonthFacts(
                enterprise_id=e.id,
                name=e.name,
                town_id=e.town_id,
                above_scale=e.scale == Scale.ABOVE,
                due_checks=int(c.due) if c else 0,
                on_time_checks=int(c.on_time) if c else 0,
                late_checks=int(c.late) if c else 0,
                missed_checks=int(c.missed) if c else 0,
                overdue_general=int(h.general) if h else 0,
                overdue_major=int(h.major) if h else 0,
                standardization_level=str(e.standardization_level.value),
                certified_on=e.standardization_date,
            )
        )
    return facts


# --- bulletins -----------------------------------------------------------------------------------


def _member_enterprises(actor: Actor) -> list[int]:
    return sorted(actor.roles)


def visible_bulletins(actor: Actor) -> Select[tuple[Bulletin]]:
    """SELECT of the bulletins `actor` may see: the bureau admin all; bureau staff the
    district's and their towns'; an enterprise's members the published ones that name it."""
    query = select(Bulletin)
    scope = actor.enterprise_scope()
    if scope.all:
        return query
    conditions = []
    if actor.is_bureau:
        conditions.append(Bulletin.town_id.is_(None))
        if actor.bureau_town_ids:
            conditions.append(Bulletin.town_id.in_(sorted(actor.bureau_town_ids)))
    own = _member_enterprises(actor)
    if own:
        conditions.append(
            and_(
                Bulletin.status.in_(VISIBLE_STATUSES),
                exists().where(
                    BulletinEntry.bulletin_id == Bulletin.id,
                    BulletinEntry.enterprise_id.in_(own),
                    BulletinEntry.removed_at.is_(None),
                ),
            )
        )
    return query.where(or_(*conditions)) if conditions else query.where(Bulletin.id.is_(None))


@dataclass(frozen=True)
class BulletinFilter:
    kind: BulletinKind | None = None
    month: Month | None = None
    town_id: int | None = None


def list_bulletins(
    session: Session, actor: Actor, flt: BulletinFilter, page: int = 1, per_page: int = 50
) -> tuple[list[Bulletin], int]:
    """One page of the bulletins `actor` may see, newest first, and how many there are."""
    query = visible_bulletins(actor)
    if flt.kind is not None:
        query = query.where(Bulletin.kind == flt.kind)
    if flt.town_id is not None:
        query = query.where(Bulletin.town_id == flt.town_id)
    if flt.month is not None:
        start, last = flt.month.first_day, flt.month.last_day
        query = query.where(
            or_(Bulletin.month == start, and_(Bulletin.visit_date >= start, Bulletin.visit_date <= last))
        )
    total = count_rows(session, query)
    items = session.scalars(one_page(query.order_by(Bulletin.created_at.desc(), Bulletin.id.desc()), page, per_page)).all()
    return list(items), total


def get_bulletin(session: Session, actor: Actor, bulletin_id: int) -> Bulletin:
    """One bulletin `actor` may see. Raises NotFound otherwise (no existence leak)."""
    bulletin = session.scalar(visible_bulletins(actor).where(Bulletin.id == bulletin_id))
    if bulletin is None:
        raise NotFound("通报不存在或您无权查看。")
    return bulletin


@dataclass(frozen=True)
class EntryRow:
    id: int
    enterprise_id: int
    enterprise_name: str
    town_name: str
    verdict: Verdict
    reasons: list[str]
    by_rule: bool
    added_reason: str | None
    removed_reason: str | None
    removed_at: datetime | None

    @property
    def listed(self) -> bool:
        return self.removed_at is None


def entry_rows(session: Session, bulletin_id: int, enterprise_ids: list[int] | None = None) -> list[EntryRow]:
    """The entries of a bulletin with their enterprise and town names, warned first, then
    praised, then visited; each list by town and name."""
    order = case(
        (BulletinEntry.verdict == Verdict.WARNED, 0), (BulletinEntry.verdict == Verdict.PRAISED, 1), else_=2
    )
    query = (
        select(BulletinEntry, Enterprise.name, Town.name)
        .join(Enterprise, Enterprise.id == BulletinEntry.enterprise_id)
        .join(Town, Town.id == Enterprise.town_id)
        .where(BulletinEntry.bulletin_id == bulletin_id)
        .order_by(order, Town.id, Enterprise.name, BulletinEntry.id)
    )
    if enterprise_ids is not None:
        query = query.where(BulletinEntry.enterprise_id.in_(enterprise_ids))
    return [
        EntryRow(
            id=entry.id,
            enterprise_id=entry.enterprise_id,
            enterprise_name=name,
            town_name=town,
            verdict=entry.verdict,
            reasons=list(entry.reasons or []),
            by_rule=entry.by_rule,
            added_reason=entry.added_reason,
            removed_reason=entry.removed_reason,
            removed_at=entry.removed_at,
        )
        for entry, name, town in session.execute(query)
    ]


def addable_enterprises(session: Session, bulletin: Bulletin) -> list[tuple[int, str]]:
    """Enterprises of the bulletin's scope it does not name yet (id, name), by name."""
    taken = select(BulletinEntry.enterprise_id).where(BulletinEntry.bulletin_id == bulletin.id)
    query = select(Enterprise.id, Enterprise.name).where(Enterprise.id.not_in(taken)).order_by(Enterprise.name)
    if bulletin.town_id is not None:
        query = query.where(Enterprise.town_id == bulletin.town_id)
    return [(row.id, row.name) for row in session.execute(query)]


def recipients(session: Session, enterprise_ids: list[int]) -> list[tuple[int, int]]:
    """(enterprise id, user id) of the active managers and safety officers of these
    enterprises, once each."""
    if not enterprise_ids:
        return []
    rows = session.execute(
        select(Membership.enterprise_id, Membership.user_id)
        .where(
            Membership.enterprise_id.in_(enterprise_ids),
            Membership.active.is_(True),
            Membership.role.in_(RECIPIENT_ROLES),
        )
        .distinct()
        .order_by(Membership.enterprise_id, Membership.user_id)
    )
    return [(row.enterprise_id, row.user_id) for row in rows]


def town_names(session: Session) -> dict[int, str]:
    return {town_id: name for town_id, name in session.execute(select(Town.id, Town.name))}


@dataclass(frozen=True)
class PhoneView:
    """A published bulletin as a member's phone shows it: the bulletin, its lists, and the
    entries of the reader's own enterprises."""

    bulletin: Bulletin
    rows: list[EntryRow]
    own: list[EntryRow]


def phone_view(session: Session, actor: Actor, bulletin_id: int) -> PhoneView:
    """A published bulletin for a member of an enterprise it names (or a bureau user who
    may see it). Raises NotFound otherwise."""
    bulletin = session.scalar(
        visible_bulletins(actor).where(Bulletin.id == bulletin_id, Bulletin.status.in_(VISIBLE_STATUSES))
    )
    if bulletin is None:
        raise NotFound("通报不存在，或未涉及您所在的企业。")
    rows = [r for r in entry_rows(session, bulletin.id) if r.listed]
    own_ids = set(actor.roles)
    return PhoneView(bulletin=bulletin, rows=rows, own=[r for r in rows if r.enterprise_id in own_ids])


def enterprises_of_town(session: Session, town_id: int) -> list[tuple[int, str]]:
    """(id, name) of a town's enterprises, by name: the supervision form's choices."""
    rows = session.execute(
        select(Enterprise.id, Enterprise.name).where(Enterprise.town_id == town_id).order_by(Enterprise.name)
    )
    return [(row.id, row.name) for row in rows]


@dataclass(frozen=True)
class EventRow:
    at: datetime
    action: str
    actor_name: str
    note: str | None


def bulletin_events(session: Session, bulletin_id: int) -> list[EventRow]:
    """A bulletin's history, oldest first, with who did it."""
    rows = session.execute(
        select(BulletinEvent, User.display_name)
        .outerjoin(User, User.id == BulletinEvent.actor_id)
        .where(BulletinEvent.bulletin_id == bulletin_id)
        .order_by(BulletinEvent.id)
    )
    return [EventRow(at=e.at, action=e.action, actor_name=name or "系统", note=e.note) for e, name in rows]


def corrections_of(session: Session, bulletin_id: int) -> list[Bulletin]:
    """The bulletins drafted to correct this one, newest first."""
    return list(
        session.scalars(
            select(Bulletin).where(Bulletin.supersedes_id == bulletin_id).order_by(Bulletin.id.desc())
        )
    )


def listed_counts(session: Session, bulletin_ids: list[int]) -> dict[int, dict[Verdict, int]]:
    """How many enterprises each bulletin lists, per verdict (removed ones left out)."""
    counts: dict[int, dict[Verdict, int]] = {}
    if not bulletin_ids:
        return counts
    rows = session.execute(
        select(BulletinEntry.bulletin_id, BulletinEntry.verdict, func.count())
        .where(BulletinEntry.bulletin_id.in_(bulletin_ids), BulletinEntry.removed_at.is_(None))
        .group_by(BulletinEntry.bulletin_id, BulletinEntry.verdict)
    )
    for bulletin_id, verdict, count in rows:
        counts.setdefault(bulletin_id, {})[Verdict(verdict)] = int(count)
    return counts
