"""Check schedules and tasks on a real database: default schedules, generation (idempotent,
catch-up, holidays, overrides, concurrency), sweep, closing, excusing, who owes what."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import create_engine, delete, func, select
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.clock import LOCAL_TZ
from app.enterprises.models import Enterprise, Town
from app.errors import InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from app.hazard_reporting.checklists import service as checklist_service
from app.hazard_reporting.checklists.models import Checklist
from app.hazard_reporting.checks import service
from app.hazard_reporting.checks.domain import CheckLevel, CheckTaskStatus, ScheduleKind
from app.hazard_reporting.checks.models import CheckTask
from app.hazard_reporting.checks.queries import tasks_owed
from app.hazard_reporting.schedules import service as schedule_service
from app.hazard_reporting.schedules.models import CheckSchedule
from app.hazard_reporting.work_calendar.models import CalendarOverride
from tests.fixtures.builders import Builders


def local(y, m, d, hh=10, mm=0) -> datetime:
    """A wall-clock time in Asia/Shanghai as aware UTC."""
    return datetime(y, m, d, hh, mm, tzinfo=LOCAL_TZ).astimezone(UTC)


MONDAY = local(2026, 11, 23)  # week 48 of 2026, no holidays around


class Org:
    """An enterprise with two departments, three teams, three sites and one person per role."""

    def __init__(self, build, **enterprise_fields):
        self.build = build
        self.enterprise = build.enterprise(**enterprise_fields)
        e = self.enterprise
        self.d1, self.d2 = build.department(e), build.department(e)
        self.t1, self.t2, self.t3 = build.team(self.d1), build.team(self.d1), build.team(self.d2)
        self.s1 = build.site(e, department_id=self.d1.id)
        self.s2 = build.site(e, department_id=self.d2.id)
        self.s0 = build.site(e)  # belongs to no department (the gate)
        self.leader1 = build.member(e, "team_leader", team_id=self.t1.id, department_id=self.d1.id)
        self.leader3 = build.member(e, "team_leader", team_id=self.t3.id)  # department via team
        self.head1 = build.member(e, "department_head", department_id=self.d1.id)
        self.manager = build.member(e, "manager")
        self.officer = build.member(e, "safety_officer")
        self.admin = build.member(e, "enterprise_admin")
        self.worker = build.member(e, "worker", team_id=self.t1.id)
        self.user_ids = [
            u.id
            for u in (
                self.leader1,
                self.leader3,
                self.head1,
                self.manager,
                self.officer,
                self.admin,
                self.worker,
            )
        ]

    def actor(self, who: str):
        return self.build.actor(getattr(self, who))


@pytest.fixture
def standards(db_session):
    return checklist_service.load_standard_checklists(db_session, MONDAY)


@pytest.fixture
def org(build, standards):
    return Org(build, dust_explosion=True, confined_space=True)


def tasks(session, enterprise=None) -> list[CheckTask]:
    query = select(CheckTask).order_by(CheckTask.schedule_id, CheckTask.period_start)
    if enterprise is not None:
        query = query.where(CheckTask.enterprise_id == enterprise.id)
    return list(session.scalars(query))


def keyed(session, enterprise) -> set[tuple[str, int | None, date]]:
    """(level, team or department, period start) of the enterprise's tasks."""
    out = set()
    for t in tasks(session, enterprise):
        s = t.schedule
        out.add((s.level.value, s.team_id or s.department_id, t.period_start))
    return out


def task_of(session, enterprise, level, period_start, unit_id=None) -> CheckTask:
    for t in tasks(session, enterprise):
        s = t.schedule
        if (
            s.level is level
            and t.period_start == period_start
            and unit_id in (None, s.team_id, s.department_id)
        ):
            return t
    raise AssertionError(f"no {level} task for {period_start}")


# --- default schedules ------------------------------------------------------------------


