"""Read side of safety training: an enterprise's sessions (newest first), one session with
its attendees and history, the members a session may name (grouped by department), and the
coverage of principals and safety officers — per person, enterprise, town and district —
for the bureau (scoped through the actor) and for one enterprise's file.

SQL gathers each person's latest covering session on or before `as_of`; whether that date
still covers is domain.is_covered, the one rule."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from app.accounts.domain import ROLE_LABELS, Actor, Role
from app.accounts.models import Membership, User
from app.accounts.queries import visible_enterprises
from app.enterprises.models import Department, Enterprise, Town
from app.errors import NotFound
from app.oversight.training.domain import (
    COVERED_ROLE_LABELS,
    COVERED_ROLES,
    COVERING_KINDS,
    Coverage,
    covered_until,
    is_covered,
    total,
)
from app.oversight.training.models import TrainingAttendance, TrainingEvent, TrainingSession

NO_DEPARTMENT = "未分配部门"


# --- sessions ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionRow:
    session: TrainingSession
    attendees: int
    passed: int


def sessions_page(session: Session, enterprise_id: int, page: int, per_page: int) -> tuple[list[SessionRow], int]:
    """The enterprise's sessions, newest first (held_on, then id), with attendee counts."""
    total_rows = session.scalar(
        select(func.count()).select_from(TrainingSession).where(TrainingSession.enterprise_id == enterprise_id)
    ) or 0
    sessions = list(
        session.scalars(
            select(TrainingSession)
            .where(TrainingSession.enterprise_id == enterprise_id)
            .order_by(TrainingSession.held_on.desc(), TrainingSession.id.desc())
            .offset((page - 1) * per_page)
            .limit(per_page)
            .options(selectinload(TrainingSession.attendances))
        )
    )
    return [
        SessionRow(s, len(s.attendances), sum(1 for a in s.attendances if a.passed)) for s in sessions
    ], total_rows


def get_session(session: Session, enterprise_id: int, training_session_id: int) -> TrainingSession:
    """A session of the enterprise (the caller has checked the enterprise's scope)."""
    row = session.get(TrainingSession, training_session_id)
    if row is None or row.enterprise_id != enterprise_id:
        raise NotFound("培训记录不存在或不属于该企业。")
    return row


@dataclass(frozen=True)
class AttendeeRow:
    membership_id: int
    user_id: int
    name: str
    role: Role
    department: str
    active: bool
    passed: bool
    certificate_no: str | None

    @property
    def role_label(self) -> str:
        return ROLE_LABELS[self.role]


def attendee_rows(session: Session, training_session_id: int) -> list[AttendeeRow]:
    rows = session.execute(
        select(TrainingAttendance, Membership, User.display_name, Department.name)
        .join(Membership, Membership.id == TrainingAttendance.membership_id)
        .join(User, User.id == Membership.user_id)
        .outerjoin(Department, Department.id == Membership.department_id)
        .where(TrainingAttendance.session_id == training_session_id)
        .order_by(Department.name, User.display_name, Membership.id)
    )
    return [
        AttendeeRow(
            membership_id=m.id, user_id=m.user_id, name=name, role=m.role, department=dept or NO_DEPARTMENT,
            active=m.active, passed=a.passed, certificate_no=a.certificate_no,
        )
        for a, m, name, dept in rows
    ]


def session_events(session: Session, training_session_id: int) -> list[tuple[TrainingEvent, str | None]]:
    return list(
        session.execute(
            select(TrainingEvent, User.display_name)
            .outerjoin(User, User.id == TrainingEvent.actor_id)
            .where(TrainingEvent.session_id == training_session_id)
            .order_by(TrainingEvent.id)
        ).all()
    )


@dataclass(frozen=True)
class Candidate:
    membership_id: int
    name: str
    roles: str


@dataclass(frozen=True)
class DepartmentGroup:
    name: str
    members: list[Candidate]


