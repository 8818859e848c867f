"""The escalation job (逾期升级提醒): mark overdue checks missed and write the notices of
the escalation ladder (escalation_domain) to the outbox, in the caller's transaction.

Set-based, because it runs every few minutes over every open task of the district (up to
200 000): one scan finds the overdue checks; then, per few hundred of them, one statement
matches each with the people of its levels and drops the notices already written — the
outbox's unique dedupe key is what remembers who has been told (no extra table, no status
change). Overdue hazards are far fewer; their audience is computed here with the pure rules.

Idempotent and late-safe: every notice has a dedupe key (one per item, level and person) and
is inserted with ON CONFLICT DO NOTHING, so running twice writes nothing new and a run after
downtime writes every level due by then — within the policy's lookback.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    or_,
    select,
    text,
)
from sqlalchemy.orm import Session, aliased

from app.accounts.domain import Role
from app.accounts.models import Membership, User
from app.accounts.queries import load_actor
from app.clock import local_today
from app.database import chunks
from app.enterprises.models import Department, Enterprise, Team
from app.hazard_reporting.checks.domain import OWING_STATUSES, CheckLevel, CheckTaskStatus, ScheduleKind
from app.hazard_reporting.checks.models import CheckTask
from app.hazard_reporting.checks.service import sweep_overdue
from app.hazard_reporting.escalation.domain import (
    DEFAULT_POLICY,
    HAZARD_KINDS,
    TASK_KINDS,
    TASK_LEVEL_ROLES,
    EscalationPolicy,
    HazardFacts,
    Staff,
    hazard_audience,
    hazard_dedupe_key,
    hazard_notices_due,
    responsible_label,
    task_dedupe_key,
)
from app.hazard_reporting.escalation.notices import DIGEST_KIND
from app.hazard_reporting.escalation.queries import digest_counts, digest_users
from app.hazard_reporting.hazards.domain import OPEN_STATUSES, HazardLevel, HazardStatus
from app.hazard_reporting.hazards.models import Hazard
from app.hazard_reporting.hazards.recording import SUMMARY_LENGTH
from app.hazard_reporting.schedules.models import CheckSchedule
from app.notifications.models import OutboxMessage
from app.notifications.service import enqueue, enqueue_many, outbox_row

_TASK_CHUNK = 500  # overdue tasks per audience statement
# The roles a check's owner can hold (domain.owes).
_OWNER_ROLES = (Role.TEAM_LEADER, Role.DEPARTMENT_HEAD, Role.MANAGER, Role.SAFETY_OFFICER)
_HAZARD_STAFF_ROLES = (Role.DEPARTMENT_HEAD, Role.MANAGER, Role.SAFETY_OFFICER, Role.ENTERPRISE_ADMIN)


@dataclass(frozen=True)
class EscalationResult:
    """What one run did: tasks swept to missed, and notices written by kind."""

    missed_tasks: int
    notices: dict[str, int] = field(default_factory=dict)

    @property
    def total_notices(self) -> int:
        return sum(self.notices.values())


def run_escalations(session: Session, now: datetime, policy: EscalationPolicy = DEFAULT_POLICY) -> EscalationResult:
    """The scheduler job: sweep overdue tasks to missed (checks.service.sweep_overdue), then
    write every escalation notice due by `now` and not yet written — overdue checks to their
    owners, department heads and managers; hazards due soon or overdue to their owners,
    department heads and managers (major ones also to managers and safety officers from the
    first notice). Flushes, never commits: the caller owns the transaction.

    Raises ValueError for a naive `now`."""
    if now.tzinfo is None:
        raise ValueError("naive datetime: pass an aware UTC datetime")
    session.flush()
    missed = sweep_overdue(session, now)
    written: Counter[str] = Counter()
    written.update(escalate_tasks(session, now, policy))
    written.update(escalate_hazards(session, now, policy))
    return EscalationResult(len(missed), {kind: n for kind, n in sorted(written.items()) if n})


# --- overdue checks ------------------------------------------------------------------------


def _sql_true(clause: ColumnElement[bool]) -> ColumnElement[bool]:
    """`clause`, with SQL's unknown (a comparison with NULL) read as false: the level CASE
    then goes on to its next branch, as the domain rule does."""
    return func.coalesce(clause, false())


def owner_clause(schedule: Any, member: Any) -> ColumnElement[bool]:
    """SQL form of checks.domain.owes: does `member` (columns role, team_id and
    department_id — a team leader's department being their team's) owe checks of `schedule`
    (CheckSchedule)? Kept in step with `owes` by tests/integration/test_escalation.py."""
    routine = schedule.kind == ScheduleKind.ROUTINE
    risk_point = schedule.kind == ScheduleKind.RISK_POINT
    return _sql_true(
        or_(
            and_(
                routine,
                schedule.level == CheckLevel.DAILY,
                member.role == Role.TEAM_LEADER,
                member.team_id == schedule.team_id,
            ),
            and_(
                routine,
                schedule.level == CheckLevel.WEEKLY,
                member.role == Role.DEPARTMENT_HEAD,
                member.department_id == schedule.department_id,
            ),
            and_(routine, schedule.level == CheckLevel.MONTHLY, member.role == Role.MANAGER),
            and_(
                risk_point,
                schedule.team_id.is_not(None),
                member.role == Role.TEAM_LEADER,
                member.team_id == schedule.team_id,
            ),
            and_(
                risk_point,
                schedule.team_id.is_(None),
                schedule.department_id.is_not(None),
                member.department_id == schedule.department_id,
                or_(
                    member.role == Role.DEPARTMENT_HEAD,
                    and_(member.role == Role.TEAM_LEADER, schedule.level == CheckLevel.DAILY),
                ),
            ),
            and_(
                risk_point,
                schedule.team_id.is_(None),
                schedule.department_id.is_(None),
                member.role.in_([Role.SAFETY_OFFICER, Role.MANAGER]),
            ),
        )
    )


@dataclass(frozen=True)
class _MemberColumns:
    """The columns of a membership the audience rules read."""

    role: Any
    team_id: Any
    department_id: Any  # a team leader's: their team's department (as member_facts)


def _member_department(membership: Any) -> ColumnElement[Any]:
    # A subquery rather than a join: it is evaluated only for the memberships whose role
    # already matched, not for every member of the enterprise.
    team_department = select(Team.department_id).where(Team.id == membership.team_id).scalar_subquery()
    return func.coalesce(team_department, membership.department_id)


def notice_level(schedule: Any, member: Any) -> ColumnElement[Any]:
    """SQL form of escalation_domain.task_audience: the level whose notice `member` gets
    about a task of `schedule` — 1 when they owe the check, else 2 for a head of the
    schedule's department, else 3 for a manager — or NULL. A membership gets at most one
    level; a person with two memberships may get two."""
    return case(
        (owner_clause(schedule, member), 1),
        (
            and_(
                member.role == TASK_LEVEL_ROLES[2],
                schedule.department_id.is_not(None),
                member.department_id == schedule.department_id,
            ),
            2,
        ),
        (member.role == TASK_LEVEL_ROLES[3], 3),
        else_=None,
    )


def _recipients(lateral: bool) -> tuple[Any, ColumnElement[Any]]:
    """The members who get a notice about the outer task, as a FROM item joined to the task
    and its schedule, with the level column of each.

    PostgreSQL: a LATERAL subquery per overdue task — the task's enterprise's memberships
    through their index, their level computed before anyone's user row is read; OFFSET 0
    keeps the planner from flattening it into hashes of every membership, user and team of
    the district. SQLite (no LATERAL): the members as a subquery, the level outside."""
    roles = sorted({*_OWNER_ROLES, *TASK_LEVEL_ROLES.values()})
    member = aliased(Membership, name="m")
    query = (
        select(member.enterprise_id, member.user_id)
        .join(User, and_(User.id == member.user_id, User.is_active.is_(True)))
        .where(member.active.is_(True), member.role.in_(roles))
    )
    if lateral:
        level = notice_level(CheckSchedule, _MemberColumns(member.role, member.team_id, _member_department(member)))
        recipients = (
            query.add_columns(level.label("level"))
            .where(member.enterprise_id == CheckTask.enterprise_id, level.is_not(None))
            .offset(0)
            .lateral("member")
        )
        return recipients, recipients.c.level
    flat = query.add_columns(
        member.role, member.team_id, _member_department(member).label("department_id")
    ).subquery("member")
    return flat, notice_level(CheckSchedule, _MemberColumns(flat.c.role, flat.c.team_id, flat.c.department_id))


def _still_owing(now: datetime, delay: timedelta, policy: EscalationPolicy) -> list[ColumnElement[bool]]:
    """Tasks that still owe their check (pending or missed) and were due at least `delay`
    before `now`, but not longer than the lookback."""
    oldest = now - policy.lookback
    return [
        CheckTask.status.in_(sorted(OWING_STATUSES)),
        CheckTask.due_at <= now - delay,
        CheckTask.due_at > oldest,
        # Implied by the line above (grace ends at or after the due time); stated so the
        # (status, grace_until) index can bound the scan.
        CheckTask.grace_until > oldest,
    ]


def overdue_task_ids(session: Session, now: datetime, policy: EscalationPolicy = DEFAULT_POLICY) -> list[int]:
    """The tasks any level may be due for: one scan of the tasks table. Kept apart from the
    audience because the planner cannot see how few these are (pending tasks past their due
    time are rare; it estimates status and due time independently) and would plan the
    audience for a hundred times as many."""
    first = policy.task_delays[0]
    return list(session.scalars(select(CheckTask.id).where(*_still_owing(now, first, policy)).order_by(CheckTask.id)))


def task_notice_query(
    now: datetime,
    policy: EscalationPolicy = DEFAULT_POLICY,
    *,
    task_ids: Sequence[int] | None = None,
    dialect: str,
) -> Any:
    """One SELECT of every (task, recipient, level) whose notice is due by `now` and not
    written yet, with what the notice shows — among `task_ids` when given.

    Due: the task still owes its check (pending or missed), its due time + the level's delay
    has come, and it is not older than the lookback. Recipients and levels: `notice_level`.
    Not written: no outbox row with the notice's dedupe key (a probe of the key's unique
    index). The names shown are subqueries of the select list, so they are looked up for
    new notices only. `dialect`: the session's ("postgresql" or "sqlite"), see _recipients."""
    schedule = CheckSchedule
    members, level = _recipients(lateral=dialect == "postgresql")
    # escalation_domain.task_dedupe_key, computed by the database.
    key = (
        literal("esc:task:", String)
        + cast(CheckTask.id, String)
        + literal(":L", String)
        + cast(level, String)
        + literal(":", String)
        + cast(members.c.user_id, String)
    )
    due = or_(
        *(and_(level == n, CheckTask.due_at <= now - delay) for n, delay in enumerate(policy.task_delays, start=1))
    )
    query = (
        select(
            CheckTask.id.label("task_id"),
            CheckTask.enterprise_id,
            CheckTask.period_start,
            CheckTask.due_at,
            CheckTask.status,
            schedule.kind,
            schedule.level.label("check_level"),
            schedule.label,
            select(Enterprise.name).where(Enterprise.id == CheckTask.enterprise_id).scalar_subquery().label(
                "enterprise_name"
            ),
            select(Team.name).where(Team.id == schedule.team_id).scalar_subquery().label("team_name"),
            select(Department.name).where(Department.id == schedule.department_id).scalar_subquery().label(
                "department_name"
            ),
            members.c.user_id,
            level.label("level"),
        )
        .join(schedule, schedule.id == CheckTask.schedule_id)
        .join(members, members.c.enterprise_id == CheckTask.enterprise_id)
        .where(
            *_still_owing(now, policy.task_delays[0], policy),
            level.is_not(None),
            due,
            # OFFSET 0 keeps this a per-row probe of the dedupe key's unique index: as an
            # anti-join the planner may scan the outbox for every row when its statistics
            # say it is small — and it grows with each chunk this run inserts.
            ~select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key).offset(0).exists(),
        )
    )
    if task_ids is not None:
        query = query.where(CheckTask.id.in_(list(task_ids)))
    return query


