"""Read side of the risk register: the console's list, a risk point's page, the history, the
four-colour map, the API's risk points, a post's part of the 岗位风险告知卡. Callers scope
the enterprise first (enterprises.service.get_enterprise / risks.service.get_point)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from app.accounts.models import Membership, User
from app.database import count_rows, one_page
from app.enterprises.models import Department, Post, Site, Team
from app.hazard_reporting.hazards.domain import OPEN_STATUSES
from app.hazard_reporting.hazards.models import Hazard
from app.hazard_reporting.risks.domain import (
    CONTROL_KIND_LABELS,
    CONTROL_LEVEL_LABELS,
    GRADE_COLOUR,
    GRADE_ORDER,
    RISK_GRADE_LABELS,
    RISK_POINT_KIND_LABELS,
    ControlLevel,
    RiskGrade,
    worst_grade,
)
from app.hazard_reporting.risks.models import (
    RiskControl,
    RiskPoint,
    RiskRegister,
    RiskRegisterEvent,
    RiskSource,
)
from app.hazard_reporting.schedules.domain import RiskLevel
from app.hazard_reporting.schedules.models import SiteRiskProfile

NO_AREA = "未划分区域"


@dataclass(frozen=True)
class PointRow:
    point: RiskPoint
    sources: list[RiskSource]  # active
    grade: RiskGrade | None
    control_count: int
    site_name: str | None

    @property
    def colour(self) -> RiskLevel | None:
        return GRADE_COLOUR[self.grade] if self.grade else None


@dataclass(frozen=True)
class AreaGroup:
    area: str
    rows: list[PointRow]


@dataclass
class Overview:
    version: int
    areas: list[AreaGroup]
    retired: list[RiskPoint]
    grade_counts: dict[RiskGrade, int]  # active sources per grade
    major_factor_count: int

    @property
    def empty(self) -> bool:
        return not self.areas and not self.retired


def register_version(session: Session, enterprise_id: int) -> int:
    register = session.get(RiskRegister, enterprise_id)
    return register.version if register else 0


def _points(session: Session, enterprise_id: int) -> list[RiskPoint]:
    return list(
        session.scalars(
            select(RiskPoint)
            .where(RiskPoint.enterprise_id == enterprise_id)
            .options(selectinload(RiskPoint.sources).selectinload(RiskSource.controls))
            .order_by(RiskPoint.area, RiskPoint.name, RiskPoint.id)
        )
    )


def overview(session: Session, enterprise_id: int) -> Overview:
    """The register's risk points in use grouped by area (worst first inside an area), the
    retired ones apart, and the counts of active sources per grade."""
    sites = {s.id: s.name for s in session.scalars(select(Site).where(Site.enterprise_id == enterprise_id))}
    groups: dict[str, list[PointRow]] = {}
    retired: list[RiskPoint] = []
    counts: Counter[RiskGrade] = Counter()
    major = 0
    for point in _points(session, enterprise_id):
        if not point.active:
            retired.append(point)
            continue
        sources = [s for s in point.sources if s.active]
        counts.update(s.grade for s in sources)
        major += sum(1 for s in sources if s.is_major_factor)
        row = PointRow(
            point,
            sources,
            worst_grade(s.grade for s in sources),
            sum(1 for s in sources for c in s.controls if c.active),
            sites.get(point.site_id) if point.site_id else None,
        )
        groups.setdefault(point.area or NO_AREA, []).append(row)
    rank = {grade: i for i, grade in enumerate(GRADE_ORDER)}
    areas = [
        AreaGroup(area, sorted(rows, key=lambda r: (rank.get(r.grade, 9), r.point.name)))
        for area, rows in sorted(groups.items(), key=lambda item: (item[0] == NO_AREA, item[0]))
    ]
    return Overview(
        register_version(session, enterprise_id), areas, retired, {g: counts[g] for g in GRADE_ORDER}, major
    )


@dataclass(frozen=True)
class Units:
    """The enterprise's units, for the control form's choices and the labels of a control."""

    departments: dict[int, str]
    teams: dict[int, tuple[str, int]]  # id → (name, department id)
    posts: dict[int, str]
    people: dict[int, str]

    def unit_label(self, control: RiskControl) -> str:
        parts = []
        if control.department_id in self.departments:
            parts.append(self.departments[control.department_id])
        if control.team_id in self.teams:
            parts.append(self.teams[control.team_id][0])
        if control.post_id in self.posts:
            parts.append(f"岗位：{self.posts[control.post_id]}")
        if control.responsible_user_id in self.people:
            parts.append(f"责任人：{self.people[control.responsible_user_id]}")
        return " · ".join(parts) or "本企业"


def units_of(session: Session, enterprise_id: int) -> Units:
    departments = {
        d.id: d.name
        for d in session.scalars(select(Department).where(Department.enterprise_id == enterprise_id).order_by(Department.id))
    }
    teams = {
        t.id: (f"{departments.get(t.department_id, '')}/{t.name}", t.department_id)
        for t in session.scalars(
            select(Team).where(Team.department_id.in_(list(departments) or [0])).order_by(Team.department_id, Team.id)
        )
    }
    posts = {
        p.id: p.name for p in session.scalars(select(Post).where(Post.enterprise_id == enterprise_id).order_by(Post.id))
    }
    people = {
        user_id: name
        for user_id, name in session.execute(
            select(User.id, User.display_name)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.enterprise_id == enterprise_id, Membership.active.is_(True))
            .order_by(User.display_name)
        )
    }
    return Units(departments, teams, posts, people)


@dataclass
class PointDetail:
    point: RiskPoint
    site: Site | None
    sources: list[RiskSource]  # all, active first
    open_hazards: list[Hazard]
    grade: RiskGrade | None
    units: Units
    events: list[RiskRegisterEvent] = field(default_factory=list)

    @property
    def colour(self) -> RiskLevel | None:
        return GRADE_COLOUR[self.grade] if self.grade else None


def point_detail(session: Session, point: RiskPoint) -> PointDetail:
    sources = sorted(point.sources, key=lambda s: (not s.active, s.position, s.id))
    control_ids = [c.id for s in point.sources for c in s.controls]
    hazards = list(
        session.scalars(
            select(Hazard)
            .where(Hazard.risk_control_id.in_(control_ids or [0]), Hazard.status.in_(list(OPEN_STATUSES)))
            .order_by(Hazard.id.desc())
        )
    )
    events = [
        e
        for e in session.scalars(
            select(RiskRegisterEvent)
            .where(RiskRegisterEvent.enterprise_id == point.enterprise_id)
            .order_by(RiskRegisterEvent.version.desc())
            .limit(500)
        )
        if (e.data or {}).get("point_id") == point.id
        or (e.data or {}).get("source_id") in {s.id for s in point.sources}
        or (e.data or {}).get("control_id") in set(control_ids)
    ]
    return PointDetail(
        point,
        session.get(Site, point.site_id) if point.site_id else None,
        sources,
        hazards,
        worst_grade(s.grade for s in point.sources if s.active),
        units_of(session, point.enterprise_id),
        events[:50],
    )


def history(session: Session, enterprise_id: int, *, limit: int = 100) -> list[tuple[RiskRegisterEvent, str]]:
    """The register's events, newest first, each with who made it."""
    return [
        (event, name or "系统")
        for event, name in session.execute(
            select(RiskRegisterEvent, User.display_name)
            .outerjoin(User, User.id == RiskRegisterEvent.actor_id)
            .where(RiskRegisterEvent.enterprise_id == enterprise_id)
            .order_by(RiskRegisterEvent.version.desc())
            .limit(limit)
        )
    ]