def candidates(session: Session, enterprise_id: int) -> list[DepartmentGroup]:
    """The enterprise's current members a session may name, one line per person (their
    first active membership; all their roles shown), grouped by department."""
    rows = session.execute(
        select(Membership.id, Membership.user_id, Membership.role, User.display_name, Department.name)
        .join(User, User.id == Membership.user_id)
        .outerjoin(Department, Department.id == Membership.department_id)
        .where(Membership.enterprise_id == enterprise_id, Membership.active.is_(True), User.is_active.is_(True))
        .order_by(Membership.id)
    )
    people: dict[int, dict] = {}
    for membership_id, user_id, role, name, dept in rows:
        person = people.setdefault(
            user_id, {"membership_id": membership_id, "name": name, "roles": [], "department": dept}
        )
        person["roles"].append(ROLE_LABELS[role])
        if person["department"] is None and dept is not None:
            person["department"] = dept
    groups: dict[str, list[Candidate]] = defaultdict(list)
    for person in people.values():
        groups[person["department"] or NO_DEPARTMENT].append(
            Candidate(person["membership_id"], person["name"], "、".join(person["roles"]))
        )
    ordered = sorted(groups, key=lambda name: (name == NO_DEPARTMENT, name))
    return [DepartmentGroup(name, sorted(groups[name], key=lambda c: c.name)) for name in ordered]


def active_memberships(session: Session, enterprise_id: int, membership_ids: list[int]) -> dict[int, Membership]:
    """Those of `membership_ids` that are current members of the enterprise (active)."""
    if not membership_ids:
        return {}
    rows = session.scalars(
        select(Membership)
        .join(User, User.id == Membership.user_id)
        .where(
            Membership.id.in_(membership_ids),
            Membership.enterprise_id == enterprise_id,
            Membership.active.is_(True),
            User.is_active.is_(True),
        )
    )
    return {m.id: m for m in rows}


def memberships_by_id(session: Session, membership_ids: list[int]) -> dict[int, Membership]:
    if not membership_ids:
        return {}
    return {m.id: m for m in session.scalars(select(Membership).where(Membership.id.in_(membership_ids)))}


# --- coverage ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    """A principal or safety officer of an enterprise and their latest covering session."""

    enterprise_id: int
    user_id: int
    name: str
    roles: tuple[Role, ...]
    last_trained_on: date | None
    covered: bool

    @property
    def role_label(self) -> str:
        return "、".join(COVERED_ROLE_LABELS[r] for r in self.roles)

    @property
    def covered_until(self) -> date | None:
        return covered_until(self.last_trained_on) if self.last_trained_on else None


@dataclass
class EnterpriseCoverage:
    enterprise_id: int
    name: str
    town_id: int
    town_name: str
    people: list[Person] = field(default_factory=list)

    @property
    def coverage(self) -> Coverage:
        return Coverage(people=len(self.people), covered=sum(1 for p in self.people if p.covered))

    @property
    def uncovered_people(self) -> list[Person]:
        return [p for p in self.people if not p.covered]


@dataclass(frozen=True)
class TownCoverage:
    town_id: int
    name: str
    coverage: Coverage
    enterprises: int  # enterprises in scope
    with_people: int  # of which have a principal or safety officer registered
    fully_covered: int

    @property
    def without_people(self) -> int:
        return self.enterprises - self.with_people


@dataclass(frozen=True)
class CoverageReport:
    as_of: date
    district: Coverage
    towns: list[TownCoverage]
    enterprises: list[EnterpriseCoverage]  # uncovered people first

    @property
    def enterprises_without_people(self) -> int:
        return sum(t.without_people for t in self.towns)


def _last_covering_session(as_of: date):
    """Per (enterprise, user): the latest covering session they attended and passed, held on
    or before `as_of`."""
    return (
        select(
            Membership.enterprise_id.label("enterprise_id"),
            Membership.user_id.label("user_id"),
            func.max(TrainingSession.held_on).label("last_trained_on"),
        )
        .join(TrainingAttendance, TrainingAttendance.membership_id == Membership.id)
        .join(TrainingSession, TrainingSession.id == TrainingAttendance.session_id)
        .where(
            TrainingAttendance.passed.is_(True),
            TrainingSession.kind.in_(sorted(COVERING_KINDS)),
            TrainingSession.held_on <= as_of,
            TrainingSession.enterprise_id == Membership.enterprise_id,
        )
        .group_by(Membership.enterprise_id, Membership.user_id)
        .subquery()
    )