def test_default_schedules_one_per_team_department_and_enterprise(db_session, org):
    created = schedule_service.ensure_default_schedules(db_session, MONDAY, org.enterprise.id)
    summary = sorted(
        (s.level.value, s.team_id, s.department_id, s.due_time, s.grace_minutes) for s in created
    )
    assert summary == sorted(
        [
            ("daily", org.t1.id, org.d1.id, time(17), 120),
            ("daily", org.t2.id, org.d1.id, time(17), 120),
            ("daily", org.t3.id, org.d2.id, time(17), 120),
            ("weekly", None, org.d1.id, time(17), 1440),
            ("weekly", None, org.d2.id, time(17), 1440),
            ("monthly", None, None, time(17), 2880),
        ]
    )
    assert all(s.starts_on == date(2026, 11, 23) and s.active for s in created)
    assert all(s.workdays_only == (s.level is CheckLevel.DAILY) for s in created)
    assert {s.due_weekday for s in created if s.level is CheckLevel.WEEKLY} == {5}
    # Idempotent, and a schedule switched off stays off.
    weekly = next(s for s in created if s.level is CheckLevel.WEEKLY)
    schedule_service.update_schedule(db_session, org.actor("admin"), MONDAY, weekly.id, {"active": False})
    assert schedule_service.ensure_default_schedules(db_session, MONDAY + timedelta(days=1), org.enterprise.id) == []
    assert db_session.get(CheckSchedule, weekly.id).active is False


def test_a_new_team_gets_its_daily_schedule_on_the_next_pass(db_session, build, org):
    schedule_service.ensure_default_schedules(db_session, MONDAY, org.enterprise.id)
    new_team = build.team(org.d2)
    created = schedule_service.ensure_default_schedules(db_session, MONDAY, org.enterprise.id)
    assert [(s.level, s.team_id) for s in created] == [(CheckLevel.DAILY, new_team.id)]


# --- generation -------------------------------------------------------------------------


def test_generation_creates_the_current_periods_with_due_times(db_session, org):
    schedule_service.ensure_default_schedules(db_session, MONDAY, org.enterprise.id)
    result = schedule_service.generate_tasks(db_session, MONDAY)
    assert result.created == 6
    assert result.checklist_versions == 1
    assert keyed(db_session, org.enterprise) == {
        ("daily", org.t1.id, date(2026, 11, 23)),
        ("daily", org.t2.id, date(2026, 11, 23)),
        ("daily", org.t3.id, date(2026, 11, 23)),
        ("weekly", org.d1.id, date(2026, 11, 23)),
        ("weekly", org.d2.id, date(2026, 11, 23)),
        ("monthly", None, date(2026, 11, 1)),
    }
    daily = task_of(db_session, org.enterprise, CheckLevel.DAILY, date(2026, 11, 23), org.t1.id)
    assert (daily.period_end, daily.due_at, daily.grace_until) == (
        date(2026, 11, 23),
        datetime(2026, 11, 23, 9, 0, tzinfo=UTC),
        datetime(2026, 11, 23, 11, 0, tzinfo=UTC),
    )
    weekly = task_of(db_session, org.enterprise, CheckLevel.WEEKLY, date(2026, 11, 23), org.d1.id)
    assert weekly.period_end == date(2026, 11, 29)
    assert weekly.due_at == datetime(2026, 11, 27, 9, 0, tzinfo=UTC)  # Friday 17:00 local
    assert weekly.grace_until == datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
    monthly = task_of(db_session, org.enterprise, CheckLevel.MONTHLY, date(2026, 11, 1))
    assert monthly.period_end == date(2026, 11, 30)
    assert monthly.due_at == datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    assert monthly.grace_until == datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    assert all(t.status is CheckTaskStatus.PENDING and t.created_at == MONDAY for t in tasks(db_session))
    own = db_session.scalar(select(Checklist).where(Checklist.enterprise_id == org.enterprise.id))
    assert {(t.checklist_id, t.checklist_version) for t in tasks(db_session)} == {(own.id, 1)}


