"""Read side of the bureau's figures: per town and for the towns in the actor's scope (the
district for the bureau admin), for one month. The console page, its Excel export and the
API all read `dashboard()` (or its parts), so their numbers cannot differ.

Where each figure comes from:
- standardization: the enterprises themselves, judged in Python by domain.certificate_standing
  (app/enterprises/domain.py's rule) on the month's last day, or today while it runs;
- check completion and hazards found / rectified: the rollup tables (service.py);
- hazards overdue and majors open: the hazards now (hazards.queries.overdue_clause);
- not checked this week: no check submission in the current ISO week.
"""

from __future__ import annotations

import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import ColumnElement, Select, and_, case, exists, func, literal, or_, select
from sqlalchemy.orm import Session

from app.accounts.domain import Action, Actor, require
from app.clock import local_today
from app.enterprises.domain import (
    Scale,
    StandardizationLevel,
    StandardizationScore,
    standardization_expires_on,
)
from app.enterprises.models import Enterprise, Town
from app.errors import NotFound
from app.hazard_reporting.checks.domain import CheckLevel
from app.hazard_reporting.checks.models import CheckSubmission
from app.hazard_reporting.hazards.domain import OPEN_STATUSES, HazardLevel
from app.hazard_reporting.hazards.models import Hazard
from app.hazard_reporting.hazards.queries import overdue_clause
from app.hazard_reporting.risks.queries import EnterpriseRisks, district_risks
from app.oversight.stats.domain import (
    CHECK_FIGURES,
    CertificateStanding,
    CheckCompletion,
    Completion,
    Figure,
    HazardCounts,
    Month,
    certificate_standing,
    counts_as_standardized,
    current_week,
    judgement_day,
    percent_value,
    standing_bounds,
    trend_months,
    week_bounds,
)
from app.oversight.stats.models import (
    CheckMonthRollup,
    HazardMonthRollup,
    RollupRefresh,
    TownCheckMonthRollup,
    TownHazardMonthRollup,
)
from app.spreadsheets import excel_safe

PAGE_SIZE = 50
TOWN_NOT_FOUND = "镇街不存在或不在您的辖区内。"
LEVELS = tuple(CheckLevel)


# --- scope -------------------------------------------------------------------------------


def stats_towns(session: Session, actor: Actor) -> list[Town]:
    """The towns whose figures `actor` may see: every town for the bureau admin, the towns
    a bureau staff member is bound to. Raises PermissionDenied for anyone else."""
    require(actor, Action.VIEW_DISTRICT_STATS)
    query = select(Town).order_by(Town.code)
    scope = actor.enterprise_scope()
    if not scope.all:
        query = query.where(Town.id.in_(sorted(scope.town_ids)))
    return list(session.scalars(query))


def chosen_towns(session: Session, actor: Actor, town_id: int | None) -> list[Town]:
    """The towns in scope, or only `town_id` (NotFound when it is not among them)."""
    towns = stats_towns(session, actor)
    if town_id is None:
        return towns
    chosen = [t for t in towns if t.id == town_id]
    if not chosen:
        raise NotFound(TOWN_NOT_FOUND)
    return chosen


# --- the figures of one town -------------------------------------------------------------


@dataclass
class TownFigures:
    """Every figure of one town (town_id None: the total over the towns shown)."""

    town_id: int | None
    name: str
    enterprises: int = 0
    above_scale: int = 0
    standardized: int = 0
    expiring: int = 0
    lapsed: int = 0
    checks: dict[CheckLevel, CheckCompletion] = field(default_factory=lambda: {lv: CheckCompletion() for lv in LEVELS})
    hazards: HazardCounts = field(default_factory=HazardCounts)
    unchecked: int = 0

    @property
    def score(self) -> StandardizationScore:
        return StandardizationScore(self.above_scale, self.standardized)

    @property
    def not_standardized(self) -> int:
        return self.above_scale - self.standardized

    @property
    def checks_total(self) -> CheckCompletion:
        total = CheckCompletion()
        for completion in self.checks.values():
            total = total + completion
        return total

    def add(self, other: TownFigures) -> None:
        self.enterprises += other.enterprises
        self.above_scale += other.above_scale
        self.standardized += other.standardized
        self.expiring += other.expiring
        self.lapsed += other.lapsed
        self.checks = {lv: self.checks[lv] + other.checks[lv] for lv in LEVELS}
        self.hazards = self.hazards + other.hazards
        self.unchecked += other.unchecked