def escalate_tasks(
    session: Session, now: datetime, policy: EscalationPolicy = DEFAULT_POLICY, task_ids: Sequence[int] | None = None
) -> Counter[str]:
    """Write the notices of overdue checks due by `now` and not yet written; returns how
    many were written, by kind. `task_ids`: the candidates (default: overdue_task_ids),
    taken a chunk at a time so each statement is planned for the few rows it touches."""
    dialect = session.get_bind().dialect.name
    candidates = overdue_task_ids(session, now, policy) if task_ids is None else list(task_ids)
    with _without_jit(session):
        return _escalatechunks(session, now, policy, candidates, dialect)


@contextmanager
def _without_jit(session: Session) -> Iterator[None]:
    """Switch PostgreSQL's JIT compilation off for the statements inside, then back to what
    it was. The planner prices each audience statement above the JIT threshold (it cannot
    tell that each membership lookup returns a row or two), and compiling then takes longer
    than running them: half of each statement's time on the benchmark."""
    if session.get_bind().dialect.name != "postgresql":
        yield
        return
    previous = session.scalar(text("SELECT current_setting('jit')"))
    session.execute(text("SET LOCAL jit = off"))
    yield
    # Not in a `finally`: after an error the caller rolls back, which undoes SET LOCAL too
    # (and a statement in an aborted transaction would only hide the error).
    session.execute(text("SELECT set_config('jit', :value, true)"), {"value": previous})