def test_generation_is_idempotent(db_session, org):
    schedule_service.ensure_default_schedules(db_session, MONDAY, org.enterprise.id)
    first = schedule_service.generate_tasks(db_session, MONDAY)
    before = keyed(db_session, org.enterprise)
    again = schedule_service.generate_tasks(db_session, MONDAY + timedelta(hours=5))
    assert first.created == 6 and again.created == 0 and again.checklist_versions == 0
    assert keyed(db_session, org.enterprise) == before
    assert len(tasks(db_session, org.enterprise)) == 6


def test_catch_up_after_a_week_of_downtime_creates_exactly_the_missing_tasks(db_session, org):
    schedule_service.ensure_default_schedules(db_session, MONDAY, org.enterprise.id)
    schedule_service.generate_tasks(db_session, MONDAY)
    before = keyed(db_session, org.enterprise)
    next_monday = local(2026, 11, 30)
    result = schedule_service.generate_tasks(db_session, next_monday)
    workdays = [date(2026, 11, d) for d in (24, 25, 26, 27, 30)]  # the weekend 28/29 has no daily check
    expected_new = {("daily", t.id, d) for t in (org.t1, org.t2, org.t3) for d in workdays} | {
        ("weekly", org.d1.id, date(2026, 11, 30)),
        ("weekly", org.d2.id, date(2026, 11, 30)),
    }
    assert result.created == len(expected_new) == 17
    assert keyed(db_session, org.enterprise) == before | expected_new
    assert schedule_service.generate_tasks(db_session, next_monday).created == 0


def test_horizon_generates_upcoming_periods_in_advance(db_session, org):
    schedule_service.ensure_default_schedules(db_session, MONDAY, org.enterprise.id)
    friday_evening = local(2026, 11, 27, 20)
    schedule_service.generate_tasks(db_session, friday_evening, horizon=timedelta(days=4))
    got = keyed(db_session, org.enterprise)
    assert ("daily", org.t1.id, date(2026, 12, 1)) in got  # Tuesday, inside the horizon
    assert ("weekly", org.d1.id, date(2026, 11, 30)) in got
    assert ("monthly", None, date(2026, 12, 1)) in got
    assert ("daily", org.t1.id, date(2026, 12, 2)) not in got


def test_daily_checks_follow_holidays_adjusted_workdays_and_overrides(db_session, build, standards):
    org = Org(build)
    start = local(2025, 9, 26)
    schedule_service.ensure_default_schedules(db_session, start, org.enterprise.id)
    db_session.add(CalendarOverride(day=date(2025, 10, 10), is_workday=False, note="区内停工"))
    db_session.flush()
    schedule_service.generate_tasks(db_session, local(2025, 10, 12))
    days = sorted(
        d for level, unit, d in keyed(db_session, org.enterprise) if level == "daily" and unit == org.t1.id
    )
    # Holidays 10-01..10-08 skipped; Sunday 09-28 and Saturday 10-11 are adjusted workdays;
    # 10-10 is a workday by law but the override wins.
    assert days == [
        date(2025, 9, 26),
        date(2025, 9, 28),
        date(2025, 9, 29),
        date(2025, 9, 30),
        date(2025, 10, 9),
        date(2025, 10, 11),
    ]
    weeks = sorted(
        d for level, unit, d in keyed(db_session, org.enterprise) if level == "weekly" and unit == org.d1.id
    )
    assert weeks == [date(2025, 9, 22), date(2025, 9, 29), date(2025, 10, 6)]  # weekly ignores holidays


def test_a_year_the_calendar_library_does_not_know_follows_the_statutory_rule(db_session, build, standards):
    org = Org(build)
    schedule_service.ensure_default_schedules(db_session, local(2026, 12, 30), org.enterprise.id)
    schedule_service.generate_tasks(db_session, local(2027, 1, 5))
    days = sorted(
        d for level, unit, d in keyed(db_session, org.enterprise) if level == "daily" and unit == org.t1.id
    )
    # Friday 2027-01-01 is 元旦 by the rule (chinese-calendar stops at 2026): no daily check.
    assert days == [date(2026, 12, 30), date(2026, 12, 31), date(2027, 1, 4), date(2027, 1, 5)]