@dataclass(frozen=True)
class TrendPoint:
    month: Month
    checks: CheckCompletion
    hazards_found: int
    hazards_rectified: int


@dataclass
class Dashboard:
    month: Month
    day: date  # the standardization judgement day
    week_start: date
    towns: list[TownFigures]
    total: TownFigures
    trend: list[TrendPoint]
    refreshed_at: datetime | None
    district: bool  # the total covers every town (the bureau admin)


@dataclass(frozen=True)
class EnterpriseStanding:
    id: int
    name: str
    town_id: int
    scale: Scale
    level: str
    certified_on: date | None
    standing: CertificateStanding

    @property
    def expires_on(self) -> date | None:
        return standardization_expires_on(self.certified_on) if self.certified_on else None


def standing_case(day: date) -> ColumnElement[str]:
    """domain.certificate_standing in SQL, on `day` (its date bounds from
    domain.standing_bounds; tests/integration/test_oversight_stats.py keeps them equal)."""
    valid_from, expiring_until = standing_bounds(day)
    certified = Enterprise.standardization_date
    return case(
        (
            or_(
                Enterprise.standardization_level == StandardizationLevel.NONE.value,
                certified.is_(None),
                certified > day,
            ),
            CertificateStanding.NONE.value,
        ),
        (certified < valid_from, CertificateStanding.LAPSED.value),
        (certified <= expiring_until, CertificateStanding.EXPIRING.value),
        else_=CertificateStanding.VALID.value,
    )


def _standing_counts(session: Session, town_ids: list[int], day: date):
    """(town, scale, standing, enterprises) of the towns on `day`."""
    standing = standing_case(day).label("standing")
    return session.execute(
        select(Enterprise.town_id, Enterprise.scale, standing, func.count())
        .where(Enterprise.town_id.in_(town_ids))
        .group_by(Enterprise.town_id, Enterprise.scale, standing)
    ).all()


_STANDARDIZED = (CertificateStanding.VALID.value, CertificateStanding.EXPIRING.value)


def enterprise_standings(
    session: Session, town_ids: list[int], day: date, figure: Figure, page: int
) -> tuple[list[EnterpriseStanding], int]:
    """One page of the enterprises behind a standardization figure, and how many there are."""
    standing = standing_case(day)
    condition = {
        Figure.ABOVE_SCALE: Enterprise.scale == Scale.ABOVE.value,
        Figure.STANDARDIZED: and_(Enterprise.scale == Scale.ABOVE.value, standing.in_(_STANDARDIZED)),
        Figure.NOT_STANDARDIZED: and_(Enterprise.scale == Scale.ABOVE.value, standing.not_in(_STANDARDIZED)),
        Figure.EXPIRING: standing == CertificateStanding.EXPIRING.value,
        Figure.LAPSED: standing == CertificateStanding.LAPSED.value,
    }[figure]
    base = select(Enterprise).where(Enterprise.town_id.in_(town_ids), condition)
    total = session.scalar(select(func.count()).select_from(base.subquery()))
    rows = session.scalars(
        base.order_by(Enterprise.town_id, Enterprise.name, Enterprise.id).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
    )
    return [
        EnterpriseStanding(
            e.id,
            e.name,
            e.town_id,
            Scale(e.scale),
            e.standardization_level,
            e.standardization_date,
            certificate_standing(e.standardization_level, e.standardization_date, day),
        )
        for e in rows
    ], int(total)


def _check_rows(session: Session, town_ids: list[int], months: list[Month]):
    columns = [func.sum(getattr(TownCheckMonthRollup, c.value)) for c in Completion]
    return session.execute(
        select(TownCheckMonthRollup.town_id, TownCheckMonthRollup.month, TownCheckMonthRollup.level, *columns)
        .where(
            TownCheckMonthRollup.town_id.in_(town_ids),
            TownCheckMonthRollup.month.in_([m.first_day for m in months]),
        )
        .group_by(TownCheckMonthRollup.town_id, TownCheckMonthRollup.month, TownCheckMonthRollup.level)
    ).all()