def _escalatechunks(
    session: Session,
    now: datetime,
    policy: EscalationPolicy,
    candidates: Sequence[int],
    dialect: str,
) -> Counter[str]:
    written: Counter[str] = Counter()
    for chunk in chunks(candidates, _TASK_CHUNK):
        notices: dict[str, dict[str, Any]] = {}
        for row in session.execute(task_notice_query(now, policy, task_ids=chunk, dialect=dialect)):
            key = task_dedupe_key(row.task_id, row.level, row.user_id)
            check_level = CheckLevel(row.check_level)
            payload = {
                "task_id": row.task_id,
                "enterprise_id": row.enterprise_id,
                "enterprise_name": row.enterprise_name,
                "schedule_name": row.label,
                "level": check_level.value,
                "period_start": row.period_start.isoformat(),
                "due_at": row.due_at.isoformat(),
                "responsible": responsible_label(ScheduleKind(row.kind), check_level, row.team_name, row.department_name),
                "status": CheckTaskStatus(row.status).value,
                "escalation_level": row.level,
            }
            # A person holding two memberships of one level appears twice: one notice.
            notices[key] = outbox_row(TASK_KINDS[row.level], row.user_id, payload, key, now)
        by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for notice in notices.values():
            by_kind[notice["kind"]].append(notice)
        for kind, rows in by_kind.items():
            # Counted from the insert itself: a concurrent run may have written some first.
            written[kind] += enqueue_many(session, rows)
    return written


