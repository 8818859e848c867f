"""The demo district at scale (app/demo/district.py, district_seed.py, history_district.py):
惠济区's eight towns and streets, ~150 enterprises besides the eight staffed ones, their
certificates (some lapsed) against the 70 % target, a summarised hundred days of checks and
hazards for most of them and none for the newly registered — the same for the same seed and
day, and written once.

The district is seeded once for the module (without a media root: the eight's photo history
is history.py's and test_demo_history.py's), inside a transaction rolled back at the end."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session, aliased

from app.demo import data
from app.demo.district import TOWNS, plan_district
from app.demo.history import demo_enterprises
from app.demo.seed import demo_summary, seed_demo
from app.enterprises.domain import Scale, StandardizationScore, standardization_valid_on
from app.enterprises.models import Department, Enterprise, Site, Team, Town
from app.enterprises.schemas import validate_uscc
from app.hazard_reporting.checks.domain import CheckTaskStatus
from app.hazard_reporting.checks.models import CheckItemResult, CheckSubmission, CheckTask
from app.hazard_reporting.hazards.domain import HazardAction, HazardLevel, HazardStatus
from app.hazard_reporting.hazards.models import Hazard, HazardEvent
from app.hazard_reporting.schedules.models import CheckSchedule
from tests.conftest import TEST_SECRET

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)  # Thursday 10:00 in Asia/Shanghai
TODAY = NOW.date()


@pytest.fixture(scope="module")
def seeded(app):
    from app.extensions import db

    connection = db.engine.connect()
    outer = connection.begin()
    db.session_factory.configure(bind=connection, join_transaction_mode="create_savepoint")
    session = db.session_factory()
    try:
        created = seed_demo(session, NOW, TEST_SECRET)
        yield session, created
    finally:
        session.close()
        outer.rollback()
        connection.close()
        db.session_factory.configure(bind=db.engine, join_transaction_mode="conditional_savepoint")


def district_ids(session) -> list[int]:
    eight = {e.id for e in demo_enterprises(session).values()}
    return [i for i in session.scalars(select(Enterprise.id).order_by(Enterprise.id)) if i not in eight]


def test_the_district_has_its_eight_towns_every_one_with_enterprises(seeded):
    s, _ = seeded
    towns = {t.code: t for t in s.scalars(select(Town))}
    assert len(towns) == 8 >= 6
    assert {t["code"]: t["name"] for t in data.TOWNS} == {code: t.name for code, t in towns.items()}
    # The demo's first three keep their codes (bureau staff scopes name them).
    assert towns["410108001"].name == "长兴路街道" and towns["410108102"].name == "古荥镇"
    per_town = Counter(s.scalars(select(Enterprise.town_id)))
    assert set(per_town) == {t.id for t in towns.values()}
    assert min(per_town.values()) >= 10
    assert sum(per_town.values()) >= 158 and len(district_ids(s)) >= 150


def test_enterprises_are_plausible_files(seeded):
    s, _ = seeded
    enterprises = s.scalars(select(Enterprise).where(Enterprise.id.in_(district_ids(s)))).all()
    for e in enterprises:
        assert validate_uscc(e.uscc) == e.uscc and e.uscc.startswith("91410108")
        assert e.address.startswith(f"惠济区{e.town.name}")
        assert e.name.startswith("郑州") and e.name.endswith("公司")
        assert e.principal_name and len(e.principal_phone) == 11
        assert e.employee_count > 0
    assert len({e.name for e in enterprises}) == len(enterprises)
    industries = Counter(e.industry.value for e in enterprises)
    assert {name for name, _ in industries.most_common(3)} == {"machinery", "light_industry", "building_materials"}
    assert len(industries) == 8
    # Topic flags where the industry has them: molten metal in foundries and smelters only.
    for e in enterprises:
        if e.molten_metal:
            assert e.industry.value in ("machinery", "metallurgy", "nonferrous"), e.name
        if e.metallurgical_gas:
            assert e.industry.value == "metallurgy", e.name
    for topic in ("dust_explosion", "confined_space", "ammonia_refrigeration", "metallurgical_gas", "molten_metal"):
        assert sum(getattr(e, topic) for e in enterprises) >= 3, topic
    credit = Counter(e.credit_status.value for e in enterprises)
    assert credit["normal"] > 0.9 * len(enterprises)
    assert credit["watchlist"] >= 1 and credit["serious_discredit"] >= 1


def test_above_scale_share_and_the_standardization_rate_near_but_short_of_70_percent(seeded):
    s, _ = seeded
    everyone = s.scalars(select(Enterprise)).all()
    above = [e for e in everyone if e.scale is Scale.ABOVE]
    assert 0.35 <= len(above) / len(everyone) <= 0.45

    def valid(e):
        return standardization_valid_on(e.standardization_level, e.standardization_date, TODAY)

    certified = [e for e in everyone if e.standardization_date is not None]
    assert any(valid(e) for e in certified) and any(not valid(e) for e in certified)
    years = {e.standardization_date.year for e in certified}
    assert min(years) <= 2021 and max(years) == 2026
    district = StandardizationScore(len(above), sum(valid(e) for e in above))
    assert 0.6 < district.rate < 0.7 and not district.meets_target
    by_town = {
        town.name: StandardizationScore(
            sum(1 for e in above if e.town_id == town.id), sum(1 for e in above if e.town_id == town.id and valid(e))
        )
        for town in s.scalars(select(Town))
    }
    assert any(score.meets_target for score in by_town.values())
    assert any(score.meets_target is False and score.deduction > 0 for score in by_town.values())


def test_most_enterprises_have_a_summarised_history_and_the_new_ones_none(seeded):
    s, _ = seeded
    ids = district_ids(s)
    with_tasks = set(s.scalars(select(CheckTask.enterprise_id).where(CheckTask.enterprise_id.in_(ids)).distinct()))
    with_hazards = set(s.scalars(select(Hazard.enterprise_id).where(Hazard.enterprise_id.in_(ids)).distinct()))
    assert 0.8 <= len(with_tasks) / len(ids) <= 0.9
    assert with_hazards <= with_tasks
    new = set(ids) - with_tasks
    assert len(new) >= 15
    # The newly registered have no organisation either.
    assert not s.scalar(select(func.count()).select_from(Department).where(Department.enterprise_id.in_(new)))
    assert not s.scalar(select(func.count()).select_from(CheckSchedule).where(CheckSchedule.enterprise_id.in_(new)))
    # The others: one department, one or two teams, one to three points, default schedules.
    for enterprise_id in sorted(with_tasks)[:20]:
        departments = s.scalars(select(Department).where(Department.enterprise_id == enterprise_id)).all()
        assert len(departments) == 1
        teams = s.scalar(select(func.count()).select_from(Team).where(Team.department_id == departments[0].id))
        assert 1 <= teams <= 2
        assert 1 <= s.scalar(select(func.count()).select_from(Site).where(Site.enterprise_id == enterprise_id)) <= 3
        levels = Counter(s.scalars(select(CheckSchedule.level).where(CheckSchedule.enterprise_id == enterprise_id)))
        assert levels == {"daily": teams, "weekly": 1, "monthly": 1}


def test_check_tasks_have_their_fates_and_done_ones_their_submission(seeded):
    s, _ = seeded
    ids = district_ids(s)
    tasks = s.execute(
        select(CheckTask.id, CheckTask.enterprise_id, CheckTask.status, CheckTask.due_at, CheckTask.grace_until,
               CheckTask.period_start, CheckTask.closed_at)
        .where(CheckTask.enterprise_id.in_(ids))
    ).all()
    by_status = Counter(t.status for t in tasks)
    assert set(by_status) == set(CheckTaskStatus)
    assert by_status[CheckTaskStatus.DONE] > 0.7 * len(tasks)
    assert by_status[CheckTaskStatus.MISSED] > by_status[CheckTaskStatus.EXCUSED] > 0
    assert min(t.period_start for t in tasks) <= TODAY.replace(month=8, day=19)  # a hundred days back
    for t in tasks:
        if t.status is CheckTaskStatus.PENDING:
            assert t.grace_until > NOW and t.closed_at is None
        else:
            assert t.closed_at is not None and t.closed_at <= NOW
        if t.status is CheckTaskStatus.DONE:
            assert t.closed_at <= t.due_at
        if t.status is CheckTaskStatus.DONE_LATE:
            assert t.due_at < t.closed_at <= t.grace_until
    done = {t.id for t in tasks if t.status in (CheckTaskStatus.DONE, CheckTaskStatus.DONE_LATE)}
    submitted = dict(
        s.execute(select(CheckSubmission.task_id, CheckSubmission.submitted_at).where(CheckSubmission.enterprise_id.in_(ids)))
        .all()
    )
    assert set(submitted) == done
    closed = {t.id: t.closed_at for t in tasks}
    assert all(closed[task_id] == at for task_id, at in submitted.items())
    # Habits differ: some enterprises check nearly always on time, others miss a lot.
    rates = {}
    for enterprise_id in {t.enterprise_id for t in tasks}:
        own = [t for t in tasks if t.enterprise_id == enterprise_id and t.status is not CheckTaskStatus.PENDING]
        rates[enterprise_id] = sum(t.status is CheckTaskStatus.DONE for t in own) / len(own)
    assert max(rates.values()) > 0.9 and min(rates.values()) < 0.6
    # And some have not checked at all this week (a firm that stopped).
    week_start = TODAY.toordinal() - TODAY.weekday()
    checked_this_week = {
        t.enterprise_id for t in tasks if t.id in done and t.closed_at.date().toordinal() >= week_start
    }
    assert len({t.enterprise_id for t in tasks} - checked_this_week) >= 3


def test_hazards_mostly_general_and_closed_some_overdue_each_with_its_events(seeded):
    s, _ = seeded
    ids = district_ids(s)
    hazards = s.scalars(select(Hazard).where(Hazard.enterprise_id.in_(ids))).all()
    assert len(hazards) > 500
    assert all(h.level is HazardLevel.GENERAL for h in hazards)
    statuses = Counter(h.status for h in hazards)
    assert statuses[HazardStatus.CLOSED] > 0.75 * len(hazards)
    assert statuses[HazardStatus.REJECTED] > 0
    overdue = [h for h in hazards if h.status in (HazardStatus.ASSIGNED, HazardStatus.RECTIFYING) and h.deadline < NOW]
    assert 20 <= len(overdue) <= 0.15 * len(hazards)
    events = s.execute(
        select(HazardEvent.hazard_id, HazardEvent.action, HazardEvent.from_status, HazardEvent.to_status, HazardEvent.at)
        .where(HazardEvent.hazard_id.in_([h.id for h in hazards]))
        .order_by(HazardEvent.hazard_id, HazardEvent.id)
    ).all()
    by_hazard = {}
    for e in events:
        by_hazard.setdefault(e.hazard_id, []).append(e)
    for h in hazards:
        history = by_hazard[h.id]
        assert history[0].action is HazardAction.REPORT and history[0].from_status is None
        assert history[0].at == h.created_at
        assert history[-1].to_status is h.status
        assert all(a.to_status is b.from_status and a.at <= b.at for a, b in zip(history, history[1:], strict=False))
        if h.status is HazardStatus.CLOSED:
            assert h.closed_at == history[-1].at and h.assignee_id is not None
    # Found in checks: the failed item of that check names the hazard.
    found = [h for h in hazards if h.source_task_id is not None]
    assert len(found) > 0.5 * len(hazards)
    result = aliased(CheckItemResult)
    linked = dict(
        s.execute(
            select(result.hazard_id, CheckSubmission.task_id).join(CheckSubmission, CheckSubmission.id == result.submission_id)
            .where(result.hazard_id.in_([h.id for h in found]))
        ).all()
    )
    assert all(linked[h.id] == h.source_task_id for h in found)


def test_seeding_again_changes_nothing(seeded):
    s, _ = seeded
    models = (Town, Enterprise, Department, Team, Site, CheckSchedule, CheckTask, CheckSubmission, Hazard, HazardEvent)

    def counts():
        return {m.__name__: s.scalar(select(func.count()).select_from(m)) for m in models}

    before = counts()
    assert seed_demo(s, NOW, TEST_SECRET) == 0
    assert counts() == before


def test_summary_json_counts_the_district(app, seeded):
    s, _ = seeded
    summary = demo_summary(s, app.config["SETTINGS"])
    assert summary["district"] == {"name": "惠济区", "towns": 8, "enterprises": len(summary["enterprises"])}
    assert summary["district"]["enterprises"] >= 158


def test_the_plan_is_the_same_for_the_same_seed_and_day():
    first, again = plan_district(TODAY), plan_district(TODAY)
    assert [p.__dict__ for p in first] == [p.__dict__ for p in again]
    assert [p.uscc for p in plan_district(TODAY, seed=7)] != [p.uscc for p in first]
    assert sum(sum(t.industries.values()) for t in TOWNS) == len(first) >= 150


def _snapshot(session) -> dict[str, list]:
    """What a seeded district holds, by natural keys (no ids, no random site tokens)."""
    town = {t.id: t.code for t in session.scalars(select(Town))}
    uscc = dict(session.execute(select(Enterprise.id, Enterprise.uscc)).all())
    enterprises = sorted(
        (e.uscc, e.name, town[e.town_id], e.industry.value, e.scale.value, e.standardization_level.value,
         e.standardization_date, e.credit_status.value, e.employee_count, tuple(sorted(t.value for t in e.topics)))
        for e in session.scalars(select(Enterprise))
    )
    team = {t.id: t.name for t in session.scalars(select(Team))}
    tasks = sorted(
        (uscc[t.enterprise_id], s.level.value, team.get(s.team_id, ""), t.period_start, t.status.value, t.due_at,
         t.closed_at)
        for t, s in session.execute(select(CheckTask, CheckSchedule).join(CheckSchedule))
    )
    hazards = sorted(
        (uscc[h.enterprise_id], h.created_at, h.description, h.status.value, h.deadline, h.closed_at)
        for h in session.scalars(select(Hazard))
    )
    return {"enterprises": enterprises, "tasks": tasks, "hazards": hazards}


def test_two_databases_seeded_alike_hold_the_same_district(seeded, tmp_path):
    """The module's database (PostgreSQL or SQLite, by the run) and a fresh SQLite file."""
    from app.database import Base

    s, _ = seeded
    engine = create_engine(f"sqlite:///{tmp_path / 'second.db'}")
    Base.metadata.create_all(engine)
    with Session(engine) as other:
        seed_demo(other, NOW, TEST_SECRET)
        other.flush()
        theirs = _snapshot(other)
    engine.dispose()
    ours = _snapshot(s)
    assert len(ours["tasks"]) > 10_000 and len(ours["hazards"]) > 500
    assert ours == theirs
