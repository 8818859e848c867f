"""The demo's headline at any hour (issue 12): after the seed and the scheduler's first run,
a named team leader has today's 班组日排查 open and not past due at the point the start-up
banner names — on a working day or not, morning, evening or just before midnight."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, select

from app.accounts.models import User
from app.clock import LOCAL_TZ, local_today
from app.demo import seed as seed_module
from app.demo.headline import headline
from app.demo.history import demo_enterprises
from app.demo.seed import demo_summary, seed_demo
from app.enterprises.models import Site, Team
from app.hazard_reporting.checks import queries as check_queries
from app.hazard_reporting.checks.domain import CheckTaskStatus, ScheduleKind
from app.hazard_reporting.schedules.models import CheckSchedule
from app.hazard_reporting.schedules.service import ensure_default_schedules, generate_tasks
from tests.conftest import TEST_SECRET


@pytest.fixture
def no_history(monkeypatch):
    """The sixty days of history are slow and have tests of their own (test_demo_history.py
    checks they leave today's night check to the visitor); here only its set-up runs (the
    default schedules of every demo enterprise), and the schedule and the scheduler alone
    must give the headline."""

    def set_up_only(session, now, media_root):
        for enterprise in demo_enterprises(session).values():
            ensure_default_schedules(session, now, enterprise.id)
        return 0

    monkeypatch.setattr(seed_module, "seed_history", set_up_only)


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=LOCAL_TZ).astimezone(UTC)


@pytest.mark.parametrize(
    "now",
    [
        local(28, 0, 30),  # Saturday (no working day), just after midnight
        local(30, 19, 30),  # Monday, after the day teams' checks and their grace are over
        local(30, 23, 50),
    ],
)
def test_a_named_team_leader_has_todays_check_open_at_any_hour(app, db_session, now, no_history, tmp_path):
    seed_demo(db_session, now, TEST_SECRET, media_root=tmp_path)
    generate_tasks(db_session, now)  # the scheduler's run at start
    told = headline(db_session)
    assert told is not None
    assert told["text"] == f"试一试：在模拟器中以 {told['leader']}（班组长）扫描点位「{told['site']}」完成今天的班组日排查"
    leader = db_session.scalar(select(User).where(User.openid == told["leader_openid"]))
    assert leader.display_name == told["leader"]
    site = db_session.scalar(select(Site).where(Site.name == told["site"]))
    owed = check_queries.tasks_owed(db_session, leader, site, now)
    today = [t for t in owed if t.period_start == local_today(now) and t.schedule.label == "班组日排查"]
    assert today, "today's check is open at the point"
    [task] = today
    assert task.status is CheckTaskStatus.PENDING and task.due_at > now
    assert demo_summary(db_session, app.config["SETTINGS"])["headline"] == told


def test_reseeding_leaves_the_night_schedule_as_it_is(app, db_session, no_history, tmp_path):
    now = local(28, 10)
    seed_demo(db_session, now, TEST_SECRET, media_root=tmp_path)
    assert seed_demo(db_session, now, TEST_SECRET, media_root=tmp_path) == 0
    assert headline(db_session)["due_time"] == "23:59"


def test_a_demo_seeded_before_the_night_team_gets_its_schedule_at_the_next_seed(app, db_session, no_history, tmp_path):
    """A demo that runs for days was seeded by the version before: the next `make run`
    (which seeds again) adds the team, its leader and its night schedule."""
    now = local(30, 21)
    seed_demo(db_session, now, TEST_SECRET, media_root=tmp_path)
    schedule_id = db_session.scalar(
        select(CheckSchedule.id).where(CheckSchedule.team_id == Team.id, Team.name == "夜班巡检班")
    )
    db_session.execute(delete(CheckSchedule).where(CheckSchedule.id == schedule_id))
    assert headline(db_session) is None
    seed_demo(db_session, now, TEST_SECRET, media_root=tmp_path)
    generate_tasks(db_session, now)
    assert headline(db_session)["due_time"] == "23:59"


def test_without_the_demos_schedules_nothing_is_set_up(app, db_session, monkeypatch, tmp_path):
    monkeypatch.setattr(seed_module, "seed_history", lambda *args: 0)
    seed_demo(db_session, local(30, 21), TEST_SECRET, media_root=tmp_path)
    # The eight staffed enterprises have none (the district's others have their own history).
    eight = [e.id for e in demo_enterprises(db_session).values()]
    # (Their risk registers are seeded even so, and give their red/orange sites risk-point rounds.)
    assert db_session.scalar(
        select(CheckSchedule.id)
        .where(CheckSchedule.enterprise_id.in_(eight), CheckSchedule.kind != ScheduleKind.RISK_POINT)
        .limit(1)
    ) is None
    assert headline(db_session) is None