# --- overdue hazards -----------------------------------------------------------------------


def _membership_rows(session: Session, *conditions: ColumnElement[bool]) -> Any:
    """(enterprise, user, role, department) of active memberships of active users, a team
    leader's department being their team's (as member_facts)."""
    team = aliased(Team)
    return session.execute(
        select(
            Membership.enterprise_id,
            Membership.user_id,
            Membership.role,
            func.coalesce(team.department_id, Membership.department_id),
        )
        .join(User, User.id == Membership.user_id)
        .outerjoin(team, team.id == Membership.team_id)
        .where(Membership.active.is_(True), User.is_active.is_(True), *conditions)
        .order_by(Membership.enterprise_id, Membership.user_id, Membership.id)
    )


def _enterprise_people(
    session: Session, enterprise_ids: Sequence[int], user_ids: Sequence[int]
) -> tuple[dict[int, list[Staff]], dict[tuple[int, int], int]]:
    """Per enterprise, its staff in the roles escalation reaches; and (enterprise, user) →
    department for `user_ids` (the hazards' assignees and reporters)."""
    staff: dict[int, list[Staff]] = defaultdict(list)
    for chunk in chunks(sorted(enterprise_ids)):
        rows = _membership_rows(
            session, Membership.enterprise_id.in_(chunk), Membership.role.in_(list(_HAZARD_STAFF_ROLES))
        )
        for enterprise_id, user_id, role, department_id in rows:
            staff[enterprise_id].append(Staff(user_id, Role(role), department_id))
    department_of: dict[tuple[int, int], int] = {}
    wanted = set(enterprise_ids)
    for chunk in chunks(sorted(user_ids)):
        for enterprise_id, user_id, _role, department_id in _membership_rows(session, Membership.user_id.in_(chunk)):
            if enterprise_id in wanted and department_id is not None:
                department_of.setdefault((enterprise_id, user_id), department_id)
    return staff, department_of