def _completion(values) -> CheckCompletion:
    return CheckCompletion(**{c.value: int(v or 0) for c, v in zip(Completion, values, strict=True)})


def _hazard_rows(session: Session, town_ids: list[int], months: list[Month]):
    t = TownHazardMonthRollup
    return session.execute(
        select(t.town_id, t.month, t.general_found, t.major_found, t.general_rectified, t.major_rectified).where(
            t.town_id.in_(town_ids), t.month.in_([m.first_day for m in months])
        )
    ).all()


def _live_hazards(session: Session, town_ids: list[int], now: datetime) -> dict[int, dict[str, int]]:
    """Per town: overdue general / major hazards and open majors, now."""
    result: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    overdue = session.execute(
        select(Enterprise.town_id, Hazard.level, func.count())
        .select_from(Hazard)
        .join(Enterprise, Enterprise.id == Hazard.enterprise_id)
        .where(Enterprise.town_id.in_(town_ids), overdue_clause(now))
        .group_by(Enterprise.town_id, Hazard.level)
    )
    for town_id, level, count in overdue:
        result[town_id][f"{HazardLevel(level).value}_overdue"] = count
    majors = session.execute(
        select(Enterprise.town_id, func.count())
        .select_from(Hazard)
        .join(Enterprise, Enterprise.id == Hazard.enterprise_id)
        .where(
            Enterprise.town_id.in_(town_ids),
            Hazard.level == HazardLevel.MAJOR.value,
            Hazard.status.in_(sorted(OPEN_STATUSES)),
        )
        .group_by(Enterprise.town_id)
    )
    for town_id, count in majors:
        result[town_id]["majors_open"] = count
    return result


def checked_this_week(now: datetime):
    """SQL: the enterprise has a check submission in the current ISO week (local)."""
    start, end = week_bounds(current_week(local_today(now)))
    return exists().where(
        CheckSubmission.enterprise_id == Enterprise.id,
        CheckSubmission.submitted_at >= start,
        CheckSubmission.submitted_at < end,
    )


def _unchecked(session: Session, town_ids: list[int], now: datetime) -> dict[int, int]:
    rows = session.execute(
        select(Enterprise.town_id, func.count())
        .where(Enterprise.town_id.in_(town_ids), ~checked_this_week(now))
        .group_by(Enterprise.town_id)
    )
    return dict(rows.all())


def dashboard(session: Session, actor: Actor, month: Month, now: datetime, town_id: int | None = None) -> Dashboard:
    """Every figure of `month` per town in scope (or of one town) and their total."""
    towns = chosen_towns(session, actor, town_id)
    town_ids = [t.id for t in towns]
    today = local_today(now)
    day = judgement_day(month, today)
    figures = {t.id: TownFigures(t.id, t.name) for t in towns}
    for town, scale, standing, count in _standing_counts(session, town_ids, day):
        f = figures[town]
        standing = CertificateStanding(standing)
        f.enterprises += count
        if Scale(scale) is Scale.ABOVE:
            f.above_scale += count
            f.standardized += count if counts_as_standardized(standing) else 0
        f.expiring += count if standing is CertificateStanding.EXPIRING else 0
        f.lapsed += count if standing is CertificateStanding.LAPSED else 0
    months = trend_months(month)
    trend_checks: dict[Month, CheckCompletion] = defaultdict(CheckCompletion)
    for town, first, level, *values in _check_rows(session, town_ids, months):
        completion = _completion(values)
        trend_checks[Month.of(first)] = trend_checks[Month.of(first)] + completion
        if Month.of(first) == month:
            figures[town].checks[CheckLevel(level)] = completion
    trend_found: dict[Month, int] = defaultdict(int)
    trend_rectified: dict[Month, int] = defaultdict(int)
    for town, first, g_found, m_found, g_rect, m_rect in _hazard_rows(session, town_ids, months):
        trend_found[Month.of(first)] += int(g_found) + int(m_found)
        trend_rectified[Month.of(first)] += int(g_rect) + int(m_rect)
        if Month.of(first) == month:
            figures[town].hazards = HazardCounts(int(g_found), int(m_found), int(g_rect), int(m_rect))
    for town, live in _live_hazards(session, town_ids, now).items():
        h = figures[town].hazards
        figures[town].hazards = HazardCounts(
            h.general_found,
            h.major_found,
            h.general_rectified,
            h.major_rectified,
            live["general_overdue"],
            live["major_overdue"],
            live["majors_open"],
        )
    for town, count in _unchecked(session, town_ids, now).items():
        figures[town].unchecked = count
    total = TownFigures(None, "合计")
    for f in figures.values():
        total.add(f)
    trend = [TrendPoint(m, trend_checks[m], trend_found[m], trend_rectified[m]) for m in months]
    refreshed_at = session.scalar(select(RollupRefresh.refreshed_at).where(RollupRefresh.month == month.first_day))
    return Dashboard(
        month=month,
        day=day,
        week_start=current_week(today).start,
        towns=[figures[t.id] for t in towns],
        total=total,
        trend=trend,
        refreshed_at=refreshed_at,
        district=actor.enterprise_scope().all and town_id is None,
    )