def test_week_53_and_leap_month_periods_in_generation(db_session, build, standards):
    org = Org(build)
    schedule_service.ensure_default_schedules(db_session, local(2026, 12, 28), org.enterprise.id)
    schedule_service.generate_tasks(db_session, local(2027, 1, 2))
    weekly = task_of(db_session, org.enterprise, CheckLevel.WEEKLY, date(2026, 12, 28), org.d1.id)
    assert weekly.period_end == date(2027, 1, 3)
    assert weekly.due_at == datetime(2027, 1, 1, 9, 0, tzinfo=UTC)
    months = sorted(d for level, _, d in keyed(db_session, org.enterprise) if level == "monthly")
    assert months == [date(2026, 12, 1), date(2027, 1, 1)]

    leap = Org(build)
    schedule_service.ensure_default_schedules(db_session, local(2028, 2, 29), leap.enterprise.id)
    schedule_service.generate_tasks(db_session, local(2028, 2, 29))
    monthly = task_of(db_session, leap.enterprise, CheckLevel.MONTHLY, date(2028, 2, 1))
    assert monthly.period_end == date(2028, 2, 29)
    assert monthly.due_at == datetime(2028, 2, 29, 9, 0, tzinfo=UTC)


def test_a_paused_schedule_leaves_no_backlog_when_switched_on_again(db_session, org):
    schedule_service.ensure_default_schedules(db_session, MONDAY, org.enterprise.id)
    schedule_service.generate_tasks(db_session, MONDAY)
    daily = db_session.scalar(select(CheckSchedule).where(CheckSchedule.team_id == org.t1.id))
    admin = org.actor("admin")
    schedule_service.update_schedule(db_session, admin, MONDAY, daily.id, {"active": False})
    # Its pending task of today stays: the day's check is still owed (done, missed or excused).
    db_session.expire_all()
    assert [t.period_start for t in db_session.get(CheckSchedule, daily.id).tasks] == [date(2026, 11, 23)]
    schedule_service.generate_tasks(db_session, local(2026, 11, 26))
    db_session.expire_all()
    assert [t.period_start for t in db_session.get(CheckSchedule, daily.id).tasks] == [date(2026, 11, 23)]
    schedule_service.update_schedule(db_session, admin, local(2026, 11, 27), daily.id, {"active": True})
    schedule_service.generate_tasks(db_session, local(2026, 11, 27))
    db_session.expire_all()
    assert [t.period_start for t in db_session.get(CheckSchedule, daily.id).tasks] == [
        date(2026, 11, 23),
        date(2026, 11, 27),
    ]


def test_schedule_configuration(db_session, org):
    schedule_service.ensure_default_schedules(db_session, MONDAY, org.enterprise.id)
    weekly = db_session.scalar(
        select(CheckSchedule).where(
            CheckSchedule.department_id == org.d1.id, CheckSchedule.level == CheckLevel.WEEKLY
        )
    )
    admin = org.actor("admin")
    schedule_service.update_schedule(
        db_session, admin, MONDAY, weekly.id, {"due_weekday": 3, "due_time": "16:30", "grace_minutes": 60}
    )
    schedule_service.generate_tasks(db_session, MONDAY)
    task = task_of(db_session, org.enterprise, CheckLevel.WEEKLY, date(2026, 11, 23), org.d1.id)
    assert task.due_at == local(2026, 11, 25, 16, 30)  # Wednesday 16:30 local
    assert task.grace_until == task.due_at + timedelta(hours=1)
    with pytest.raises(ValidationFailed) as caught:
        schedule_service.update_schedule(db_session, admin, MONDAY, weekly.id, {"due_month_day": 3})
    assert "due_month_day" in caught.value.fields
    with pytest.raises(PermissionDenied):
        schedule_service.update_schedule(db_session, org.actor("leader1"), MONDAY, weekly.id, {"grace_minutes": 5})


