"""The demo's sixty days of history: checks done, done late and missed (more missed in the
weaker enterprises), hazards in every state with some overdue, three major hazards through
the five duties (two under supervision), the history's outbox already delivered while what
is overdue now escalates for real, and seeding twice adds nothing.

The district is seeded once for the module (it takes a while), inside a transaction rolled
back at the end; the one test that writes more does so in a savepoint it rolls back."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.accounts.domain import Role
from app.accounts.models import Membership
from app.demo.history import WEAK, demo_enterprises
from app.demo.seed import seed_demo
from app.hazard_reporting.checks.domain import CheckLevel, CheckTaskStatus
from app.hazard_reporting.checks.models import CheckSubmission, CheckTask
from app.hazard_reporting.escalation.service import run_escalations
from app.hazard_reporting.hazards.domain import (
    HazardAction,
    HazardLevel,
    HazardStatus,
    missing_five_in_place,
)
from app.hazard_reporting.hazards.models import Hazard, HazardEvent, HazardPhoto, MajorHazardPlan
from app.hazard_reporting.schedules.models import CheckSchedule
from app.notifications.models import NotificationPreference, OutboxMessage
from tests.conftest import TEST_SECRET

pytestmark = pytest.mark.slow

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)  # Thursday 10:00 in Asia/Shanghai
TODAY_DUE = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)  # today's daily checks: 17:00 local


class Seeded:
    def __init__(self, session, first: int):
        self.session = session
        self.first = first


@pytest.fixture(scope="module")
def seeded(app, tmp_path_factory):
    from app.extensions import db

    connection = db.engine.connect()
    outer = connection.begin()
    db.session_factory.configure(bind=connection, join_transaction_mode="create_savepoint")
    session = db.session_factory()
    try:
        first = seed_demo(session, NOW, TEST_SECRET, media_root=tmp_path_factory.mktemp("demo-media"))
        yield Seeded(session, first)
    finally:
        session.close()
        outer.rollback()
        connection.close()
        db.session_factory.configure(bind=db.engine, join_transaction_mode="conditional_savepoint")


def count(session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


def test_checks_were_done_on_time_late_and_missed_more_in_the_weaker_enterprises(seeded):
    s = seeded.session
    enterprises = demo_enterprises(s)
    # The eight staffed enterprises' history (the district's summarised one has its own tests).
    eight = [e.id for e in enterprises.values()]
    by_status = Counter(s.scalars(select(CheckTask.status).where(CheckTask.enterprise_id.in_(eight))))
    assert by_status[CheckTaskStatus.DONE] > by_status[CheckTaskStatus.DONE_LATE] > 0
    assert by_status[CheckTaskStatus.MISSED] > 0
    # Done checks went through submit_check: one submission each, none for the missed ones.
    closed_in_time = by_status[CheckTaskStatus.DONE] + by_status[CheckTaskStatus.DONE_LATE]
    assert count(s, CheckSubmission, CheckSubmission.enterprise_id.in_(eight)) == closed_in_time
    missed_with_submission = count(
        s, CheckSubmission, CheckSubmission.task_id.in_(select(CheckTask.id).where(CheckTask.status == "missed"))
    )
    assert missed_with_submission == 0

    def missed_share(ids) -> float:
        rows = s.execute(select(CheckTask.status).where(CheckTask.enterprise_id.in_(ids), CheckTask.status != "pending"))
        statuses = [status for (status,) in rows]
        return statuses.count(CheckTaskStatus.MISSED) / len(statuses)

    weak = [e.id for key, e in enterprises.items() if key in WEAK]
    others = [e.id for key, e in enterprises.items() if key not in WEAK]
    assert len(weak) == 2 and missed_share(weak) > 2 * missed_share(others)
    assert set(eight) <= set(s.scalars(select(CheckTask.enterprise_id).distinct()))
    # Sixty days back, and today's daily checks are waiting to be done (the demo's scan).
    first_period = s.scalar(select(func.min(CheckTask.period_start)).where(CheckTask.enterprise_id.in_(eight)))
    assert (NOW.date() - first_period).days >= 60
    today = s.scalars(
        select(CheckTask.status).join(CheckSchedule).where(
            CheckSchedule.level == CheckLevel.DAILY, CheckTask.due_at == TODAY_DUE, CheckTask.enterprise_id.in_(eight)
        )
    ).all()
    assert today and set(today) == {CheckTaskStatus.PENDING}


def test_hazards_in_every_state_some_overdue_each_with_its_history(seeded):
    s = seeded.session
    eight = [e.id for e in demo_enterprises(s).values()]
    ours = Hazard.enterprise_id.in_(eight)
    statuses = set(s.scalars(select(Hazard.status).where(Hazard.level == HazardLevel.GENERAL, ours)))
    assert statuses >= {
        HazardStatus.REPORTED,
        HazardStatus.ASSIGNED,
        HazardStatus.RECTIFYING,
        HazardStatus.RECTIFIED,
        HazardStatus.CLOSED,
        HazardStatus.REJECTED,
    }
    open_overdue = count(
        s, Hazard, Hazard.status.not_in([HazardStatus.CLOSED, HazardStatus.REJECTED]), Hazard.deadline < NOW, ours
    )
    assert open_overdue >= 3
    # Found in checks and reported on the spot, each with its photo.
    # The demo's enforcement inspections (app/demo/enforcement.py) add hazards found by the bureau, today.
    assert {source for (source,) in s.execute(select(Hazard.source).where(ours).distinct())} == {"check", "adhoc", "enforcement"}
    ours = ours & (Hazard.source != "enforcement")
    for hazard in s.scalars(select(Hazard).where(ours)):
        events = hazard.events
        assert events[0].action is HazardAction.REPORT and events[0].from_status is None
        moves = [e for e in events if e.from_status != e.to_status or e.from_status is None]
        assert all(a.to_status == b.from_status for a, b in zip(moves, moves[1:], strict=False)), hazard.id
        assert moves[-1].to_status is hazard.status
        assert [e.at for e in events] == sorted(e.at for e in events)
        assert any(p.kind == "before" for p in hazard.photos)
        if hazard.status is HazardStatus.CLOSED and hazard.level is HazardLevel.GENERAL:
            assert events[-1].action is HazardAction.VERIFY and any(p.kind == "after" for p in hazard.photos)
    assert count(s, HazardPhoto) > count(s, Hazard, ours)


def test_two_major_hazards_under_supervision_with_complete_plans_and_every_duty_recorded(seeded):
    s = seeded.session
    majors = s.scalars(select(Hazard).where(Hazard.level == HazardLevel.MAJOR).order_by(Hazard.id)).all()
    supervised = [h for h in majors if h.status is not HazardStatus.CLOSED and h.plan.supervised_at is not None]
    assert len(supervised) == 2
    assert {h.status for h in supervised} == {HazardStatus.SUPERVISING, HazardStatus.RECTIFYING}
    for hazard in majors:
        plan: MajorHazardPlan = hazard.plan
        assert missing_five_in_place(plan.five_in_place()) == {}
        assert plan.milestones and hazard.criteria_code.startswith("M23-")
        duties = [plan.assessed_at, plan.registered_at, plan.approved_at, plan.supervised_at]
        assert None not in duties and duties == sorted(duties)
        assert plan.registration_no and plan.assessor and plan.supervising_unit
        assert hazard.deadline == plan.deadline > NOW or hazard.status is HazardStatus.CLOSED
        actions = [e.action for e in hazard.events]
        for duty in (HazardAction.ASSESS, HazardAction.REGISTER, HazardAction.SAVE_PLAN,
                     HazardAction.APPROVE_PLAN, HazardAction.SUPERVISE):
            assert duty in actions, (hazard.id, duty)
    [accepted] = [h for h in majors if h.status is HazardStatus.CLOSED]
    assert accepted.plan.accepted_at is not None and accepted.events[-1].action is HazardAction.ACCEPT


def test_the_history_s_outbox_is_delivered_and_what_is_overdue_now_escalates_for_real(seeded):
    s = seeded.session
    assert count(s, OutboxMessage) > 0
    # What the seed does at NOW (the demo's enforcement inspections) is new: queued for the dispatcher.
    assert count(s, OutboxMessage, OutboxMessage.status != "delivered", OutboxMessage.created_at < NOW) == 0
    assert count(s, OutboxMessage, OutboxMessage.dedupe_key.like("esc:%")) > 0  # past escalations, delivered
    managers = set(s.scalars(select(Membership.user_id).where(Membership.role == Role.MANAGER)))
    savepoint = s.begin_nested()
    try:
        result = run_escalations(s, NOW + timedelta(minutes=1))  # the scheduler's first run
        fresh = s.execute(
            select(OutboxMessage.kind, OutboxMessage.recipient_user_id).where(
                OutboxMessage.status == "queued", OutboxMessage.created_at > NOW
            )
        ).all()
        assert result.total_notices == len(fresh) > 0
        assert {kind for kind, user in fresh if user in managers} & {"check_overdue_l3", "hazard_overdue_l3"}
        assert run_escalations(s, NOW + timedelta(minutes=2)).total_notices == 0
    finally:
        savepoint.rollback()


def test_the_demo_people_take_notices_at_any_hour_and_one_manager_reads_the_digest(seeded):
    s = seeded.session
    preferences = s.scalars(select(NotificationPreference)).all()
    assert preferences and all(p.quiet_start is None and p.quiet_end is None for p in preferences)
    digest_readers = [p.user_id for p in preferences if p.digest_only]
    assert len(digest_readers) == 1
    assert s.scalar(select(Membership.role).where(Membership.user_id == digest_readers[0])) is Role.MANAGER


def test_seeding_twice_adds_nothing(seeded):
    s = seeded.session
    models = (CheckTask, CheckSubmission, Hazard, HazardEvent, HazardPhoto, MajorHazardPlan, OutboxMessage)
    before = {model.__name__: count(s, model) for model in models}
    assert seeded.first > 1000
    assert seed_demo(s, NOW + timedelta(hours=1), TEST_SECRET, media_root="/nonexistent") == 0
    assert {model.__name__: count(s, model) for model in models} == before


def test_the_night_team_checks_every_evening_and_leaves_today_to_the_visitor(seeded):
    """The headline (app/demo/headline.py): the night team's schedule is due 23:59 from the
    history's first day, its past checks were done, today's is open."""
    from app.demo.headline import headline

    session = seeded.session
    told = headline(session)
    assert told is not None and told["due_time"] == "23:59"
    [schedule] = session.scalars(
        select(CheckSchedule).join(CheckTask, CheckTask.schedule_id == CheckSchedule.id).where(
            CheckSchedule.label == "班组日排查", CheckSchedule.due_time == told_time(told)
        ).distinct()
    ).all()
    tasks = session.scalars(select(CheckTask).where(CheckTask.schedule_id == schedule.id).order_by(CheckTask.due_at)).all()
    assert len(tasks) >= 50  # every day, weekends too
    assert tasks[-1].status is CheckTaskStatus.PENDING and tasks[-1].due_at > NOW
    assert sum(t.status in (CheckTaskStatus.DONE, CheckTaskStatus.DONE_LATE) for t in tasks[:-1]) > len(tasks) // 2


def told_time(told):
    from datetime import time

    return time.fromisoformat(told["due_time"])
