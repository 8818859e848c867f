"""The dashboard's read side (hazard_reporting/dashboard/queries.py) on real rows: exact
counts for a seeded set of tasks, hazards and members, and the SQL mirrors of the bucket and
rate rules agreeing with dashboard/domain.py on every status and due time around `now`."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.hazard_reporting.checklists import service as checklists
from app.hazard_reporting.checks.domain import CheckLevel, CheckTaskStatus
from app.hazard_reporting.checks.models import CheckTask
from app.hazard_reporting.dashboard import queries
from app.hazard_reporting.dashboard.domain import TodayBucket, rate_counts, today_bucket
from app.hazard_reporting.hazards.domain import HazardCategory, HazardLevel, HazardSource, HazardStatus
from app.hazard_reporting.hazards.models import Hazard
from app.hazard_reporting.schedules import service as schedules
from tests.fixtures.checks import MONDAY, CheckOrg, local

S = CheckTaskStatus
NOW = MONDAY  # 2026-11-23 10:00 local
FAR = NOW - timedelta(days=90)  # outside today and outside the 30-day window
H = timedelta(hours=1)


@pytest.fixture
def org(db_session, build) -> CheckOrg:
    """Six weeks of generated tasks (real rows), all moved far into the past: each test
    places the ones it needs."""
    start = NOW - timedelta(days=42)
    checklists.load_standard_checklists(db_session, start)
    org = CheckOrg(build)
    org.generate(start)
    schedules.generate_tasks(db_session, NOW)
    for task in tasks_of(db_session, org):
        task.status, task.due_at, task.grace_until = S.MISSED, FAR, FAR + H
    db_session.flush()
    return org


def tasks_of(db_session, org, level: CheckLevel | None = None) -> list[CheckTask]:
    rows = db_session.scalars(
        select(CheckTask).where(CheckTask.enterprise_id == org.enterprise.id).order_by(CheckTask.id)
    ).all()
    return [t for t in rows if level is None or t.schedule.level is level]


def place(tasks, cases) -> list[CheckTask]:
    """Give the first tasks the (status, due_at, grace_until) of each case."""
    assert len(tasks) >= len(cases)
    for task, (status, due, grace) in zip(tasks, cases, strict=False):
        task.status, task.due_at, task.grace_until = status, due, grace
    return tasks[: len(cases)]


def test_today_checks_counts_each_bucket_by_unit(db_session, org):
    daily = tasks_of(db_session, org, CheckLevel.DAILY)
    team1 = [t for t in daily if t.schedule.team_id == org.t1.id]
    team2 = [t for t in daily if t.schedule.team_id == org.t2.id]
    place(team1, [
        (S.DONE, local(2026, 11, 23, 9), local(2026, 11, 23, 10)),
        (S.PENDING, local(2026, 11, 23, 17), local(2026, 11, 23, 18)),  # not yet due
        (S.PENDING, local(2026, 11, 23, 9, 30), local(2026, 11, 23, 11)),  # overdue, in grace
        (S.PENDING, local(2026, 11, 23, 8), local(2026, 11, 23, 9)),  # grace over, not swept
    ])
    place(team2, [
        (S.MISSED, local(2026, 11, 23, 0, 30), local(2026, 11, 23, 1)),
        (S.EXCUSED, local(2026, 11, 23, 23, 59), local(2026, 11, 24, 0, 30)),
        (S.DONE, local(2026, 11, 22, 23, 59), local(2026, 11, 23, 1)),  # yesterday: not today's
        (S.PENDING, local(2026, 11, 24, 0, 0), local(2026, 11, 24, 1)),  # tomorrow
    ])
    db_session.flush()
    today = queries.today_checks(db_session, org.enterprise.id, NOW)
    assert today.day.isoformat() == "2026-11-23"
    assert today.totals == {
        TodayBucket.DONE: 1,
        TodayBucket.PENDING: 1,
        TodayBucket.OVERDUE: 1,
        TodayBucket.MISSED: 2,
        TodayBucket.EXCUSED: 1,
    }
    assert today.total == 6
    by_unit = {u.unit: u for u in today.units}
    assert set(by_unit) == {"熔炼一班（熔炼车间）", "仓储班（成品库）"}
    one, two = by_unit["熔炼一班（熔炼车间）"], by_unit["仓储班（成品库）"]
    assert [one.count(b) for b in TodayBucket] == [1, 1, 1, 1, 0]
    assert [two.count(b) for b in TodayBucket] == [0, 0, 0, 1, 1]
    # Nobody submitted: the people who owe the team's daily check are named.
    assert {r.row.inspector for r in one.rows} == {"李副班长、王班长"}
    assert {r.row.inspector for r in two.rows} == {"周班长"}


def test_on_time_rates_by_level_over_thirty_days(db_session, org):
    place(tasks_of(db_session, org, CheckLevel.DAILY), [
        (S.DONE, NOW - 2 * H, NOW - H),
        (S.DONE, NOW - timedelta(days=29), NOW - timedelta(days=29) + H),
        (S.DONE_LATE, NOW - timedelta(days=3), NOW - timedelta(days=3) + H),
        (S.MISSED, NOW - timedelta(days=5), NOW - timedelta(days=5) + H),
        (S.EXCUSED, NOW - timedelta(days=6), NOW - timedelta(days=6) + H),  # left out
        (S.DONE, NOW - timedelta(days=31), NOW - timedelta(days=31) + H),  # before the window
        (S.DONE, NOW + H, NOW + 2 * H),  # not yet due
    ])
    place(tasks_of(db_session, org, CheckLevel.WEEKLY), [
        (S.DONE, NOW - timedelta(days=10), NOW - timedelta(days=10) + H),
        (S.PENDING, NOW - H, NOW + H),  # past due, still in grace
    ])
    db_session.flush()
    rates = queries.on_time_rates(db_session, org.enterprise.id, NOW)
    got = {r.level: (r.due, r.on_time, r.percent) for r in rates.levels}
    assert got == {
        CheckLevel.DAILY: (4, 2, "50%"),
        CheckLevel.WEEKLY: (2, 1, "50%"),
        CheckLevel.MONTHLY: (0, 0, "—"),
    }
    series = {s.level: s.points for s in rates.series}
    assert sum(due for _, _, _, due in series[CheckLevel.DAILY]) == 4
    assert sum(on for _, _, on, _ in series[CheckLevel.DAILY]) == 2
    assert series[CheckLevel.MONTHLY] == []


def test_the_bucket_and_rate_sql_agree_with_the_rules(db_session, org):
    offsets = [-timedelta(days=31), -timedelta(days=30), -H, -timedelta(seconds=1), timedelta(0), H]
    graces = [-H, timedelta(0), H]
    cases = [(s, o, g) for s in CheckTaskStatus for o in offsets for g in graces if o <= g]
    tasks = place(tasks_of(db_session, org), [(s, NOW + o, NOW + g) for s, o, g in cases])
    db_session.flush()
    ids = [t.id for t in tasks]
    bucket = queries.today_bucket_clause(NOW)
    in_sql = dict(db_session.execute(select(CheckTask.id, bucket).where(CheckTask.id.in_(ids))).all())
    assert {i: TodayBucket(b) for i, b in in_sql.items()} == {
        t.id: today_bucket(t.status, t.due_at, t.grace_until, NOW) for t in tasks
    }
    counted = dict(
        db_session.execute(
            select(CheckTask.id, queries.on_time_clause()).where(
                CheckTask.id.in_(ids), queries.rate_window_clause(NOW)
            )
        ).all()
    )
    by_rule = {t.id: rate_counts(t.status, t.due_at, NOW) for t in tasks}
    assert {i: (1, on) for i, on in counted.items()} == {i: c for i, c in by_rule.items() if c[0]}


def hazard(db_session, org, *, status, level=HazardLevel.GENERAL, deadline=None, enterprise=None) -> Hazard:
    row = Hazard(
        enterprise_id=(enterprise or org.enterprise).id,
        source=HazardSource.ADHOC,
        level=level,
        category=HazardCategory.UNSAFE_CONDITION,
        description="皮带输送机尾轮防护罩缺失",
        reporter_id=org.worker.id,
        deadline=deadline,
        status=status,
        closed_at=NOW - H if status in (HazardStatus.CLOSED, HazardStatus.REJECTED) else None,
        created_at=NOW - timedelta(days=3),
        updated_at=NOW - timedelta(days=3),
    )
    db_session.add(row)
    db_session.flush()
    return row


def test_hazard_counts(db_session, build, org):
    hazard(db_session, org, status=HazardStatus.ASSIGNED, deadline=NOW - H)  # open, overdue
    hazard(db_session, org, status=HazardStatus.RECTIFYING, deadline=NOW + H)  # open
    hazard(db_session, org, status=HazardStatus.RECTIFIED, deadline=NOW - H)  # open, waits for verification
    hazard(db_session, org, status=HazardStatus.REPORTED, level=HazardLevel.MAJOR)  # open major
    hazard(db_session, org, status=HazardStatus.CLOSED, level=HazardLevel.MAJOR, deadline=NOW - H)
    hazard(db_session, org, status=HazardStatus.REJECTED)
    other = build.enterprise(name="别家企业")
    hazard(db_session, org, status=HazardStatus.ASSIGNED, deadline=NOW - H, enterprise=other)
    counts = queries.hazard_counts(db_session, org.enterprise.id, NOW)
    assert (counts.open, counts.overdue, counts.major_open) == (4, 1, 1)
    assert queries.hazard_counts(db_session, build.enterprise().id, NOW) == queries.HazardCounts(0, 0, 0)


def test_unbound_members(db_session, build, org):
    e = org.enterprise
    newcomer = build.member(e, "worker", user=build.user(display_name="新员工", openid=None, phone="13800000001"))
    build.member(e, "team_leader", user=newcomer, team_id=org.t2.id)
    build.member(e, "manager", user=build.user(display_name="已离职", openid=None), active=False)
    build.member(build.enterprise(), "worker", user=build.user(display_name="别家员工", openid=None))
    unbound = queries.unbound_members(db_session, e.id)
    assert [(m.name, m.phone, set(m.roles)) for m in unbound] == [("新员工", "13800000001", {"岗位员工", "班组长"})]