# --- the four-colour map ------------------------------------------------------------------------


@dataclass(frozen=True)
class MapSite:
    site: Site
    level: RiskLevel | None
    by_register: bool
    points: list[str]


@dataclass(frozen=True)
class RiskMap:
    areas: list[tuple[str, list[MapSite]]]
    counts: dict[RiskLevel | None, int]
    unplaced: list[PointRow]  # risk points in use without a site


def risk_map(session: Session, enterprise_id: int) -> RiskMap:
    """The enterprise's sites in use grouped by area, each coloured by its profile (the
    register's colour where it has risk points), with the names of its risk points."""
    sites = list(
        session.scalars(select(Site).where(Site.enterprise_id == enterprise_id, Site.active.is_(True)).order_by(Site.area, Site.name))
    )
    profiles = {
        p.site_id: p
        for p in session.scalars(select(SiteRiskProfile).where(SiteRiskProfile.site_id.in_([s.id for s in sites] or [0])))
    }
    points_at: dict[int, list[str]] = {}
    unplaced: list[PointRow] = []
    for group in overview(session, enterprise_id).areas:
        for row in group.rows:
            if row.point.site_id is None:
                unplaced.append(row)
            else:
                points_at.setdefault(row.point.site_id, []).append(row.point.name)
    areas: dict[str, list[MapSite]] = {}
    counts: Counter[RiskLevel | None] = Counter()
    for site in sites:
        profile = profiles.get(site.id)
        level = RiskLevel(profile.risk_level) if profile else None
        counts[level] += 1
        areas.setdefault(site.area or NO_AREA, []).append(
            MapSite(site, level, site.id in points_at, points_at.get(site.id, []))
        )
    ordered = sorted(areas.items(), key=lambda item: (item[0] == NO_AREA, item[0]))
    return RiskMap(ordered, {lv: counts[lv] for lv in (*RiskLevel, None)}, unplaced)