# --- sweep, close, excuse ---------------------------------------------------------------


def test_sweep_marks_pending_tasks_past_grace_as_missed_once(db_session, org):
    schedule_service.ensure_default_schedules(db_session, MONDAY, org.enterprise.id)
    schedule_service.generate_tasks(db_session, MONDAY)
    assert service.sweep_overdue(db_session, MONDAY) == []
    at_grace = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)  # 19:00 local: the daily grace ends
    assert service.sweep_overdue(db_session, at_grace) == []  # grace_until itself is still in time
    after = at_grace + timedelta(seconds=1)
    swept = service.sweep_overdue(db_session, after)
    assert sorted(s.period_start for s in swept) == [date(2026, 11, 23)] * 3
    assert {s.enterprise_id for s in swept} == {org.enterprise.id}
    for s in swept:
        task = db_session.get(CheckTask, s.id)
        assert (task.status, task.closed_at) == (CheckTaskStatus.MISSED, after)
    assert service.sweep_overdue(db_session, after + timedelta(hours=1)) == []
    weekly = task_of(db_session, org.enterprise, CheckLevel.WEEKLY, date(2026, 11, 23), org.d1.id)
    assert weekly.status is CheckTaskStatus.PENDING


@pytest.mark.parametrize(
    ("offset", "status"),
    [
        (timedelta(hours=-1), CheckTaskStatus.DONE),
        (timedelta(0), CheckTaskStatus.DONE),
        (timedelta(minutes=30), CheckTaskStatus.DONE_LATE),
        (timedelta(hours=2), CheckTaskStatus.DONE_LATE),
        (timedelta(hours=2, seconds=1), CheckTaskStatus.MISSED),
    ],
)
def test_close_task_done_done_late_or_missed(db_session, org, offset, status):
    schedule_service.ensure_default_schedules(db_session, MONDAY, org.enterprise.id)
    schedule_service.generate_tasks(db_session, MONDAY)
    task = task_of(db_session, org.enterprise, CheckLevel.DAILY, date(2026, 11, 23), org.t1.id)
    at = task.due_at + offset
    service.close_task(db_session, task, at)
    assert task.status is status and task.closed_at == at
    # A second submission changes nothing.
    service.close_task(db_session, task, at + timedelta(minutes=5))
    assert task.status is status and task.closed_at == at


def test_close_task_after_the_sweep_stays_missed_and_excused_refuses(db_session, org):
    schedule_service.ensure_default_schedules(db_session, MONDAY, org.enterprise.id)
    schedule_service.generate_tasks(db_session, MONDAY)
    task = task_of(db_session, org.enterprise, CheckLevel.DAILY, date(2026, 11, 23), org.t1.id)
    late = task.grace_until + timedelta(minutes=1)
    service.sweep_overdue(db_session, late)
    service.close_task(db_session, task, late)
    assert task.status is CheckTaskStatus.MISSED
    other = task_of(db_session, org.enterprise, CheckLevel.WEEKLY, date(2026, 11, 23), org.d1.id)
    service.excuse_task(db_session, org.actor("officer"), MONDAY, other.id, "本周停产检修")
    with pytest.raises(InvalidTransition, match="免检"):
        service.close_task(db_session, other, MONDAY)


