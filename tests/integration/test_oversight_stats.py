"""The bureau's figures on a real database: the completion rule and its SQL agree; the
rollup equals the tasks and hazards it summarises; standardization is judged on the right
day; the figures are cut by the actor's towns; only bureau users get them."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from app.enterprises.models import Enterprise
from app.errors import NotFound, PermissionDenied
from app.hazard_reporting.checklists import service as checklists
from app.hazard_reporting.checks.domain import CheckLevel, CheckTaskStatus
from app.hazard_reporting.checks.models import CheckSubmission, CheckTask
from app.hazard_reporting.hazards.models import Hazard
from app.hazard_reporting.schedules import service as schedules
from app.hazard_reporting.schedules.models import CheckSchedule
from app.oversight.stats import queries, service
from app.oversight.stats.domain import Completion, Figure, Month, certificate_standing, completion_of
from app.oversight.stats.models import CheckMonthRollup
from tests.fixtures.checks import MONDAY, CheckOrg, local

NOW = MONDAY + timedelta(days=2)  # Wednesday 25 November 2026, 10:00 local
NOVEMBER = Month(2026, 11)
OFFSETS = [timedelta(days=-2), timedelta(seconds=-1), timedelta(0), timedelta(seconds=1), timedelta(hours=3)]


def _org(db_session, build, **fields) -> CheckOrg:
    checklists.load_standard_checklists(db_session, local(2026, 11, 1))
    org = CheckOrg(build, **fields)
    org.generate(local(2026, 11, 2, 6))
    schedules.generate_tasks(db_session, local(2026, 11, 30, 6))
    return org


def _tasks(db_session, enterprise_id: int) -> list[CheckTask]:
    return list(
        db_session.scalars(select(CheckTask).where(CheckTask.enterprise_id == enterprise_id).order_by(CheckTask.id))
    )


def test_the_completion_rule_and_its_sql_agree(db_session, build):
    org = _org(db_session, build)
    tasks = _tasks(db_session, org.enterprise.id)
    cases = [
        (status, due, grace)
        for status in CheckTaskStatus
        for due in OFFSETS
        for grace in (timedelta(0), timedelta(hours=2))
    ]
    assert len(tasks) >= len(cases)
    expected = {}
    for task, (status, due, grace) in zip(tasks, cases, strict=False):
        task.status, task.due_at, task.grace_until = status, NOW + due, NOW + due + grace
        expected[task.id] = completion_of(status, task.due_at, task.grace_until, NOW).value
    db_session.flush()
    by_sql = dict(
        db_session.execute(
            select(CheckTask.id, service.completion_case(NOW)).where(CheckTask.id.in_(list(expected)))
        ).all()
    )
    assert by_sql == expected
    assert set(expected.values()) == {c.value for c in Completion}


def _hazard(db_session, enterprise, reporter, **kw) -> Hazard:
    fields = {
        "enterprise_id": enterprise.id,
        "source": "adhoc",
        "level": "general",
        "category": "unsafe_condition",
        "description": "配电箱门未关闭",
        "reporter_id": reporter.id,
        "status": "assigned",
        "created_at": local(2026, 11, 10),
        "updated_at": local(2026, 11, 10),
    }
    hazard = Hazard(**{**fields, **kw})
    db_session.add(hazard)
    db_session.flush()
    return hazard


@pytest.fixture
def district(db_session, build):
    """Two towns in the staff member's scope and one outside it, with certificates around
    the three-year boundary, a month of checks and hazards."""
    a, b, c = build.town(name="长兴路街道"), build.town(name="花园口镇"), build.town(name="古荥镇")
    org = _org(db_session, build, town=a, standardization_level="level3",
               standardization_date=date(2024, 1, 1))
    tasks = _tasks(db_session, org.enterprise.id)
    for n, task in enumerate(tasks):  # a spread of outcomes
        if task.grace_until < NOW:
            task.status = [CheckTaskStatus.DONE, CheckTaskStatus.DONE_LATE, CheckTaskStatus.MISSED,
                           CheckTaskStatus.EXCUSED, CheckTaskStatus.PENDING][n % 5]
    # 规上 in a: valid (org), expired on 24 Nov (certified 25 Nov 2023), expiring (certified
    # 1 Jan 2024 → valid to 31 Dec 2026, within 90 days of 25 Nov), below scale.
    lapsed = build.enterprise(a, standardization_level="level3", standardization_date=date(2023, 11, 25))
    build.enterprise(a, scale="below")
    # b: 规上 without level, 规上 valid to 25 Nov 2026 (the day itself still counts).
    build.enterprise(b)
    edge = build.enterprise(b, standardization_level="level2", standardization_date=date(2023, 11, 26))
    outside = build.enterprise(c, standardization_level="level1", standardization_date=date(2025, 1, 1))
    reporter = build.user()
    _hazard(db_session, org.enterprise, reporter, deadline=NOW - timedelta(hours=1))  # overdue
    _hazard(db_session, org.enterprise, reporter, level="major", status="supervising",
            deadline=NOW + timedelta(days=20))
    _hazard(db_session, lapsed, reporter, status="closed", closed_at=local(2026, 11, 12),
            created_at=local(2026, 10, 30), updated_at=local(2026, 11, 12))
    _hazard(db_session, outside, reporter, deadline=NOW - timedelta(days=1))
    db_session.flush()
    service.refresh_rollups(db_session, NOW)
    return {"towns": (a, b, c), "org": org, "lapsed": lapsed, "edge": edge, "outside": outside}


def test_rollup_equals_the_tasks_and_hazards(db_session, build, district):
    org = district["org"]
    tasks = db_session.execute(
        select(CheckTask, CheckSchedule.level).join(CheckSchedule).where(
            CheckTask.enterprise_id == org.enterprise.id,
            CheckTask.due_at >= NOVEMBER.starts_at,
            CheckTask.due_at < NOVEMBER.ends_at,
        )
    ).all()
    expected: dict[str, Counter] = {lv.value: Counter() for lv in CheckLevel}
    for task, level in tasks:
        expected[level][completion_of(task.status, task.due_at, task.grace_until, NOW).value] += 1
    rows = db_session.scalars(
        select(CheckMonthRollup).where(CheckMonthRollup.enterprise_id == org.enterprise.id,
                                       CheckMonthRollup.month == NOVEMBER.first_day)
    ).all()
    got = {r.level: Counter({c.value: getattr(r, c.value) for c in Completion if getattr(r, c.value)}) for r in rows}
    assert got == {lv: c for lv, c in expected.items() if c}
    assert sum(sum(c.values()) for c in expected.values()) == len(tasks) > 20


def test_figures_per_town_and_total(db_session, build, district):
    a, b, c = district["towns"]
    admin = build.actor(build.bureau_user("bureau_admin"))
    board = queries.dashboard(db_session, admin, NOVEMBER, NOW)
    assert board.district
    by_town = {f.town_id: f for f in board.towns}
    fa, fb = by_town[a.id], by_town[b.id]
    assert (fa.enterprises, fa.above_scale, fa.standardized, fa.expiring, fa.lapsed) == (3, 2, 1, 1, 1)
    assert (fb.above_scale, fb.standardized, fb.expiring) == (2, 1, 1)
    assert fa.score.rate == fb.score.rate == pytest.approx(0.5)
    assert fa.hazards.general_overdue == 1 and fa.hazards.majors_open == 1
    assert fa.hazards.found == 2 and fa.hazards.rectified == 1
    assert by_town[c.id].hazards.general_overdue == 1
    assert board.total.above_scale == sum(f.above_scale for f in board.towns)
    assert board.total.checks_total.due == sum(f.checks_total.due for f in board.towns) > 0
    assert board.total.unchecked == board.total.enterprises  # nobody submitted a check this week
    # Judged on 31 October, the certificate that lapsed on 24 November still counts.
    october = queries.dashboard(db_session, admin, Month(2026, 10), NOW)
    assert {f.town_id: f.standardized for f in october.towns}[a.id] == 2


def test_deduction_reading(db_session, build, district):
    """50 % is 20 points short: two full steps of 10 → 1.0 point."""
    a, _, _ = district["towns"]
    admin = build.actor(build.bureau_user("bureau_admin"))
    fa = queries.dashboard(db_session, admin, NOVEMBER, NOW, a.id).towns[0]
    assert float(fa.score.shortfall) == pytest.approx(0.2)
    assert float(fa.score.deduction) == 1.0


def test_a_staff_member_sees_only_their_towns(db_session, build, district):
    a, b, c = district["towns"]
    staff = build.actor(build.bureau_user("bureau_staff", towns=[a, b]))
    board = queries.dashboard(db_session, staff, NOVEMBER, NOW)
    assert {f.town_id for f in board.towns} == {a.id, b.id} and not board.district
    assert board.total.hazards.overdue == 1  # the outside town's overdue hazard is not counted
    with pytest.raises(NotFound):
        queries.dashboard(db_session, staff, NOVEMBER, NOW, c.id)
    listing = queries.figure_list(db_session, staff, Figure.HAZARDS_OVERDUE, NOVEMBER, NOW)
    assert listing.total == 1 and listing.rows[0].enterprise_id == district["org"].enterprise.id


def test_enterprise_users_get_no_figures(db_session, build, district):
    manager = build.actor(build.member(district["org"].enterprise, "manager"))
    with pytest.raises(PermissionDenied):
        queries.dashboard(db_session, manager, NOVEMBER, NOW)
    with pytest.raises(PermissionDenied):
        queries.figure_list(db_session, manager, Figure.LAPSED, NOVEMBER, NOW)


def test_lists_add_up_to_their_figures(db_session, build, district):
    admin = build.actor(build.bureau_user("bureau_admin"))
    board = queries.dashboard(db_session, admin, NOVEMBER, NOW)
    t = board.total
    checks = t.checks_total
    expected = {
        Figure.ABOVE_SCALE: t.above_scale,
        Figure.STANDARDIZED: t.standardized,
        Figure.NOT_STANDARDIZED: t.not_standardized,
        Figure.EXPIRING: t.expiring,
        Figure.LAPSED: t.lapsed,
        Figure.CHECKS_DUE: checks.due,
        Figure.CHECKS_ON_TIME: checks.on_time,
        Figure.CHECKS_LATE: checks.late,
        Figure.CHECKS_MISSED: checks.missed,
        Figure.CHECKS_EXCUSED: checks.excused,
        Figure.HAZARDS_FOUND: t.hazards.found,
        Figure.HAZARDS_RECTIFIED: t.hazards.rectified,
        Figure.HAZARDS_OVERDUE: t.hazards.overdue,
        Figure.MAJORS_OPEN: t.hazards.majors_open,
        Figure.UNCHECKED_THIS_WEEK: t.unchecked,
    }
    assert set(expected) == set(Figure)
    for figure, value in expected.items():
        assert queries.figure_list(db_session, admin, figure, NOVEMBER, NOW).total == value, figure
    daily = queries.figure_list(db_session, admin, Figure.CHECKS_DUE, NOVEMBER, NOW, level=CheckLevel.DAILY)
    assert daily.total == t.checks[CheckLevel.DAILY].due


def test_a_submission_this_week_counts_as_checked(db_session, build, district):
    org = district["org"]
    admin = build.actor(build.bureau_user("bureau_admin"))
    before = queries.dashboard(db_session, admin, NOVEMBER, NOW).total.unchecked
    task = next(t for t in _tasks(db_session, org.enterprise.id) if t.period_start == MONDAY.date())
    db_session.add(CheckSubmission(
        task_id=task.id, enterprise_id=org.enterprise.id, user_id=org.leader.id, site_id=org.s1.id,
        site_token=org.s1.token, scanned_at=MONDAY, submitted_at=MONDAY, checklist_id=task.checklist_id,
        checklist_version=task.checklist_version, idempotency_key="stats-week-1", status="on_time",
    ))
    db_session.flush()
    assert queries.dashboard(db_session, admin, NOVEMBER, NOW).total.unchecked == before - 1
    # Last week's submission does not count for this week.
    assert queries.dashboard(db_session, admin, NOVEMBER, NOW + timedelta(days=7)).total.unchecked == before


def test_refresh_is_idempotent_and_picks_up_changes(db_session, build, district):
    org = district["org"]
    admin = build.actor(build.bureau_user("bureau_admin"))
    before = queries.dashboard(db_session, admin, NOVEMBER, NOW).total.checks_total
    service.refresh_rollups(db_session, NOW)
    assert queries.dashboard(db_session, admin, NOVEMBER, NOW).total.checks_total == before
    missed = next(t for t in _tasks(db_session, org.enterprise.id) if t.status == CheckTaskStatus.MISSED
                  and t.due_at >= NOVEMBER.starts_at)
    missed.status = CheckTaskStatus.EXCUSED
    db_session.flush()
    service.refresh_rollups(db_session, NOW)
    after = queries.dashboard(db_session, admin, NOVEMBER, NOW).total.checks_total
    assert (after.missed, after.excused) == (before.missed - 1, before.excused + 1)
    assert service.refresh_recent_year(db_session, NOW)[0] == Month(2025, 11)


@pytest.mark.parametrize("day", [date(2026, 11, 25), date(2027, 2, 28), date(2027, 3, 1), date(2028, 2, 29)])
def test_the_certificate_rule_and_its_sql_agree(db_session, build, day):
    """queries.standing_case (SQL, by the date bounds of domain.standing_bounds) and
    domain.certificate_standing classify every certificate date around the boundaries alike,
    leap days included."""
    town = build.town()
    dates = [None, *(day - timedelta(days=k) for k in (*range(-2, 3), *range(1090, 1100), *range(1000, 1010)))]
    dates += [date(2024, 2, 29), date(2024, 2, 28), date(2024, 3, 1), date(2025, 2, 28)]
    expected = {}
    for n, certified in enumerate(dates):
        level = "none" if n == 1 else "level3"
        e = build.enterprise(town, standardization_level=level, standardization_date=certified)
        expected[e.id] = certificate_standing(level, certified, day).value
    got = dict(db_session.execute(
        select(Enterprise.id, queries.standing_case(day)).where(Enterprise.town_id == town.id)
    ).all())
    assert got == expected
    assert {"none", "lapsed", "expiring", "valid"} <= set(expected.values())


def test_the_first_refresh_builds_the_whole_trend(db_session, build):
    first = service.refresh_rollups(db_session, NOW)
    assert first[0] == Month(2025, 11) and len(first) == 13
    assert service.refresh_rollups(db_session, NOW) == [Month(2026, 10), NOVEMBER]