def people(session: Session, enterprise_ids, as_of: date) -> list[Person]:
    """The active principals and safety officers of the enterprises `enterprise_ids` (a list
    or a SELECT of ids), one per person and enterprise, with their coverage on `as_of`."""
    last = _last_covering_session(as_of)
    rows = session.execute(
        select(Membership.enterprise_id, Membership.user_id, User.display_name, Membership.role, last.c.last_trained_on)
        .join(User, User.id == Membership.user_id)
        .outerjoin(last, (last.c.enterprise_id == Membership.enterprise_id) & (last.c.user_id == Membership.user_id))
        .where(
            Membership.enterprise_id.in_(enterprise_ids),
            Membership.active.is_(True),
            User.is_active.is_(True),
            Membership.role.in_(COVERED_ROLES),
        )
        .order_by(Membership.enterprise_id, Membership.role, User.display_name, Membership.user_id)
    )
    found: dict[tuple[int, int], dict] = {}
    for enterprise_id, user_id, name, role, last_trained_on in rows:
        person = found.setdefault(
            (enterprise_id, user_id), {"name": name, "roles": [], "last": last_trained_on}
        )
        person["roles"].append(role)
    return [
        Person(
            enterprise_id=eid, user_id=uid, name=p["name"], roles=tuple(sorted(set(p["roles"]), key=COVERED_ROLES.index)),
            last_trained_on=p["last"], covered=is_covered(p["last"], as_of),
        )
        for (eid, uid), p in found.items()
    ]


def coverage_report(session: Session, actor: Actor, as_of: date) -> CoverageReport:
    """The coverage of every enterprise the actor may see, per town and district-wide; the
    enterprises with someone uncovered first (most uncovered first), then by town and name."""
    scope = visible_enterprises(actor).with_only_columns(Enterprise.id)
    enterprises = {
        e.id: EnterpriseCoverage(e.id, e.name, e.town_id, town_name)
        for e, town_name in session.execute(
            select(Enterprise, Town.name)
            .join(Town, Town.id == Enterprise.town_id)
            .where(Enterprise.id.in_(scope))
        )
    }
    for person in people(session, scope, as_of):
        enterprise = enterprises.get(person.enterprise_id)
        if enterprise is not None:
            enterprise.people.append(person)
    by_town: dict[int, list[EnterpriseCoverage]] = defaultdict(list)
    for enterprise in enterprises.values():
        by_town[enterprise.town_id].append(enterprise)
    towns = []
    for town in session.scalars(select(Town).where(Town.id.in_(list(by_town))).order_by(Town.code, Town.id)):
        members = by_town[town.id]
        with_people = [e for e in members if e.people]
        towns.append(
            TownCoverage(
                town_id=town.id,
                name=town.name,
                coverage=total(e.coverage for e in members),
                enterprises=len(members),
                with_people=len(with_people),
                fully_covered=sum(1 for e in with_people if not e.uncovered_people),
            )
        )
    listed = sorted(
        (e for e in enterprises.values() if e.people),
        key=lambda e: (-len(e.uncovered_people), e.town_name, e.name, e.enterprise_id),
    )
    return CoverageReport(as_of=as_of, district=total(t.coverage for t in towns), towns=towns, enterprises=listed)


def enterprise_coverage(session: Session, enterprise_id: int, as_of: date) -> list[Person]:
    """The principals and safety officers of one enterprise with their coverage on `as_of`."""
    return people(session, [enterprise_id], as_of)


def recent_sessions(session: Session, enterprise_id: int, limit: int) -> list[SessionRow]:
    rows, _total = sessions_page(session, enterprise_id, 1, limit)
    return rows


DOSSIER_SESSIONS = 5


@dataclass(frozen=True)
class DossierTraining:
    """The 培训 section of the 一企一档: the last sessions and the coverage of the
    enterprise's principals and safety officers today."""

    as_of: date
    sessions: list[SessionRow]
    total_sessions: int
    people: list[Person]

    @property
    def coverage(self) -> Coverage:
        return Coverage(people=len(self.people), covered=sum(1 for p in self.people if p.covered))


def dossier_training(session: Session, enterprise_id: int, as_of: date) -> DossierTraining:
    rows, total_rows = sessions_page(session, enterprise_id, 1, DOSSIER_SESSIONS)
    return DossierTraining(as_of, rows, total_rows, enterprise_coverage(session, enterprise_id, as_of))