def test_excuse_needs_a_reason_and_an_approver_who_does_not_owe_the_check(db_session, org):
    schedule_service.ensure_default_schedules(db_session, MONDAY, org.enterprise.id)
    schedule_service.generate_tasks(db_session, MONDAY)
    daily = task_of(db_session, org.enterprise, CheckLevel.DAILY, date(2026, 11, 23), org.t1.id)
    weekly = task_of(db_session, org.enterprise, CheckLevel.WEEKLY, date(2026, 11, 23), org.d1.id)
    monthly = task_of(db_session, org.enterprise, CheckLevel.MONTHLY, date(2026, 11, 1))
    for who in ("worker", "leader1", "admin"):  # no VERIFY_HAZARD
        with pytest.raises(PermissionDenied):
            service.excuse_task(db_session, org.actor(who), MONDAY, daily.id, "停电")
    with pytest.raises(PermissionDenied, match="本人负责"):
        service.excuse_task(db_session, org.actor("head1"), MONDAY, weekly.id, "停电")
    with pytest.raises(PermissionDenied, match="本人负责"):
        service.excuse_task(db_session, org.actor("manager"), MONDAY, monthly.id, "停电")
    with pytest.raises(ValidationFailed) as caught:
        service.excuse_task(db_session, org.actor("officer"), MONDAY, daily.id, "  ")
    assert "reason" in caught.value.fields
    assert daily.status is CheckTaskStatus.PENDING

    service.excuse_task(db_session, org.actor("head1"), MONDAY, daily.id, "班组全员参加消防培训")
    assert daily.status is CheckTaskStatus.EXCUSED
    assert (daily.excuse_reason, daily.excused_by_id, daily.excused_at) == (
        "班组全员参加消防培训",
        org.head1.id,
        MONDAY,
    )
    with pytest.raises(InvalidTransition):
        service.excuse_task(db_session, org.actor("officer"), MONDAY, daily.id, "再次")


def test_a_missed_task_may_be_excused_afterwards_a_done_one_not(db_session, org):
    schedule_service.ensure_default_schedules(db_session, MONDAY, org.enterprise.id)
    schedule_service.generate_tasks(db_session, MONDAY)
    missed = task_of(db_session, org.enterprise, CheckLevel.DAILY, date(2026, 11, 23), org.t2.id)
    done = task_of(db_session, org.enterprise, CheckLevel.DAILY, date(2026, 11, 23), org.t3.id)
    swept_at = missed.grace_until + timedelta(minutes=1)
    service.close_task(db_session, done, MONDAY)
    service.sweep_overdue(db_session, swept_at)
    officer = org.actor("officer")
    service.excuse_task(db_session, officer, swept_at + timedelta(days=1), missed.id, "当日全厂停电")
    assert missed.status is CheckTaskStatus.EXCUSED and missed.closed_at == swept_at
    with pytest.raises(InvalidTransition):
        service.excuse_task(db_session, officer, swept_at, done.id, "补批")


def test_excuse_of_another_enterprise_task_is_not_found(db_session, build, org):
    schedule_service.ensure_default_schedules(db_session, MONDAY, org.enterprise.id)
    schedule_service.generate_tasks(db_session, MONDAY)
    daily = task_of(db_session, org.enterprise, CheckLevel.DAILY, date(2026, 11, 23), org.t1.id)
    stranger = build.actor(build.member(build.enterprise(), "safety_officer"))
    with pytest.raises(NotFound):
        service.excuse_task(db_session, stranger, MONDAY, daily.id, "停电")


# --- risk points and who owes what at a site --------------------------------------------