def register_site_ids(session: Session, enterprise_id: int) -> set[int]:
    """Sites whose level the register sets (an active risk point is at them)."""
    return set(
        session.scalars(
            select(RiskPoint.site_id).where(
                RiskPoint.enterprise_id == enterprise_id, RiskPoint.active.is_(True), RiskPoint.site_id.is_not(None)
            )
        )
    )


# --- API ------------------------------------------------------------------------------------------


def api_points(session: Session, enterprise_id: int, *, page: int, per_page: int) -> tuple[list[dict], int]:
    """The risk points in use (CONTRACT: id, site_id, name, level, sources with controls)."""
    base = select(RiskPoint).where(RiskPoint.enterprise_id == enterprise_id, RiskPoint.active.is_(True))
    total = count_rows(session, base)
    points = session.scalars(
        one_page(
            base.options(selectinload(RiskPoint.sources).selectinload(RiskSource.controls)).order_by(RiskPoint.id),
            page,
            per_page,
        )
    ).all()
    items = []
    for point in points:
        sources = [s for s in point.sources if s.active]
        grade = worst_grade(s.grade for s in sources)
        items.append(
            {
                "id": point.id,
                "site_id": point.site_id,
                "name": point.name,
                "kind": point.kind.value,
                "area": point.area,
                "level": GRADE_COLOUR[grade].value if grade else None,
                "sources": [
                    {
                        "id": s.id,
                        "name": s.name,
                        "is_major_factor": s.is_major_factor,
                        "accident_types": list(s.accident_types or []),
                        "likelihood": float(s.likelihood),
                        "exposure": float(s.exposure),
                        "consequence": float(s.consequence),
                        "score": float(s.score),
                        "grade": s.grade.value,
                        "level": GRADE_COLOUR[s.grade].value,
                        "controls": [
                            {
                                "id": c.id,
                                "text": c.text,
                                "kind": c.kind.value,
                                "control_level": c.control_level.value,
                                "team_id": c.team_id,
                                "department_id": c.department_id,
                                "post_id": c.post_id,
                                "responsible_user_id": c.responsible_user_id,
                            }
                            for c in s.controls
                            if c.active
                        ],
                    }
                    for s in sources
                ],
            }
        )
    return items, total


# --- the post's risk card -----------------------------------------------------------------------


@dataclass(frozen=True)
class PostRisk:
    point_name: str
    source: RiskSource
    controls: list[RiskControl]


def post_risks(session: Session, post_id: int) -> list[PostRisk]:
    """The register's active sources with post-level controls for this post (岗位风险告知卡)."""
    controls = session.scalars(
        select(RiskControl)
        .join(RiskSource, RiskSource.id == RiskControl.source_id)
        .join(RiskPoint, RiskPoint.id == RiskSource.risk_point_id)
        .where(
            RiskControl.post_id == post_id,
            RiskControl.control_level == ControlLevel.POST,
            RiskControl.active.is_(True),
            RiskSource.active.is_(True),
            RiskPoint.active.is_(True),
        )
        .order_by(RiskPoint.name, RiskSource.position, RiskControl.position, RiskControl.id)
    ).all()
    by_source: dict[int, PostRisk] = {}
    for control in controls:
        source = control.source
        entry = by_source.setdefault(source.id, PostRisk(source.risk_point.name, source, []))
        entry.controls.append(control)
    return list(by_source.values())


# --- the export (the import's template) ---------------------------------------------------------


