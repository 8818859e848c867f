"""Read side of enforcement inspections: the records an actor may see (the bureau in scope,
an enterprise's principal, safety officer and admin its signed ones), the list with the
five 见 of each, one record with its problems and their hazards, its history."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Select, and_, or_, select, true
from sqlalchemy.orm import Session

from app.accounts.domain import Actor
from app.accounts.models import User
from app.database import count_rows, one_page
from app.enterprises.models import Department, Enterprise, Site, Town
from app.errors import NotFound
from app.hazard_reporting.hazards.domain import HazardLevel, HazardStatus
from app.hazard_reporting.hazards.models import Hazard
from app.oversight.enforcement.domain import (
    ENTERPRISE_READERS,
    STATUS_LABELS,
    InspectionStatus,
    RecordFacts,
    Seen,
    five_seen,
    may_read,
)
from app.oversight.enforcement.models import Inspection, InspectionEvent, InspectionProblem

HIDDEN = "执法检查记录不存在或您无权查看。"


def visible_inspections(actor: Actor) -> Select[tuple[Inspection]]:
    """SELECT of the records `actor` may see: the bureau admin all; bureau staff those of
    their towns' enterprises; an enterprise's readers the signed ones of their enterprise."""
    query = select(Inspection).join(Enterprise, Enterprise.id == Inspection.enterprise_id)
    if actor.enterprise_scope().all:
        return query.where(true())
    conditions = []
    if actor.is_bureau and actor.bureau_town_ids:
        conditions.append(Enterprise.town_id.in_(sorted(actor.bureau_town_ids)))
    own = sorted(eid for eid, roles in actor.roles.items() if roles & ENTERPRISE_READERS)
    if own:
        conditions.append(and_(Inspection.enterprise_id.in_(own), Inspection.status != InspectionStatus.DRAFT))
    return query.where(or_(*conditions)) if conditions else query.where(Inspection.id.is_(None))


def get_inspection(session: Session, actor: Actor, inspection_id: int, *, for_update: bool = False) -> Inspection:
    """One record `actor` may read (locked for this transaction when `for_update`). Raises
    NotFound otherwise (no existence leak)."""
    inspection = session.get(Inspection, inspection_id, with_for_update=for_update or None, populate_existing=for_update)
    if inspection is None:
        raise NotFound(HIDDEN)
    enterprise = session.get(Enterprise, inspection.enterprise_id)
    if enterprise is None or not may_read(actor, enterprise.ref, inspection.status):
        raise NotFound(HIDDEN)
    return inspection


def facts_of(inspection: Inspection, statuses: Iterable[HazardStatus]) -> RecordFacts:
    return RecordFacts(
        status=inspection.status,
        problems=len(inspection.problems),
        no_problems=inspection.no_problems,
        penalty_kind=inspection.penalty_kind,
        penalty_content=inspection.penalty_content or "",
        penalty_number=inspection.penalty_number or "",
        penalty_deadline=inspection.penalty_deadline,
        signed=inspection.signed,
        hazard_statuses=tuple(statuses),
    )


def hazard_statuses(session: Session, inspection: Inspection) -> list[HazardStatus]:
    """The current status of each hazard the record's problems became."""
    ids = [p.hazard_id for p in inspection.problems if p.hazard_id is not None]
    if not ids:
        return []
    return list(session.scalars(select(Hazard.status).where(Hazard.id.in_(ids))))


# --- the list --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InspectionFilter:
    status: InspectionStatus | None = None
    town_id: int | None = None
    enterprise_id: int | None = None


@dataclass(frozen=True)
class ListRow:
    inspection: Inspection
    enterprise_name: str
    town_name: str
    seen: list[Seen]

    @property
    def seen_done(self) -> int:
        return sum(1 for s in self.seen if s.done)

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.inspection.status]


def _statuses_by_inspection(session: Session, inspection_ids: list[int]) -> dict[int, list[HazardStatus]]:
    result: dict[int, list[HazardStatus]] = {i: [] for i in inspection_ids}
    if not inspection_ids:
        return result
    rows = session.execute(
        select(InspectionProblem.inspection_id, Hazard.status)
        .join(Hazard, Hazard.id == InspectionProblem.hazard_id)
        .where(InspectionProblem.inspection_id.in_(inspection_ids))
    )
    for inspection_id, status in rows:
        result[inspection_id].append(HazardStatus(status))
    return result