# --- the lists behind the numbers --------------------------------------------------------


@dataclass(frozen=True)
class ListPage:
    figure: Figure
    kind: str  # "standings" | "checks" | "hazard_counts" | "hazards" | "enterprises"
    rows: list
    total_rows: int  # rows of the list (enterprises or hazards)
    total: int  # the figure itself (equals the dashboard's number)
    page: int
    pages: int


@dataclass(frozen=True)
class EnterpriseCount:
    id: int
    name: str
    town: str
    counts: dict[str, int]
    rate: object = None


@dataclass(frozen=True)
class HazardRow:
    id: int
    enterprise_id: int
    enterprise: str
    town: str
    level: str
    status: str
    description: str
    deadline: datetime | None
    created_at: datetime


def _paged(rows: list, page: int) -> tuple[list, int]:
    pages = max(1, -(-len(rows) // PAGE_SIZE))
    return rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE], pages


def figure_list(
    session: Session,
    actor: Actor,
    figure: Figure,
    month: Month,
    now: datetime,
    town_id: int | None = None,
    level: CheckLevel | None = None,
    page: int = 1,
) -> ListPage:
    """The enterprises, or hazards, behind one number of the dashboard. Its `total` is the
    number itself; the rows are paginated by PAGE_SIZE."""
    towns = chosen_towns(session, actor, town_id)
    names = {t.id: t.name for t in towns}
    town_ids = list(names)
    if figure in (Figure.ABOVE_SCALE, Figure.STANDARDIZED, Figure.NOT_STANDARDIZED, Figure.EXPIRING, Figure.LAPSED):
        day = judgement_day(month, local_today(now))
        rows, total = enterprise_standings(session, town_ids, day, figure, page)
        return ListPage(figure, "standings", rows, total, total, page, max(1, -(-total // PAGE_SIZE)))
    if figure in CHECK_FIGURES:
        return _check_list(session, figure, month, names, level, page)
    if figure in (Figure.HAZARDS_FOUND, Figure.HAZARDS_RECTIFIED):
        return _hazard_count_list(session, figure, month, names, page)
    if figure is Figure.UNCHECKED_THIS_WEEK:
        query = (
            select(Enterprise.id, Enterprise.name, Enterprise.town_id)
            .where(Enterprise.town_id.in_(town_ids), ~checked_this_week(now))
            .order_by(Enterprise.town_id, Enterprise.name, Enterprise.id)
        )
        rows = [EnterpriseCount(eid, name, names[town], {}) for eid, name, town in session.execute(query)]
        chunk, pages = _paged(rows, page)
        return ListPage(figure, "enterprises", chunk, len(rows), len(rows), page, pages)
    return _hazard_list(session, figure, now, names, page)


def _ranked(session, query, count, names, page, to_counts) -> tuple[list[EnterpriseCount], int, int]:
    """Enterprises of `query` with `count` > 0, most first, one page of them; the number of
    such enterprises and the sum of `count` over all of them."""
    sub = query.add_columns(count.label("n")).having(count > 0).subquery()
    total_rows, total = session.execute(select(func.count(), func.coalesce(func.sum(sub.c.n), 0)).select_from(sub)).one()
    page_rows = session.execute(
        select(sub).order_by(sub.c.n.desc(), sub.c.town_id, sub.c.id).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
    ).mappings()
    rows = [to_counts(row) for row in page_rows]
    return rows, int(total_rows), int(total)


def _enterprises_of(names) -> Select:
    return select(Enterprise.id, Enterprise.name, Enterprise.town_id).where(Enterprise.town_id.in_(list(names)))


def _check_list(session, figure, month, names, level, page) -> ListPage:
    completion = CHECK_FIGURES[figure]
    r = CheckMonthRollup
    sums = {c: func.sum(getattr(r, c.value)) for c in Completion}
    due = sum(sums.values(), start=literal(0))
    query = (
        _enterprises_of(names)
        .add_columns(*(expr.label(c.value) for c, expr in sums.items()))
        .join(r, r.enterprise_id == Enterprise.id)
        .where(r.month == month.first_day)
        .group_by(Enterprise.id, Enterprise.name, Enterprise.town_id)
    )
    if level is not None:
        query = query.where(r.level == level.value)

    def to_counts(row) -> EnterpriseCount:
        c = CheckCompletion(**{k.value: int(row[k.value]) for k in Completion})
        counts = {k.value: getattr(c, k.value) for k in Completion} | {"due": c.due}
        return EnterpriseCount(row["id"], row["name"], names[row["town_id"]], counts, c.on_time_rate)

    count = due if completion is None else sums[completion]
    rows, total_rows, total = _ranked(session, query, count, names, page, to_counts)
    return ListPage(figure, "checks", rows, total_rows, total, page, max(1, -(-total_rows // PAGE_SIZE)))


def _hazard_count_list(session, figure, month, names, page) -> ListPage:
    r = HazardMonthRollup
    general, major = (
        (r.general_found, r.major_found) if figure is Figure.HAZARDS_FOUND else (r.general_rectified, r.major_rectified)
    )
    query = (
        _enterprises_of(names)
        .add_columns(func.sum(general).label("general"), func.sum(major).label("major"))
        .join(r, r.enterprise_id == Enterprise.id)
        .where(r.month == month.first_day)
        .group_by(Enterprise.id, Enterprise.name, Enterprise.town_id)
    )

    def to_counts(row) -> EnterpriseCount:
        g, m = int(row["general"]), int(row["major"])
        return EnterpriseCount(row["id"], row["name"], names[row["town_id"]], {"general": g, "major": m, "total": g + m})

    rows, total_rows, total = _ranked(session, query, func.sum(general + major), names, page, to_counts)
    return ListPage(figure, "hazard_counts", rows, total_rows, total, page, max(1, -(-total_rows // PAGE_SIZE)))


def _hazard_list(session, figure, now, names, page) -> ListPage:
    condition = (
        overdue_clause(now)
        if figure is Figure.HAZARDS_OVERDUE
        else and_(Hazard.level == HazardLevel.MAJOR.value, Hazard.status.in_(sorted(OPEN_STATUSES)))
    )
    base = (
        select(Hazard, Enterprise.name, Enterprise.town_id)
        .join(Enterprise, Enterprise.id == Hazard.enterprise_id)
        .where(Enterprise.town_id.in_(list(names)), condition)
    )
    total = session.scalar(select(func.count()).select_from(base.subquery()))
    query = base.order_by(Hazard.deadline.is_(None), Hazard.deadline, Hazard.id).limit(PAGE_SIZE).offset(
        (page - 1) * PAGE_SIZE
    )
    rows = [
        HazardRow(h.id, h.enterprise_id, name, names[town], h.level, h.status, h.description, h.deadline, h.created_at)
        for h, name, town in session.execute(query)
    ]
    pages = max(1, -(-total // PAGE_SIZE))
    return ListPage(figure, "hazards", rows, total, total, page, pages)


# --- the dashboard's table as rows (the Excel export; the API reads the same figures) ----

TABLE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("town", "镇街"),
    ("enterprises", "企业数"),
    ("above_scale", "规上企业"),
    ("standardized", "规上达标（证书有效）"),
    ("rate", "达标率%"),
    ("shortfall", "距70%差距（百分点）"),
    ("deduction", "扣分"),
    ("expiring", "证书90天内到期"),
    ("lapsed", "证书已过期"),
    *((f"{lv.value}_rate", f"{label}按时率%") for lv, label in (
        (CheckLevel.DAILY, "日排查"), (CheckLevel.WEEKLY, "周排查"), (CheckLevel.MONTHLY, "月排查"))),
    ("checks_due", "应排查任务"),
    ("checks_on_time", "按时完成"),
    ("checks_late", "逾期完成"),
    ("checks_missed", "漏检"),
    ("checks_excused", "批准免检"),
    ("on_time_rate", "按时完成率%"),
    ("general_found", "发现一般隐患"),
    ("major_found", "发现重大隐患"),
    ("hazards_rectified", "整改销号隐患"),
    ("hazards_overdue", "当前逾期隐患"),
    ("majors_open", "督办中重大隐患"),
    ("unchecked", "本周未排查企业"),
)


def table_row(f: TownFigures) -> dict[str, object]:
    """One town's (or the total's) row of the dashboard table, as exported."""
    score = f.score
    checks = f.checks_total
    return {
        "town": f.name,
        "enterprises": f.enterprises,
        "above_scale": f.above_scale,
        "standardized": f.standardized,
        "rate": percent_value(score.rate),
        "shortfall": percent_value(score.shortfall),
        "deduction": float(score.deduction),
        "expiring": f.expiring,
        "lapsed": f.lapsed,
        **{f"{lv.value}_rate": percent_value(f.checks[lv].on_time_rate) for lv in LEVELS},
        "checks_due": checks.due,
        "checks_on_time": checks.on_time,
        "checks_late": checks.late,
        "checks_missed": checks.missed,
        "checks_excused": checks.excused,
        "on_time_rate": percent_value(checks.on_time_rate),
        "general_found": f.hazards.general_found,
        "major_found": f.hazards.major_found,
        "hazards_rectified": f.hazards.rectified,
        "hazards_overdue": f.hazards.overdue,
        "majors_open": f.hazards.majors_open,
        "unchecked": f.unchecked,
    }


def dashboard_workbook(board: Dashboard) -> bytes:
    """The dashboard's table as .xlsx: one row per town and the total; every cell through
    excel_safe."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = board.month.key
    sheet.append([excel_safe(f"辖区概况 {board.month.label}（标准化按 {board.day.isoformat()} 判定）")])
    sheet.append([excel_safe(label) for _, label in TABLE_COLUMNS])
    for f in [*board.towns, board.total]:
        row = table_row(f)
        sheet.append([excel_safe("" if row[key] is None else row[key]) for key, _ in TABLE_COLUMNS])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# --- 风险分级管控 across the district ------------------------------------------------------------


@dataclass
class RiskTownRow:
    town: Town
    enterprises: int = 0
    with_register: int = 0
    major: int = 0
    large: int = 0


@dataclass
class RiskBoard:
    towns: list[RiskTownRow]
    total: RiskTownRow
    enterprises: list[tuple[Enterprise, EnterpriseRisks]]  # with a register, most serious first
    without_register: list[Enterprise]


def risk_board(session: Session, actor: Actor, town_id: int | None) -> RiskBoard:
    """Counts of 重大/较大 risks per town and per enterprise, and the enterprises without a
    risk register, over the towns the actor may see (or only `town_id`)."""
    towns = chosen_towns(session, actor, town_id)
    enterprises = list(
        session.scalars(
            select(Enterprise).where(Enterprise.town_id.in_([t.id for t in towns] or [0])).order_by(Enterprise.name)
        )
    )
    risks = district_risks(session, [e.id for e in enterprises])
    rows = {t.id: RiskTownRow(t) for t in towns}
    total = RiskTownRow(Town(name="合计", code=""))
    with_register: list[tuple[Enterprise, EnterpriseRisks]] = []
    without: list[Enterprise] = []
    for enterprise in enterprises:
        row = rows[enterprise.town_id]
        figures = risks.get(enterprise.id)
        for target in (row, total):
            target.enterprises += 1
            if figures:
                target.with_register += 1
                target.major += figures.major
                target.large += figures.large
        if figures:
            with_register.append((enterprise, figures))
        else:
            without.append(enterprise)
    with_register.sort(key=lambda pair: (-pair[1].major, -pair[1].large, pair[0].name))
    return RiskBoard(list(rows.values()), total, with_register, without)
