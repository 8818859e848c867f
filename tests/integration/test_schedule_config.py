"""Schedules an enterprise configures, on a real database: a created schedule makes tasks,
one active routine schedule per unit, edits, pause (no new tasks, a begun period's task
stays), resume (no backlog), and the scope of units, sites and schedules."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from sqlalchemy import func, select

from app.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from app.hazard_reporting.checklists import service as checklist_service
from app.hazard_reporting.checks.domain import CheckLevel, CheckTaskStatus
from app.hazard_reporting.checks.models import CheckTask
from app.hazard_reporting.schedules import service
from app.hazard_reporting.schedules.models import CheckSchedule
from tests.fixtures.checks import MONDAY, CheckOrg, local


@pytest.fixture
def org(build, db_session) -> CheckOrg:
    checklist_service.load_standard_checklists(db_session, MONDAY)
    return CheckOrg(build)


def periods(session, schedule_id: int) -> list[date]:
    session.expire_all()
    return list(
        session.scalars(
            select(CheckTask.period_start).where(CheckTask.schedule_id == schedule_id).order_by(CheckTask.period_start)
        )
    )


def schedule_count(session) -> int:
    return session.scalar(select(func.count()).select_from(CheckSchedule))


def test_created_schedules_make_tasks(db_session, org):
    officer = org.actor(org.officer)
    daily = service.create_schedule(
        db_session, officer, MONDAY, org.enterprise.id,
        {"level": "daily", "team_id": org.t1.id, "due_time": "16:30", "grace_minutes": 60, "site_id": org.s1.id},
    )
    weekly = service.create_schedule(
        db_session, officer, MONDAY, org.enterprise.id,
        {"level": "weekly", "department_id": org.d2.id, "due_weekday": 3},
    )
    monthly = service.create_schedule(
        db_session, officer, MONDAY, org.enterprise.id, {"level": "monthly", "due_month_day": 31, "label": "经理月检"}
    )
    assert (daily.team_id, daily.department_id, daily.site_id) == (org.t1.id, org.d1.id, org.s1.id)
    assert daily.label == "班组日排查" and daily.workdays_only and daily.starts_on == date(2026, 11, 23)
    assert (weekly.due_time, weekly.grace_minutes) == (time(17), 1440)  # the level's defaults
    assert monthly.label == "经理月检" and monthly.team_id is None and monthly.department_id is None
    service.generate_tasks(db_session, MONDAY)
    assert periods(db_session, daily.id) == [date(2026, 11, 23)]
    assert periods(db_session, weekly.id) == [date(2026, 11, 23)]
    assert periods(db_session, monthly.id) == [date(2026, 11, 1)]
    task = db_session.scalar(select(CheckTask).where(CheckTask.schedule_id == daily.id))
    assert task.due_at == local(2026, 11, 23, 16, 30) and task.grace_until == local(2026, 11, 23, 17, 30)
    weekly_task = db_session.scalar(select(CheckTask).where(CheckTask.schedule_id == weekly.id))
    assert weekly_task.due_at == local(2026, 11, 25, 17, 0)  # Wednesday
    monthly_task = db_session.scalar(select(CheckTask).where(CheckTask.schedule_id == monthly.id))
    assert monthly_task.due_at == local(2026, 11, 30, 17, 0)  # 31 → the last day of November
    # Saturday and Sunday have no daily check on workdays only.
    service.generate_tasks(db_session, local(2026, 11, 30))
    assert date(2026, 11, 28) not in periods(db_session, daily.id)
    assert date(2026, 11, 30) in periods(db_session, daily.id)


def test_one_active_routine_schedule_per_unit(db_session, org):
    officer = org.actor(org.officer)
    first = service.create_schedule(
        db_session, officer, MONDAY, org.enterprise.id, {"level": "daily", "team_id": org.t1.id, "label": "一班日检"}
    )
    with pytest.raises(Conflict) as caught:
        service.create_schedule(db_session, officer, MONDAY, org.enterprise.id, {"level": "daily", "team_id": org.t1.id})
    assert "一班日检" in caught.value.message and "熔炼一班" in caught.value.message
    # Another team, and another level of the same department, are fine.
    service.create_schedule(db_session, officer, MONDAY, org.enterprise.id, {"level": "daily", "team_id": org.t2.id})
    service.create_schedule(db_session, officer, MONDAY, org.enterprise.id, {"level": "weekly", "department_id": org.d1.id})
    service.create_schedule(db_session, officer, MONDAY, org.enterprise.id, {"level": "monthly"})
    with pytest.raises(Conflict):
        service.create_schedule(db_session, officer, MONDAY, org.enterprise.id, {"level": "monthly"})
    # A paused one leaves room for a new one, and may then not be resumed beside it.
    service.set_schedule_active(db_session, officer, MONDAY, first.id, False)
    second = service.create_schedule(
        db_session, officer, MONDAY, org.enterprise.id, {"level": "daily", "team_id": org.t1.id, "label": "一班新日检"}
    )
    with pytest.raises(Conflict) as caught:
        service.set_schedule_active(db_session, officer, MONDAY, first.id, True)
    assert "一班新日检" in caught.value.message
    assert db_session.get(CheckSchedule, first.id).active is False and second.active


def test_bad_input_and_other_enterprises_units_are_refused(db_session, build, org):
    officer = org.actor(org.officer)
    foreign = build.enterprise(name="别家企业")
    foreign_team = build.team(build.department(foreign))
    foreign_department = build.department(foreign)
    foreign_site = build.site(foreign)
    before = schedule_count(db_session)
    cases = [
        ({"level": "daily"}, "team_id"),
        ({"level": "weekly"}, "department_id"),
        ({"level": "hourly"}, "level"),
        ({"level": "daily", "team_id": foreign_team.id}, "team_id"),
        ({"level": "weekly", "department_id": foreign_department.id}, "department_id"),
        ({"level": "monthly", "site_id": foreign_site.id}, "site_id"),
        ({"level": "daily", "team_id": org.t1.id, "site_id": org.s2.id}, "site_id"),  # another department's site
        ({"level": "daily", "team_id": org.t1.id, "grace_minutes": 1441}, "grace_minutes"),
        ({"level": "daily", "team_id": org.t1.id, "due_time": "25:00"}, "due_time"),
        ({"level": "weekly", "department_id": org.d1.id, "due_weekday": 8}, "due_weekday"),
        ({"level": "monthly", "due_month_day": 0}, "due_month_day"),
        ({"level": "monthly", "workdays_only": True}, "workdays_only"),
        ({"level": "daily", "team_id": 2**31}, "team_id"),
    ]
    for data, field in cases:
        with pytest.raises(ValidationFailed) as caught:
            service.create_schedule(db_session, officer, MONDAY, org.enterprise.id, data)
        assert field in caught.value.fields, (data, caught.value.fields)
    assert schedule_count(db_session) == before
    with pytest.raises(PermissionDenied):
        service.create_schedule(db_session, org.actor(org.leader), MONDAY, org.enterprise.id, {"level": "monthly"})
    outsider = build.actor(build.member(foreign, "safety_officer"))
    with pytest.raises(NotFound):
        service.create_schedule(db_session, outsider, MONDAY, org.enterprise.id, {"level": "monthly"})
    mine = service.create_schedule(db_session, officer, MONDAY, org.enterprise.id, {"level": "monthly"})
    with pytest.raises(NotFound):
        service.update_schedule(db_session, outsider, MONDAY, mine.id, {"label": "改"})
    with pytest.raises(NotFound):
        service.update_schedule(db_session, officer, MONDAY, 2**31, {"label": "改"})


def test_edit_changes_label_timing_and_site_but_never_the_level(db_session, org):
    officer = org.actor(org.officer)
    daily = service.create_schedule(db_session, officer, MONDAY, org.enterprise.id, {"level": "daily", "team_id": org.t1.id})
    service.update_schedule(
        db_session, officer, MONDAY, daily.id,
        {"label": "一班日检", "due_time": "15:00", "grace_minutes": 30, "workdays_only": False, "site_id": org.gate.id},
    )
    assert (daily.label, daily.due_time, daily.grace_minutes, daily.workdays_only, daily.site_id) == (
        "一班日检", time(15), 30, False, org.gate.id,
    )
    service.update_schedule(db_session, officer, MONDAY, daily.id, {"site_id": None})
    assert daily.site_id is None
    for data, field in [({"level": "weekly"}, "level"), ({"team_id": org.t2.id}, "team_id"), ({"label": None}, "label"),
                        ({"site_id": org.s2.id}, "site_id"), ({"grace_minutes": 2000}, "grace_minutes")]:
        with pytest.raises(ValidationFailed) as caught:
            service.update_schedule(db_session, officer, MONDAY, daily.id, data)
        assert field in caught.value.fields
    db_session.expire_all()
    assert db_session.get(CheckSchedule, daily.id).level is CheckLevel.DAILY


def test_pause_keeps_the_begun_period_and_resume_leaves_no_backlog(db_session, org):
    officer = org.actor(org.officer)
    daily = service.create_schedule(db_session, officer, MONDAY, org.enterprise.id, {"level": "daily", "team_id": org.t1.id})
    weekly = service.create_schedule(
        db_session, officer, MONDAY, org.enterprise.id, {"level": "weekly", "department_id": org.d1.id}
    )
    # Generated two days ahead: Monday, Tuesday and Wednesday.
    service.generate_tasks(db_session, MONDAY, horizon=timedelta(days=2))
    assert periods(db_session, daily.id) == [date(2026, 11, 23), date(2026, 11, 24), date(2026, 11, 25)]
    service.set_schedule_active(db_session, officer, MONDAY, daily.id, False)
    service.set_schedule_active(db_session, officer, MONDAY, weekly.id, False)
    # Today's task stays owed; the ones generated ahead are gone; this week's stays too.
    assert periods(db_session, daily.id) == [date(2026, 11, 23)]
    assert periods(db_session, weekly.id) == [date(2026, 11, 23)]
    today = db_session.scalar(select(CheckTask).where(CheckTask.schedule_id == daily.id))
    assert today.status is CheckTaskStatus.PENDING
    # No new tasks while paused, however long.
    service.generate_tasks(db_session, local(2026, 12, 9))
    assert periods(db_session, daily.id) == [date(2026, 11, 23)]
    assert periods(db_session, weekly.id) == [date(2026, 11, 23)]
    # Resumed on Wednesday 9 December: from that day on, nothing for the pause.
    service.set_schedule_active(db_session, officer, local(2026, 12, 9), daily.id, True)
    service.set_schedule_active(db_session, officer, local(2026, 12, 9), weekly.id, True)
    assert db_session.get(CheckSchedule, daily.id).starts_on == date(2026, 12, 9)
    service.generate_tasks(db_session, local(2026, 12, 10))
    assert periods(db_session, daily.id) == [date(2026, 11, 23), date(2026, 12, 9), date(2026, 12, 10)]
    assert periods(db_session, weekly.id) == [date(2026, 11, 23), date(2026, 12, 7)]