def escalate_hazards(session: Session, now: datetime, policy: EscalationPolicy = DEFAULT_POLICY) -> Counter[str]:
    """Write the due-soon and overdue notices of open hazards due by `now` and not yet
    written; returns how many were written, by kind.

    Open: neither closed nor rejected — rectified ones too (their verification is what is
    late). The hazard's department for level 2: its own, else its assignee's, else its
    reporter's."""
    rows = session.execute(
        select(
            Hazard.id,
            Hazard.enterprise_id,
            Enterprise.name.label("enterprise_name"),
            Hazard.level,
            Hazard.status,
            Hazard.reporter_id,
            Hazard.assignee_id,
            Hazard.department_id,
            Hazard.deadline,
            Hazard.created_at,
            Hazard.description,
            Hazard.location,
        )
        .join(Enterprise, Enterprise.id == Hazard.enterprise_id)
        .where(
            Hazard.status.in_(sorted(OPEN_STATUSES)),
            Hazard.deadline.is_not(None),
            Hazard.deadline <= now + policy.due_soon_lead,
            Hazard.deadline > now - policy.lookback,
        )
        .order_by(Hazard.id)
    ).all()
    due = [
        (row, notices)
        for row in rows
        if (notices := hazard_notices_due(row.deadline, now, policy, since=row.created_at))
    ]
    if not due:
        return Counter()
    people = {row.reporter_id for row, _ in due} | {row.assignee_id for row, _ in due if row.assignee_id}
    staff, department_of = _enterprise_people(session, list({row.enterprise_id for row, _ in due}), list(people))
    candidates: dict[str, dict[str, Any]] = {}
    for row, notices in due:
        department_id = (
            row.department_id
            or department_of.get((row.enterprise_id, row.assignee_id or 0))
            or department_of.get((row.enterprise_id, row.reporter_id))
        )
        facts = HazardFacts(
            level=HazardLevel(row.level),
            status=HazardStatus(row.status),
            assignee_id=row.assignee_id,
            department_id=department_id,
            staff=tuple(staff.get(row.enterprise_id, ())),
        )
        payload = {
            "hazard_id": row.id,
            "enterprise_id": row.enterprise_id,
            "enterprise_name": row.enterprise_name,
            "level": facts.level.value,
            "status": facts.status.value,
            "description": row.description[:SUMMARY_LENGTH],
            "location": row.location,
            "deadline": row.deadline.isoformat(),
            "at": now.isoformat(),
        }
        for notice in notices:
            kind = HAZARD_KINDS[notice]
            notice_payload = {**payload, "notice": notice.value}
            for user_id in sorted(hazard_audience(notice, facts)):
                key = hazard_dedupe_key(row.id, row.deadline, notice, user_id)
                candidates[key] = outbox_row(kind, user_id, notice_payload, key, now)
    existing: set[str] = set()
    for chunk in chunks(list(candidates)):
        existing.update(session.scalars(select(OutboxMessage.dedupe_key).where(OutboxMessage.dedupe_key.in_(chunk))))
    by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for key, notice in candidates.items():
        if key not in existing:
            by_kind[notice["kind"]].append(notice)
    return Counter({kind: enqueue_many(session, rows) for kind, rows in by_kind.items()})


# --- the daily digest -----------------------------------------------------------------------


def build_daily_digests(session: Session, now: datetime) -> int:
    """Write one `daily_digest` message per digest-only user for the local day of `now`
    (dedupe key `digest:<user>:<date>`, so running it again that day writes nothing): the
    overdue checks, open and overdue hazards of the enterprises they may see, and how many
    of their notices were folded into it. Users with nothing to report get none.
    Returns how many digests were written."""
    day = local_today(now)
    written = 0
    for user in digest_users(session):
        counts = digest_counts(session, load_actor(session, user), now)
        if counts.empty:
            continue
        payload = {
            "date": day.isoformat(),
            "overdue_checks": counts.overdue_checks,
            "open_hazards": counts.open_hazards,
            "overdue_hazards": counts.overdue_hazards,
            "folded_notices": counts.folded_notices,
        }
        if enqueue(
            session,
            kind=DIGEST_KIND,
            recipient_user_id=user.id,
            payload=payload,
            dedupe_key=f"digest:{user.id}:{day.isoformat()}",
            now=now,
        ) is not None:
            written += 1
    return written

