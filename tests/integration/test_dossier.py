"""The 一企一档's read side on real rows: on-time rates over 30 and 90 days, hazard figures and
rectification rates, members by role, tips acknowledged, and the timeline's order and cap; the
SQL of the rectification rule agreeing with dossier/domain.py."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.accounts.models import MemberEvent, Membership
from app.hazard_reporting.checklists import service as checklists
from app.hazard_reporting.checks.domain import CheckLevel, CheckTaskStatus
from app.hazard_reporting.checks.models import CheckTask
from app.hazard_reporting.hazards.domain import (
    HazardAction,
    HazardCategory,
    HazardLevel,
    HazardSource,
    HazardStatus,
)
from app.hazard_reporting.hazards.models import Hazard, HazardEvent, MajorHazardPlan
from app.hazard_reporting.schedules import service as schedules
from app.hazard_reporting.schedules.models import CheckSchedule
from app.oversight.dossier import queries
from app.oversight.dossier.domain import TimelineKind, rectification_counts
from app.tips.domain import BroadcastStatus
from app.tips.models import Tip, TipBroadcast, TipReceipt
from tests.fixtures.checks import MONDAY, CheckOrg

S = CheckTaskStatus
NOW = MONDAY  # 2026-11-23 10:00 local
FAR = NOW - timedelta(days=400)
H = timedelta(hours=1)
D = timedelta(days=1)


@pytest.fixture
def org(db_session, build) -> CheckOrg:
    """Six weeks of generated tasks, all moved far into the past: each test places its own."""
    start = NOW - timedelta(days=42)
    checklists.load_standard_checklists(db_session, start)
    org = CheckOrg(build)
    org.generate(start)
    schedules.generate_tasks(db_session, NOW)
    for task in tasks_of(db_session, org):
        task.status, task.due_at, task.grace_until = S.EXCUSED, FAR, FAR + H
    db_session.flush()
    return org


def tasks_of(db_session, org, level: CheckLevel | None = None) -> list[CheckTask]:
    rows = db_session.scalars(
        select(CheckTask).where(CheckTask.enterprise_id == org.enterprise.id).order_by(CheckTask.id)
    ).all()
    return [t for t in rows if level is None or t.schedule.level is level]


def place(tasks, cases) -> list[CheckTask]:
    assert len(tasks) >= len(cases)
    for task, (status, due) in zip(tasks, cases, strict=False):
        task.status, task.due_at, task.grace_until = status, due, due + H
    return tasks[: len(cases)]


def hazard(db_session, org, status, *, age=D, level=HazardLevel.GENERAL, deadline=None,
           source=HazardSource.CHECK, description="隐患") -> Hazard:
    row = Hazard(
        enterprise_id=org.enterprise.id, source=source, level=level, category=HazardCategory.UNSAFE_CONDITION,
        description=description, reporter_id=org.officer.id, deadline=deadline, status=status,
        created_at=NOW - age, updated_at=NOW - age,
    )
    db_session.add(row)
    db_session.flush()
    return row


def test_on_time_rates_over_30_and_90_days(db_session, org):
    place(tasks_of(db_session, org, CheckLevel.DAILY), [
        (S.DONE, NOW - H),
        (S.DONE_LATE, NOW - 3 * D),
        (S.MISSED, NOW - 29 * D),
        (S.DONE, NOW - 31 * D),  # only in the 90-day window
        (S.MISSED, NOW - 89 * D),  # only in the 90-day window
        (S.DONE, NOW - 91 * D),  # in neither
        (S.DONE, NOW + H),  # not yet due
        (S.EXCUSED, NOW - 2 * D),  # left out
    ])
    place(tasks_of(db_session, org, CheckLevel.MONTHLY), [(S.DONE, NOW - 60 * D)])
    db_session.flush()
    checks = queries.checks(db_session, org.enterprise.id, NOW)
    got = {short.level: (short.due, short.on_time, long.due, long.on_time, short.percent, long.percent)
           for short, long in checks.rates}
    assert got == {
        CheckLevel.DAILY: (3, 1, 5, 2, "33%", "40%"),
        CheckLevel.WEEKLY: (0, 0, 0, 0, "—", "—"),
        CheckLevel.MONTHLY: (0, 0, 1, 1, "—", "100%"),
    }
    assert checks.windows == (30, 90)
    assert checks.active >= 3 and checks.paused == 0


def test_hazard_figures_and_rectification_rates(db_session, org):
    hazard(db_session, org, HazardStatus.CLOSED, age=10 * D)
    hazard(db_session, org, HazardStatus.CLOSED, age=200 * D)
    hazard(db_session, org, HazardStatus.RECTIFIED, age=5 * D, deadline=NOW - D)  # waits: not overdue
    hazard(db_session, org, HazardStatus.RECTIFYING, age=5 * D, deadline=NOW - H)  # overdue
    hazard(db_session, org, HazardStatus.REJECTED, age=5 * D)  # not a hazard
    major = hazard(db_session, org, HazardStatus.RECTIFYING, age=100 * D, level=HazardLevel.MAJOR,
                   deadline=NOW + 30 * D, description="除尘系统未设泄爆装置")
    hazard(db_session, org, HazardStatus.REGISTERED, age=3 * D, level=HazardLevel.MAJOR)  # not supervised
    db_session.add(MajorHazardPlan(hazard_id=major.id, supervised_at=NOW - 90 * D, supervising_unit="惠济区应急管理局"))
    closed_major = hazard(db_session, org, HazardStatus.CLOSED, age=300 * D, level=HazardLevel.MAJOR)
    db_session.add(MajorHazardPlan(hazard_id=closed_major.id, supervised_at=NOW - 290 * D))
    inspected = hazard(db_session, org, HazardStatus.ASSIGNED, age=2 * D, source=HazardSource.ENFORCEMENT,
                       deadline=NOW + D, description="执法检查发现：配电箱未接地")
    db_session.flush()

    h = queries.hazards(db_session, org.enterprise.id, NOW)
    assert (h.open, h.overdue, h.major_open, h.major_supervised) == (5, 1, 2, 1)
    # 90 days: found 10 d, 5 d ×2, 3 d, 2 d (rejected left out) = 5, of which 1 closed.
    assert (h.recent.found, h.recent.rectified, h.recent.percent) == (5, 1, "20%")
    # All time: 8 found (rejected left out), 3 closed.
    assert (h.all_time.found, h.all_time.rectified, h.all_time.percent) == (8, 3, "38%")
    # Overdue first, then majors.
    assert h.open_rows[0].overdue and h.open_rows[1].level is HazardLevel.MAJOR
    assert [r.id for r in h.supervised_rows] == [major.id]
    assert h.supervised_rows[0].supervising_unit == "惠济区应急管理局"

    en = queries.enforcement(db_session, org.enterprise, NOW)
    assert (en.credit_status, en.found, en.open, [r.id for r in en.rows]) == ("normal", 1, 1, [inspected.id])


@pytest.mark.parametrize("window", [timedelta(days=90), None])
def test_rectification_sql_agrees_with_the_domain_rule(db_session, org, window):
    ages = [-H, timedelta(0), D, timedelta(days=90) - timedelta(seconds=1), timedelta(days=90),
            timedelta(days=91), timedelta(days=1000)]
    rows = [hazard(db_session, org, status, age=age) for status in HazardStatus for age in ages]
    found, rectified = queries.rectification_clauses(NOW, window)
    got = dict(db_session.execute(
        select(Hazard.id, found + 10 * rectified).where(Hazard.id.in_([r.id for r in rows]))
    ).all())
    for row in rows:
        f, r = rectification_counts(row.status, row.created_at, NOW, window)
        assert got[row.id] == f + 10 * r, (row.status, NOW - row.created_at)


def test_members_by_role_and_binding(db_session, org, build):
    unbound = build.member(org.enterprise, "worker", user=build.user(display_name="新员工", openid=None))
    build.member(org.enterprise, "enterprise_admin", user=org.officer)  # a second role
    gone = build.member(org.enterprise, "worker", user=build.user(display_name="离职员工"))
    db_session.execute(
        Membership.__table__.update().where(Membership.user_id == gone.id).values(active=False)
    )
    m = queries.members(db_session, org.enterprise.id)
    by_role = {rc.role.value: (rc.people, rc.bound) for rc in m.by_role}
    assert by_role["worker"] == (2, 1)
    assert by_role["team_leader"] == (3, 3)
    assert by_role["safety_officer"] == (1, 1) and by_role["enterprise_admin"] == (1, 1)
    assert (m.people, m.bound, m.unbound) == (8, 7, 1)
    assert [u.name for u in m.unbound_people] == [unbound.display_name]


def broadcast(db_session, title: str, released_at, status=BroadcastStatus.RELEASED) -> TipBroadcast:
    tip = Tip(kind="custom", title=title, summary=title, body=title)
    db_session.add(tip)
    db_session.flush()
    row = TipBroadcast(tip_id=tip.id, status=status, send_at=released_at, released_at=released_at)
    db_session.add(row)
    db_session.flush()
    return row


def test_tips_reaching_the_enterprise(db_session, org, build):
    outsider = build.user()
    older = broadcast(db_session, "冬季防火提示", NOW - 20 * D)
    newer = broadcast(db_session, "有限空间作业提示", NOW - 2 * D)
    broadcast(db_session, "草稿", NOW - D, status=BroadcastStatus.DRAFT)
    for user, read, ack in [(org.leader, True, True), (org.worker, True, False), (org.manager, False, False),
                            (outsider, True, True)]:
        db_session.add(TipReceipt(
            broadcast_id=older.id, user_id=user.id, created_at=NOW - 20 * D,
            read_at=NOW - 19 * D if read else None, acknowledged_at=NOW - 19 * D if ack else None,
        ))
    db_session.add(TipReceipt(broadcast_id=newer.id, user_id=org.officer.id, created_at=NOW - 2 * D,
                              read_at=NOW - D, acknowledged_at=NOW - D))
    db_session.flush()
    rows = queries.tips(db_session, queries.member_user_ids(db_session, org.enterprise.id))
    assert [(r.title, r.recipients, r.read, r.acknowledged, r.acknowledged_percent) for r in rows] == [
        ("有限空间作业提示", 1, 1, 1, "100%"),
        ("冬季防火提示", 3, 2, 1, "33%"),
    ]


def test_timeline_newest_first_from_every_source_and_capped(db_session, org):
    e = org.enterprise
    e.created_at = NOW - 500 * D
    e.standardization_level, e.standardization_date = "level3", (NOW - 4 * 365 * D).date()
    membership = db_session.scalar(select(Membership).where(Membership.user_id == org.worker.id))
    db_session.add(MemberEvent(membership_id=membership.id, user_id=org.worker.id, kind="bound", at=NOW - 3 * H))
    org.gate.active = False
    db_session.flush()
    for site in (org.s1, org.s2, org.gate):
        site.created_at = site.updated_at = NOW - 600 * D
    org.gate.updated_at = NOW - 5 * H
    found = hazard(db_session, org, HazardStatus.CLOSED, age=2 * H, description="消防通道堵塞")
    for action, at in [(HazardAction.REPORT, NOW - 2 * H), (HazardAction.VERIFY, NOW - H)]:
        db_session.add(HazardEvent(hazard_id=found.id, actor_id=org.officer.id, at=at, action=action,
                                   from_status=None, to_status=HazardStatus.CLOSED, data={}))
    missed = place(tasks_of(db_session, org, CheckLevel.WEEKLY), [(S.MISSED, NOW - 5 * H)])[0]
    db_session.execute(
        update(CheckSchedule).where(CheckSchedule.enterprise_id == e.id).values(created_at=NOW - 400 * D)
    )
    db_session.flush()

    entries, more = queries.timeline(
        db_session, e, queries.certificate_state(e.standardization_level, e.standardization_date, NOW.date()),
        [org.worker.id], NOW, limit=6,
    )
    assert [(x.kind, x.title) for x in entries] == [
        (TimelineKind.HAZARD, "复查销号"),
        (TimelineKind.HAZARD, "上报隐患"),
        (TimelineKind.MEMBER, "绑定微信：刘师傅（岗位员工）"),
        (TimelineKind.CHECK, "漏检：部门周排查"),
        (TimelineKind.SITE, "停用排查点位：厂区大门"),
        (TimelineKind.FILE, "安全生产标准化三级证书到期"),
    ]
    assert more is True
    assert entries[3].link[1]["enterprise_id"] == e.id and missed.grace_until == entries[3].at
    assert [x.at for x in entries] == sorted((x.at for x in entries), reverse=True)
    everything, more = queries.timeline(
        db_session, e, queries.certificate_state(e.standardization_level, e.standardization_date, NOW.date()),
        [org.worker.id], NOW, limit=480,
    )
    assert more is False and everything[:6] == entries
    titles = [x.title for x in everything]
    # The expiry (≈ 365 days ago), the schedules (400), the file (500), the sites (600), the certificate.
    assert titles[5] == "安全生产标准化三级证书到期" and titles[6].startswith("新增排查计划") and titles[-1] == "取得安全生产标准化三级证书"
    assert titles.index("建立企业档案") < titles.index("新增排查点位：厂区大门")
