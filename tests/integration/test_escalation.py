"""The escalation job on a real database: overdue checks and hazards climb the ladder one
notice per level and person, running twice writes nothing new, a late run catches up, the
recipients of each level, major hazards, closed hazards, extensions and the lookback."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from app.accounts.models import Membership
from app.clock import LOCAL_TZ
from app.hazard_reporting.checklists import service as checklists
from app.hazard_reporting.checks import service as checks
from app.hazard_reporting.checks.domain import CheckLevel, CheckTaskStatus, ScheduleKind
from app.hazard_reporting.checks.models import CheckTask
from app.hazard_reporting.checks.queries import member_facts, schedule_facts
from app.hazard_reporting.escalation.domain import DEFAULT_POLICY, EscalationPolicy, task_audience
from app.hazard_reporting.escalation.service import run_escalations, task_notice_query
from app.hazard_reporting.hazards.domain import (
    HazardCategory,
    HazardLevel,
    HazardSource,
    HazardStatus,
    general_deadline,
)
from app.hazard_reporting.hazards.models import Hazard
from app.hazard_reporting.schedules import service as schedules
from app.hazard_reporting.schedules.models import CheckSchedule
from app.notifications.kinds import get_kind, render
from app.notifications.models import OutboxMessage
from app.scheduling.jobs import Interval, JobSpec, resolve_jobs

H = timedelta(hours=1)
ESCALATION_JOB = "app.hazard_reporting.escalation.service:run_escalations"


def local(y, m, d, hh=10, mm=0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=LOCAL_TZ).astimezone(UTC)


MONDAY = local(2026, 11, 23, 8)  # week 48 of 2026, no holidays around
DUE = local(2026, 11, 23, 17)  # the daily checks of that Monday are due at 17:00


class Org:
    """Two departments, three teams, one person per role (two heads), a site per department."""

    def __init__(self, build):
        self.build = build
        e = self.enterprise = build.enterprise()
        self.d1, self.d2 = build.department(e), build.department(e)
        self.t1, self.t2, self.t3 = build.team(self.d1), build.team(self.d1), build.team(self.d2)
        self.s1 = build.site(e, department_id=self.d1.id)
        self.leader1 = build.member(e, "team_leader", team_id=self.t1.id, department_id=self.d1.id)
        self.leader2 = build.member(e, "team_leader", team_id=self.t2.id, department_id=self.d1.id)
        self.leader3 = build.member(e, "team_leader", team_id=self.t3.id)  # department via the team
        self.head1 = build.member(e, "department_head", department_id=self.d1.id)
        self.head2 = build.member(e, "department_head", department_id=self.d2.id)
        self.manager = build.member(e, "manager")
        self.officer = build.member(e, "safety_officer")
        self.admin = build.member(e, "enterprise_admin")
        self.worker = build.member(e, "worker", team_id=self.t1.id, department_id=self.d1.id)


@pytest.fixture
def org(db_session, build) -> Org:
    checklists.load_standard_checklists(db_session, MONDAY)
    org = Org(build)
    schedules.ensure_default_schedules(db_session, MONDAY, org.enterprise.id)
    schedules.generate_tasks(db_session, MONDAY)
    return org


def notices(session, kind_prefix: str = "") -> set[tuple[str, int, int]]:
    """(kind, recipient, task or hazard id) of the escalation notices written so far."""
    rows = session.execute(
        select(OutboxMessage.kind, OutboxMessage.recipient_user_id, OutboxMessage.payload).where(
            OutboxMessage.dedupe_key.like("esc:%"), OutboxMessage.kind.like(f"{kind_prefix}%")
        )
    ).all()
    return {(kind, user, payload.get("task_id") or payload.get("hazard_id")) for kind, user, payload in rows}


def outbox_count(session) -> int:
    return session.scalar(select(func.count()).select_from(OutboxMessage))


def daily_task(session, team) -> CheckTask:
    return session.scalar(
        select(CheckTask)
        .join(CheckSchedule)
        .where(CheckSchedule.team_id == team.id, CheckTask.period_start == date(2026, 11, 23))
    )


# --- overdue checks --------------------------------------------------------------------------


def test_each_level_is_written_once_at_its_time(db_session, org):
    t1 = daily_task(db_session, org.t1)
    assert run_escalations(db_session, DUE - timedelta(minutes=1)).total_notices == 0

    first = run_escalations(db_session, DUE)
    assert first.notices == {"check_overdue_l1": 3}  # the three daily checks, to their leaders
    assert ("check_overdue_l1", org.leader1.id, t1.id) in notices(db_session)
    assert run_escalations(db_session, DUE + H).total_notices == 0  # running again: nothing new

    second = run_escalations(db_session, DUE + 2 * H)
    # Grace ends: the department heads hear of it; a minute later the tasks are missed.
    assert second.notices == {"check_overdue_l2": 3}
    assert run_escalations(db_session, DUE + 2 * H + timedelta(minutes=1)).missed_tasks == 3
    assert notices(db_session, "check_overdue_l2") == {
        ("check_overdue_l2", org.head1.id, daily_task(db_session, org.t1).id),
        ("check_overdue_l2", org.head1.id, daily_task(db_session, org.t2).id),
        ("check_overdue_l2", org.head2.id, daily_task(db_session, org.t3).id),
    }
    third = run_escalations(db_session, DUE + 24 * H)
    assert third.notices["check_overdue_l3"] == 3
    assert {user for _, user, _ in notices(db_session, "check_overdue_l3")} == {org.manager.id}
    before = outbox_count(db_session)
    assert run_escalations(db_session, DUE + 25 * H).total_notices == 0
    assert outbox_count(db_session) == before


def test_a_late_run_catches_up_every_level_at_once_and_only_once(db_session, org):
    result = run_escalations(db_session, DUE + 30 * H)
    assert result.missed_tasks == 3
    assert {k: v for k, v in result.notices.items() if k.startswith("check_")} == {
        "check_overdue_l1": 3,
        "check_overdue_l2": 3,
        "check_overdue_l3": 3,
    }
    assert run_escalations(db_session, DUE + 30 * H).total_notices == 0


def test_done_and_excused_checks_do_not_escalate_and_a_late_submission_stops_the_ladder(db_session, org):
    checks.close_task(db_session, daily_task(db_session, org.t1), DUE - H)  # done in time
    checks.excuse_task(db_session, org.build.actor(org.manager), MONDAY, daily_task(db_session, org.t2).id, "停产检修")
    run_escalations(db_session, DUE)
    t3 = daily_task(db_session, org.t3)
    assert notices(db_session) == {("check_overdue_l1", org.leader3.id, t3.id)}
    checks.close_task(db_session, t3, DUE + H)  # done late, within grace
    assert db_session.get(CheckTask, t3.id).status is CheckTaskStatus.DONE_LATE
    assert run_escalations(db_session, DUE + 30 * H).total_notices == 0


def test_notices_carry_what_the_template_shows(db_session, org):
    run_escalations(db_session, DUE)
    row = db_session.scalar(
        select(OutboxMessage).where(OutboxMessage.recipient_user_id == org.leader1.id, OutboxMessage.kind == "check_overdue_l1")
    )
    assert row.status == "queued" and row.next_attempt_at == DUE and row.created_at == DUE and not row.urgent
    assert row.dedupe_key == f"esc:task:{row.payload['task_id']}:L1:{org.leader1.id}"
    assert row.payload["responsible"] == org.t1.name and row.payload["escalation_level"] == 1
    rendered = render(get_kind(row.kind), row.payload, "http://ancha.test")
    assert rendered.data["thing3"] == {"value": "班组日排查 11月23日"}
    assert rendered.data["time4"] == {"value": "2026-11-23 17:00"}
    assert rendered.url == "http://ancha.test/h5/tasks"


def test_weekly_and_monthly_checks_skip_the_owner_on_the_way_up(db_session, org):
    month_end = local(2026, 11, 30, 17)  # the weekly checks were due on Friday the 27th
    run_escalations(db_session, month_end + 30 * H)
    weekly = {(kind, user) for kind, user, task in notices(db_session) if _level_of(db_session, task) is CheckLevel.WEEKLY}
    assert weekly == {
        ("check_overdue_l1", org.head1.id),
        ("check_overdue_l1", org.head2.id),
        ("check_overdue_l3", org.manager.id),
    }
    monthly = {(kind, user) for kind, user, task in notices(db_session) if _level_of(db_session, task) is CheckLevel.MONTHLY}
    assert monthly == {("check_overdue_l1", org.manager.id)}


def _level_of(session, task_id: int) -> CheckLevel:
    return session.scalar(select(CheckSchedule.level).join(CheckTask).where(CheckTask.id == task_id))


def test_the_sql_audience_agrees_with_the_domain_rule(db_session, build, org):
    """The SQL form of `owes` and of the levels above it gives, for every task and member,
    what escalation_domain.task_audience says — routine and risk-point schedules alike."""
    e = org.enterprise
    site0 = build.site(e)  # no department: rounds owed by safety officers and managers
    for site in (org.s1, site0):
        schedules.set_site_risk_profile(
            db_session, build.actor(org.admin), MONDAY, site.id, {"risk_level": "red", "is_major_risk_point": True}
        )
    # A risk-point schedule naming a team (allowed by the model, not created by the defaults).
    db_session.add(
        CheckSchedule(
            enterprise_id=e.id, kind=ScheduleKind.RISK_POINT, level=CheckLevel.DAILY, slot="team", label="班组点位巡查",
            team_id=org.t1.id, department_id=org.d1.id, site_id=org.s1.id, due_time=time(17), grace_minutes=60,
            starts_on=date(2026, 11, 23),
        )
    )
    db_session.flush()
    schedules.generate_tasks(db_session, MONDAY)
    now = local(2026, 12, 3, 12)  # every level of every November task is due, none stale yet
    policy = EscalationPolicy(lookback=timedelta(days=20))
    tasks = db_session.scalars(select(CheckTask).where(CheckTask.enterprise_id == e.id)).all()
    kinds = {s.kind for s in db_session.scalars(select(CheckSchedule).where(CheckSchedule.enterprise_id == e.id))}
    assert kinds == {ScheduleKind.ROUTINE, ScheduleKind.RISK_POINT}
    users = db_session.scalars(select(Membership.user_id).where(Membership.enterprise_id == e.id)).all()
    facts = {user: member_facts(db_session, user, e.id) for user in users}
    dialect = db_session.get_bind().dialect.name  # LATERAL on PostgreSQL, a plain join on SQLite
    rows = db_session.execute(task_notice_query(now, policy, dialect=dialect)).all()
    for level in (1, 2, 3):
        sql = {(r.task_id, r.user_id) for r in rows if r.level == level}
        expected = {
            (task.id, user)
            for task in tasks
            for user, members in facts.items()
            if any(task_audience(level, schedule_facts(task.schedule), m) for m in members)
        }
        assert sql == expected, level
        assert expected or level == 2


# --- overdue hazards -------------------------------------------------------------------------


def hazard(session, org, *, reported: datetime, level=HazardLevel.GENERAL, status=HazardStatus.ASSIGNED,
           assignee=None, department=None, deadline: datetime | None = None) -> Hazard:
    """A hazard row as the hazards service leaves it (the lifecycle has its own tests)."""
    row = Hazard(
        enterprise_id=org.enterprise.id,
        department_id=department.id if department else None,
        source=HazardSource.ADHOC,
        level=level,
        category=HazardCategory.UNSAFE_CONDITION,
        description="皮带输送机尾轮防护罩缺失",
        location="一号厂房",
        reporter_id=org.worker.id,
        assignee_id=assignee.id if assignee else None,
        deadline=deadline or general_deadline(reported),
        status=status,
        closed_at=reported + H if status in (HazardStatus.CLOSED, HazardStatus.REJECTED) else None,
        created_at=reported,
        updated_at=reported,
    )
    session.add(row)
    session.flush()
    return row


def hazard_notices(session, hazard_row) -> set[tuple[str, int]]:
    return {(kind, user) for kind, user, ref in notices(session, "hazard_") if ref == hazard_row.id}


def of_hazards(result) -> dict[str, int]:
    """The hazard notices of a run's counts (the org's checks of that Monday are overdue too)."""
    return {kind: n for kind, n in result.notices.items() if kind.startswith("hazard_")}


def test_a_general_hazard_is_due_soon_then_climbs_to_the_head_and_the_manager(db_session, org):
    h = hazard(db_session, org, reported=MONDAY, assignee=org.leader1)
    deadline = h.deadline  # 23:59:59 local: 不过夜
    assert of_hazards(run_escalations(db_session, deadline - 3 * H)) == {}
    assert of_hazards(run_escalations(db_session, deadline - H)) == {"hazard_due_soon": 1}
    run_escalations(db_session, deadline)
    run_escalations(db_session, deadline + 2 * H)
    run_escalations(db_session, deadline + 24 * H)
    assert hazard_notices(db_session, h) == {
        ("hazard_due_soon", org.leader1.id),
        ("hazard_overdue_l1", org.leader1.id),
        # The safety officer and the enterprise admin hear of it once it is overdue.
        ("hazard_overdue_l1", org.officer.id),
        ("hazard_overdue_l1", org.admin.id),
        ("hazard_overdue_l2", org.head1.id),  # the reporter's department: the hazard names none
        ("hazard_overdue_l3", org.manager.id),
    }
    before = outbox_count(db_session)
    run_escalations(db_session, deadline + 24 * H)
    assert outbox_count(db_session) == before  # running twice writes nothing new


def test_a_hazard_found_at_night_is_not_due_soon_a_minute_after_it_was_assigned(db_session, org):
    """Issue 12: found at 22:49, it got a 70-minute deadline and a due-soon notice at once."""
    found = local(2026, 11, 23, 22, 49)
    h = hazard(db_session, org, reported=found, assignee=org.leader1)
    assert h.deadline == local(2026, 11, 24, 18)  # the end of the next day shift
    assert of_hazards(run_escalations(db_session, found + timedelta(minutes=1))) == {}
    assert of_hazards(run_escalations(db_session, local(2026, 11, 24, 8))) == {}
    assert of_hazards(run_escalations(db_session, local(2026, 11, 24, 16, 30))) == {"hazard_due_soon": 1}


def test_a_short_window_is_not_due_soon_in_its_first_half(db_session, org):
    """A deadline set close to the report (an explicit one): due soon only in its second half."""
    reported = local(2026, 11, 23, 10)
    h = hazard(db_session, org, reported=reported, assignee=org.leader1, deadline=reported + 2 * H)
    assert of_hazards(run_escalations(db_session, reported + timedelta(minutes=1))) == {}
    assert of_hazards(run_escalations(db_session, reported + timedelta(minutes=61))) == {"hazard_due_soon": 1}
    assert hazard_notices(db_session, h) == {("hazard_due_soon", org.leader1.id)}


def test_an_unassigned_hazard_goes_to_its_department_head(db_session, org):
    h = hazard(db_session, org, reported=MONDAY, status=HazardStatus.REPORTED, department=org.d2)
    run_escalations(db_session, h.deadline + 30 * H)  # late: catches up, but no "due soon" any more
    assert hazard_notices(db_session, h) == {
        ("hazard_overdue_l1", org.head2.id),
        ("hazard_overdue_l1", org.officer.id),
        ("hazard_overdue_l1", org.admin.id),
        ("hazard_overdue_l3", org.manager.id),
    }


def test_a_major_hazard_reaches_the_manager_and_safety_officer_from_level_1(db_session, org):
    h = hazard(
        db_session, org, reported=MONDAY - 30 * 24 * H, level=HazardLevel.MAJOR, status=HazardStatus.RECTIFYING,
        assignee=org.worker, department=org.d1, deadline=DUE,
    )
    result = run_escalations(db_session, DUE)
    assert hazard_notices(db_session, h) == {
        ("hazard_overdue_l1", org.worker.id),
        ("hazard_overdue_l1", org.manager.id),
        ("hazard_overdue_l1", org.officer.id),
        ("hazard_overdue_l1", org.admin.id),
    }
    assert of_hazards(result) == {"hazard_overdue_l1": 4}
    rows = db_session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "hazard_overdue_l1")).all()
    assert all(row.urgent and row.payload["level"] == "major" for row in rows)  # never held nor folded
    assert render(get_kind("hazard_overdue_l1"), rows[0].payload, "http://ancha.test").url == (
        f"http://ancha.test/h5/hazards/{h.id}"
    )
    run_escalations(db_session, DUE + 24 * H)
    assert {user for kind, user in hazard_notices(db_session, h) if kind == "hazard_overdue_l2"} == {
        org.head1.id, org.manager.id, org.officer.id, org.admin.id
    }
    assert {user for kind, user in hazard_notices(db_session, h) if kind == "hazard_overdue_l3"} == {
        org.manager.id, org.officer.id, org.admin.id
    }


@pytest.mark.parametrize("status", [HazardStatus.CLOSED, HazardStatus.REJECTED])
def test_closed_and_rejected_hazards_never_escalate(db_session, org, status):
    h = hazard(db_session, org, reported=MONDAY, status=status, assignee=org.leader1)
    run_escalations(db_session, h.deadline - H)
    run_escalations(db_session, h.deadline + 30 * H)
    assert hazard_notices(db_session, h) == set()


def test_an_extended_deadline_that_is_missed_again_climbs_again(db_session, org):
    h = hazard(db_session, org, reported=MONDAY, assignee=org.leader1)
    first_deadline = h.deadline
    run_escalations(db_session, first_deadline)
    h.deadline = first_deadline + 24 * H  # an approved extension
    db_session.flush()
    assert of_hazards(run_escalations(db_session, first_deadline + H)) == {}  # no longer overdue
    run_escalations(db_session, h.deadline)
    keys = db_session.scalars(
        select(OutboxMessage.dedupe_key).where(
            OutboxMessage.kind == "hazard_overdue_l1", OutboxMessage.recipient_user_id == org.leader1.id
        )
    ).all()
    assert len(keys) == 2 and len(set(keys)) == 2


def test_items_older_than_the_lookback_are_not_escalated(db_session, org):
    h = hazard(db_session, org, reported=MONDAY, assignee=org.leader1)
    mondays = {daily_task(db_session, team).id for team in (org.t1, org.t2, org.t3)}
    run_escalations(db_session, h.deadline + DEFAULT_POLICY.lookback)  # both a week overdue
    # The sweep still records Monday's checks as missed; nobody is told a week later.
    assert {db_session.get(CheckTask, task).status for task in mondays} == {CheckTaskStatus.MISSED}
    assert not {task for _, _, task in notices(db_session, "check_")} & mondays
    assert hazard_notices(db_session, h) == set()


def test_the_scheduler_can_import_and_call_the_job(db_session, org):
    [job] = resolve_jobs([JobSpec("checks.escalate", "逾期升级提醒", ESCALATION_JOB, Interval(300), timedelta(minutes=5))])
    assert job.service is run_escalations
    assert job.service(db_session, now=DUE).notices == {"check_overdue_l1": 3}


def test_a_naive_now_is_refused(db_session):
    with pytest.raises(ValueError, match="naive"):
        run_escalations(db_session, datetime(2026, 11, 23, 9))