def test_risk_point_rounds_follow_the_colour_and_run_on_holidays(db_session, org):
    admin = org.actor("admin")
    holiday = local(2025, 10, 1, 8)
    schedule_service.ensure_default_schedules(db_session, holiday, org.enterprise.id)
    schedule_service.set_site_risk_profile(
        db_session, admin, holiday, org.s1.id, {"risk_level": "red", "is_major_risk_point": True}
    )
    schedule_service.set_site_risk_profile(
        db_session, admin, holiday, org.s2.id, {"risk_level": "yellow", "is_major_risk_point": True}
    )
    schedule_service.set_site_risk_profile(
        db_session, admin, holiday, org.s0.id, {"risk_level": "red", "is_major_risk_point": False}
    )
    schedule_service.generate_tasks(db_session, holiday)
    risk_tasks = [t for t in tasks(db_session, org.enterprise) if t.schedule.kind is ScheduleKind.RISK_POINT]
    assert sorted((t.schedule.site_id, t.schedule.slot, t.due_at) for t in risk_tasks) == [
        (org.s1.id, "am", local(2025, 10, 1, 11, 30)),
        (org.s1.id, "pm", local(2025, 10, 1, 17, 0)),
    ]  # red twice even on National Day; yellow rests with the holiday; a non-major site has none
    assert not any(
        t.schedule.level is CheckLevel.DAILY and t.schedule.kind is ScheduleKind.ROUTINE
        for t in tasks(db_session, org.enterprise)
    )
    assert schedule_service.ensure_default_schedules(db_session, holiday, org.enterprise.id) == []

    # Lowered to blue: the red rounds retire (their unstarted tasks go), a weekly round starts.
    schedule_service.set_site_risk_profile(
        db_session, admin, holiday, org.s1.id, {"risk_level": "blue", "is_major_risk_point": True}
    )
    schedules = db_session.scalars(select(CheckSchedule).where(CheckSchedule.site_id == org.s1.id)).all()
    assert sorted((s.slot, s.level.value, s.active) for s in schedules) == [
        ("am", "daily", False),
        ("pm", "daily", False),
        ("weekly", "weekly", True),
    ]
    db_session.expire_all()
    assert [t for t in tasks(db_session, org.enterprise) if t.schedule.site_id == org.s1.id] == []
    with pytest.raises(PermissionDenied):
        schedule_service.set_site_risk_profile(
            db_session, org.actor("leader1"), holiday, org.s1.id, {"risk_level": "red"}
        )


def owed(session, org, who, site, now):
    user = getattr(org, who)
    return sorted(
        (
            t.schedule.kind.value,
            t.schedule.level.value,
            t.schedule.slot,
            t.schedule.team_id or t.schedule.department_id,
        )
        for t in tasks_owed(session, user, site, now)
    )


def test_tasks_owed_at_a_site(db_session, build, org):
    admin = org.actor("admin")
    schedule_service.ensure_default_schedules(db_session, MONDAY, org.enterprise.id)
    schedule_service.set_site_risk_profile(
        db_session, admin, MONDAY, org.s1.id, {"risk_level": "red", "is_major_risk_point": True}
    )
    schedule_service.generate_tasks(db_session, MONDAY)
    d1 = org.d1.id
    assert owed(db_session, org, "leader1", org.s1, MONDAY) == [
        ("risk_point", "daily", "am", d1),
        ("risk_point", "daily", "pm", d1),
        ("routine", "daily", "routine", org.t1.id),
    ]
    assert owed(db_session, org, "head1", org.s1, MONDAY) == [
        ("risk_point", "daily", "am", d1),
        ("risk_point", "daily", "pm", d1),
        ("routine", "weekly", "routine", d1),
    ]
    assert owed(db_session, org, "leader1", org.s0, MONDAY) == [("routine", "daily", "routine", org.t1.id)]
    assert owed(db_session, org, "leader1", org.s2, MONDAY) == []  # another department's site
    assert owed(db_session, org, "leader3", org.s2, MONDAY) == [("routine", "daily", "routine", org.t3.id)]
    assert owed(db_session, org, "leader3", org.s1, MONDAY) == []
    assert owed(db_session, org, "manager", org.s2, MONDAY) == [("routine", "monthly", "routine", None)]
    assert owed(db_session, org, "worker", org.s1, MONDAY) == []
    assert owed(db_session, org, "officer", org.s1, MONDAY) == []
    outsider = build.member(build.enterprise(), "team_leader")
    assert tasks_owed(db_session, outsider, org.s1, MONDAY) == []
    # After the morning round's grace (12:30 local) only the afternoon round is owed; a
    # closed task is no longer owed either.
    afternoon = local(2026, 11, 23, 13)
    routine_daily = task_of(db_session, org.enterprise, CheckLevel.DAILY, date(2026, 11, 23), org.t1.id)
    service.close_task(db_session, routine_daily, afternoon)
    assert owed(db_session, org, "leader1", org.s1, afternoon) == [("risk_point", "daily", "pm", d1)]