def list_inspections(
    session: Session, actor: Actor, flt: InspectionFilter, page: int = 1, per_page: int = 50
) -> tuple[list[ListRow], int]:
    """One page of the records `actor` may see, newest inspection first, with the five 见
    of each, and how many there are."""
    query = visible_inspections(actor)
    if flt.status is not None:
        query = query.where(Inspection.status == flt.status)
    if flt.town_id is not None:
        query = query.where(Enterprise.town_id == flt.town_id)
    if flt.enterprise_id is not None:
        query = query.where(Inspection.enterprise_id == flt.enterprise_id)
    total = count_rows(session, query)
    items = list(
        session.scalars(one_page(query.order_by(Inspection.inspected_on.desc(), Inspection.id.desc()), page, per_page))
    )
    names = dict(
        session.execute(
            select(Enterprise.id, Enterprise.name).where(Enterprise.id.in_({i.enterprise_id for i in items}))
        ).all()
    )
    towns = dict(
        session.execute(
            select(Enterprise.id, Town.name)
            .join(Town, Town.id == Enterprise.town_id)
            .where(Enterprise.id.in_({i.enterprise_id for i in items}))
        ).all()
    )
    statuses = _statuses_by_inspection(session, [i.id for i in items])
    rows = [
        ListRow(
            inspection=i,
            enterprise_name=names.get(i.enterprise_id, ""),
            town_name=towns.get(i.enterprise_id, ""),
            seen=five_seen(facts_of(i, statuses[i.id])),
        )
        for i in items
    ]
    return rows, total


# --- one record ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProblemRow:
    id: int
    number: int
    text: str
    level: HazardLevel
    category: str
    deadline: date
    site_name: str
    department_name: str
    hazard_id: int | None
    hazard_status: HazardStatus | None


def problem_rows(session: Session, inspection: Inspection) -> list[ProblemRow]:
    """The record's problems in order, with their place and, once signed, their hazard's
    current status."""
    hazard_ids = [p.hazard_id for p in inspection.problems if p.hazard_id is not None]
    statuses = (
        dict(session.execute(select(Hazard.id, Hazard.status).where(Hazard.id.in_(hazard_ids))).all())
        if hazard_ids
        else {}
    )
    site_ids = {p.site_id for p in inspection.problems if p.site_id}
    department_ids = {p.department_id for p in inspection.problems if p.department_id}
    sites = dict(session.execute(select(Site.id, Site.name).where(Site.id.in_(site_ids))).all()) if site_ids else {}
    departments = (
        dict(session.execute(select(Department.id, Department.name).where(Department.id.in_(department_ids))).all())
        if department_ids
        else {}
    )
    return [
        ProblemRow(
            id=p.id,
            number=n,
            text=p.text,
            level=p.level,
            category=p.category.value,
            deadline=p.deadline,
            site_name=sites.get(p.site_id, "") if p.site_id else "",
            department_name=departments.get(p.department_id, "") if p.department_id else "",
            hazard_id=p.hazard_id,
            hazard_status=HazardStatus(statuses[p.hazard_id]) if p.hazard_id in statuses else None,
        )
        for n, p in enumerate(inspection.problems, start=1)
    ]


@dataclass(frozen=True)
class RecordView:
    inspection: Inspection
    enterprise: Enterprise
    problems: list[ProblemRow]
    seen: list[Seen]
    created_by_name: str
    reinspected_by_name: str


def record_view(session: Session, actor: Actor, inspection_id: int) -> RecordView:
    """One record as its page shows it. Raises NotFound."""
    inspection = get_inspection(session, actor, inspection_id)
    enterprise = session.get(Enterprise, inspection.enterprise_id)
    problems = problem_rows(session, inspection)
    statuses = [p.hazard_status for p in problems if p.hazard_status is not None]
    names = dict(
        session.execute(
            select(User.id, User.display_name).where(
                User.id.in_({inspection.created_by_id, inspection.reinspected_by_id or inspection.created_by_id})
            )
        ).all()
    )
    return RecordView(
        inspection=inspection,
        enterprise=enterprise,
        problems=problems,
        seen=five_seen(facts_of(inspection, statuses)),
        created_by_name=names.get(inspection.created_by_id, ""),
        reinspected_by_name=names.get(inspection.reinspected_by_id, "") if inspection.reinspected_by_id else "",
    )


@dataclass(frozen=True)
class EventRow:
    at: datetime
    action: str
    actor_name: str
    note: str | None


def events(session: Session, inspection_id: int) -> list[EventRow]:
    """A record's history, oldest first, with who did it."""
    rows = session.execute(
        select(InspectionEvent, User.display_name)
        .outerjoin(User, User.id == InspectionEvent.actor_id)
        .where(InspectionEvent.inspection_id == inspection_id)
        .order_by(InspectionEvent.id)
    )
    return [EventRow(at=e.at, action=e.action, actor_name=name or "系统", note=e.note) for e, name in rows]


def of_enterprise(session: Session, actor: Actor, enterprise_id: int, limit: int = 50) -> list[ListRow]:
    """The records of one enterprise `actor` may see (the 一企一档 section), newest first."""
    rows, _total = list_inspections(session, actor, InspectionFilter(enterprise_id=enterprise_id), 1, limit)
    return rows


def units_of(session: Session, enterprise_id: int) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """(sites, departments) of an enterprise as (id, name), for the problem form."""
    sites = session.execute(
        select(Site.id, Site.name).where(Site.enterprise_id == enterprise_id, Site.active.is_(True)).order_by(Site.name)
    ).all()
    departments = session.execute(
        select(Department.id, Department.name).where(Department.enterprise_id == enterprise_id).order_by(Department.name)
    ).all()
    return [(r.id, r.name) for r in sites], [(r.id, r.name) for r in departments]