def export_rows(session: Session, enterprise_id: int) -> list[list[object]]:
    """The register in use, one row per control (workbook.COLUMNS + COMPUTED)."""
    units = units_of(session, enterprise_id)
    sites = {s.id: s.name for s in session.scalars(select(Site).where(Site.enterprise_id == enterprise_id))}
    rows: list[list[object]] = []
    for point in _points(session, enterprise_id):
        if not point.active:
            continue
        head = [point.name, RISK_POINT_KIND_LABELS[point.kind], point.area, sites.get(point.site_id, "") if point.site_id else ""]
        sources = [s for s in point.sources if s.active]
        if not sources:
            rows.append(head + [""] * 14)
            continue
        for source in sources:
            assessed = [
                source.name,
                "是" if source.is_major_factor else "否",
                "、".join(source.accident_types or []),
                _number(source.likelihood),
                _number(source.exposure),
                _number(source.consequence),
            ]
            computed = [_number(source.score), RISK_GRADE_LABELS[source.grade]]
            controls = [c for c in source.controls if c.active]
            if not controls:
                rows.append(head + assessed + [""] * 6 + computed)
            for control in controls:
                team = units.teams.get(control.team_id) if control.team_id else None
                rows.append(
                    head
                    + assessed
                    + [
                        control.text,
                        CONTROL_KIND_LABELS[control.kind],
                        CONTROL_LEVEL_LABELS[control.control_level],
                        units.departments.get(control.department_id, "") if control.department_id else "",
                        team[0].split("/", 1)[-1] if team else "",
                        units.posts.get(control.post_id, "") if control.post_id else "",
                    ]
                    + computed
                )
    return rows


def _number(value) -> object:
    number = float(value)
    return int(number) if number.is_integer() else number


# --- the bureau's view ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceLine:
    point: str
    source: str
    grade: RiskGrade
    score: object
    site_name: str | None
    is_major_factor: bool


@dataclass(frozen=True)
class RegisterSummary:
    """风险分级管控 in the dossier: counts by grade, the 重大/较大 risks listed."""

    version: int
    points: int
    grade_counts: dict[RiskGrade, int]
    serious: list[SourceLine]

    @property
    def empty(self) -> bool:
        return self.points == 0


def register_summary(session: Session, enterprise_id: int) -> RegisterSummary:
    sites = {s.id: s.name for s in session.scalars(select(Site).where(Site.enterprise_id == enterprise_id))}
    view = overview(session, enterprise_id)
    serious = [
        SourceLine(row.point.name, s.name, s.grade, s.score, sites.get(row.point.site_id), s.is_major_factor)
        for group in view.areas
        for row in group.rows
        for s in row.sources
        if s.grade in (RiskGrade.MAJOR, RiskGrade.LARGE)
    ]
    serious.sort(key=lambda line: (GRADE_ORDER.index(line.grade), -float(line.score)))
    return RegisterSummary(view.version, sum(len(g.rows) for g in view.areas), view.grade_counts, serious)


@dataclass(frozen=True)
class EnterpriseRisks:
    major: int = 0  # active 重大风险 sources
    large: int = 0  # active 较大风险 sources
    points: int = 0  # risk points in use (0: no register)


def district_risks(session: Session, enterprise_ids: list[int]) -> dict[int, EnterpriseRisks]:
    """Per enterprise: its 重大 and 较大 risks in use and its risk points in use (two grouped
    queries; an enterprise without a register is absent)."""
    ids = enterprise_ids or [0]
    points = dict(
        session.execute(
            select(RiskPoint.enterprise_id, func.count(RiskPoint.id))
            .where(RiskPoint.enterprise_id.in_(ids), RiskPoint.active.is_(True))
            .group_by(RiskPoint.enterprise_id)
        ).all()
    )
    grades: dict[int, Counter[RiskGrade]] = {}
    for enterprise_id, grade, n in session.execute(
        select(RiskPoint.enterprise_id, RiskSource.grade, func.count(RiskSource.id))
        .join(RiskSource, RiskSource.risk_point_id == RiskPoint.id)
        .where(RiskPoint.enterprise_id.in_(ids), RiskPoint.active.is_(True), RiskSource.active.is_(True))
        .group_by(RiskPoint.enterprise_id, RiskSource.grade)
    ):
        grades.setdefault(enterprise_id, Counter())[RiskGrade(grade)] += n
    return {
        eid: EnterpriseRisks(
            grades.get(eid, Counter())[RiskGrade.MAJOR], grades.get(eid, Counter())[RiskGrade.LARGE], n
        )
        for eid, n in points.items()
    }