def test_tasks_of_a_period_not_begun_are_not_owed(db_session, org):
    schedule_service.ensure_default_schedules(db_session, MONDAY, org.enterprise.id)
    schedule_service.generate_tasks(db_session, MONDAY, horizon=timedelta(days=1))
    assert owed(db_session, org, "leader1", org.s1, MONDAY) == [("routine", "daily", "routine", org.t1.id)]
    tuesday = local(2026, 11, 24, 9)
    assert len(tasks_owed(db_session, org.leader1, org.s1, tuesday)) == 1
    assert tasks_owed(db_session, org.leader1, org.s1, tuesday)[0].period_start == date(2026, 11, 24)


# --- concurrency (PostgreSQL) -----------------------------------------------------------


@pytest.mark.postgres_only
def test_concurrent_generation_creates_each_task_once(app, database_url):
    """Two schedulers with their own engines generate at the same instant: no duplicate,
    no error. Rows are committed (threads cannot share the test transaction) and removed."""
    setup_engine = create_engine(database_url)
    enterprise_ids: list[int] = []
    user_ids: list[int] = []
    town_id = None
    created_standards: list[int] = []
    try:
        with Session(setup_engine) as session:
            before = set(session.scalars(select(Checklist.id).where(Checklist.enterprise_id.is_(None))))
            checklist_service.load_standard_checklists(session, MONDAY)
            created_standards = sorted(
                set(session.scalars(select(Checklist.id).where(Checklist.enterprise_id.is_(None)))) - before
            )
            build = Builders(session)
            town = build.town()
            town_id = town.id
            for _ in range(5):
                org = Org(build, town=town, dust_explosion=True)
                enterprise_ids.append(org.enterprise.id)
                user_ids.extend(org.user_ids)
                schedule_service.ensure_default_schedules(session, MONDAY, org.enterprise.id)
            session.commit()

        barrier = threading.Barrier(2)
        results: list[object] = []
        errors: list[BaseException] = []

        def run() -> None:
            engine = create_engine(database_url)
            try:
                with Session(engine) as session:
                    barrier.wait(timeout=10)
                    results.append(schedule_service.generate_tasks(session, local(2026, 11, 30)))
                    session.commit()
            except BaseException as exc:  # reported below: a thread's failure must fail the test
                errors.append(exc)
            finally:
                engine.dispose()

        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == []
        with Session(setup_engine) as session:
            rows = session.execute(
                select(CheckTask.schedule_id, CheckTask.period_start, func.count())
                .where(CheckTask.enterprise_id.in_(enterprise_ids))
                .group_by(CheckTask.schedule_id, CheckTask.period_start)
            ).all()
            versions = session.scalars(
                select(Checklist.version).where(Checklist.enterprise_id.in_(enterprise_ids))
            ).all()
        # Per enterprise: 3 teams × 6 workdays (11-23..27, 11-30) + 2 departments × 2 weeks + 1 month.
        expected = 5 * (3 * 6 + 2 * 2 + 1)
        assert len(rows) == expected and all(count == 1 for *_, count in rows)
        assert sum(r.created for r in results) == expected
        assert sum(r.checklist_versions for r in results) == 5 and versions == [1] * 5
    finally:
        with Session(setup_engine) as session:
            if enterprise_ids:
                session.execute(delete(Enterprise).where(Enterprise.id.in_(enterprise_ids)))
            if user_ids:
                session.execute(delete(User).where(User.id.in_(user_ids)))
            if created_standards:
                session.execute(delete(Checklist).where(Checklist.id.in_(created_standards)))
            if town_id is not None:
                session.execute(delete(Town).where(Town.id == town_id))
            session.commit()
        with Session(setup_engine) as session:  # nothing of this test outlives it
            assert (
                session.scalar(
                    select(func.count()).select_from(Enterprise).where(Enterprise.id.in_(enterprise_ids))
                )
                == 0
            )
            assert session.scalar(select(func.count()).select_from(Town).where(Town.id == town_id)) == 0
        setup_engine.dispose()
