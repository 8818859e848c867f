"""The risk register's controls in the routine checks (双重预防, issue 17 §2): which check
offers which control, what a submission records of them, the hazard a failed control
reports, what happens when the register changes under an open form, and the worker's
岗位自查 of their post's controls."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.accounts.domain import Role
from app.errors import NotFound, ValidationFailed
from app.hazard_reporting.checklists import service as checklist_service
from app.hazard_reporting.checks import service
from app.hazard_reporting.checks.domain import CheckLevel, ItemResult, SelfCheckResult
from app.hazard_reporting.checks.models import CheckItemResult, PostSelfCheck
from app.hazard_reporting.checks.queries import control_items, register_version
from app.hazard_reporting.hazards.domain import HazardSource
from app.hazard_reporting.hazards.models import Hazard
from app.hazard_reporting.hazards.queries import control_origin
from app.hazard_reporting.risks.domain import ControlLevel
from tests.fixtures.checks import MONDAY, CheckOrg, jpeg, submission_data
from tests.fixtures.risks import LOW, add_control, bump


@pytest.fixture
def org(build, db_session) -> CheckOrg:
    checklist_service.load_standard_checklists(db_session, MONDAY)
    org = CheckOrg(build)
    org.generate()
    return org


@pytest.fixture
def media_root(tmp_path) -> Path:
    return tmp_path / "media"


def team_control(db_session, org, **kw):
    fields = {"level": ControlLevel.TEAM, "text": "出铁前确认炉前地坑干燥无积水", "team_id": org.t1.id, **kw}
    return add_control(db_session, org.enterprise, kw.pop("site", org.s1), MONDAY, **fields)


def codes(start) -> list[str]:
    return [c.code for c in start.controls]


def with_controls(data, start, results=None, hazards=None):
    """`data` (the checklist's answers) plus an answer to every control of `start`."""
    results, hazards = results or {}, hazards or {}
    for c in start.controls:
        if c.code in hazards:
            note, photos = hazards[c.code]
            data["answers"].append({"item_code": c.code, "result": "hazard", "note": note, "photos": photos})
        else:
            data["answers"].append({"item_code": c.code, "result": results.get(c.code, "ok")})
    data["risk_register_version"] = start.register_version
    data["control_ids"] = [c.control_id for c in start.controls]
    return data


# --- which check offers which control -------------------------------------------------------


def test_a_team_control_is_an_item_of_its_teams_daily_check_at_its_site_only(db_session, org):
    control = team_control(db_session, org)
    daily = org.daily()
    start = service.start_check(db_session, org.actor(org.leader), MONDAY, daily.id, org.s1.token)
    assert codes(start) == [f"RC-{control.id}"]
    item = start.controls[0]
    assert (item.point_name, item.source_name, item.level_label, item.colour) == (
        "熔炼炉", "高温熔融金属喷溅", "班组级", "orange"
    )
    assert start.codes[-1] == f"RC-{control.id}"  # after the checklist's items
    assert len(start.codes) == len(start.items) + 1
    assert start.register_version == register_version(db_session, org.enterprise.id) == 1

    # The same team's daily check at another point of the department's reach: not offered.
    at_gate = service.start_check(db_session, org.actor(org.leader), MONDAY, daily.id, org.gate.token)
    assert at_gate.controls == []
    # Another team's daily check, wherever: not offered.
    other = org.task(CheckLevel.DAILY, unit_id=org.t2.id)
    assert service.start_check(db_session, org.actor(org.leader2), MONDAY, other.id, org.s2.token).controls == []
    assert control_items(db_session, other, org.s1.id) == []
    # Nor in the department's weekly or the manager's monthly check.
    weekly = org.task(CheckLevel.WEEKLY, unit_id=org.d1.id)
    assert control_items(db_session, weekly, org.s1.id) == []
    assert control_items(db_session, org.task(CheckLevel.MONTHLY), org.s1.id) == []


def test_department_and_company_controls_go_to_the_weekly_and_monthly_checks(db_session, org):
    department = add_control(
        db_session, org.enterprise, org.s1, MONDAY, level=ControlLevel.DEPARTMENT,
        text="每周检查除尘系统泄爆片完好", department_id=org.d1.id, point_name="除尘系统", source_name="粉尘爆炸",
    )
    company = add_control(
        db_session, org.enterprise, org.s2, MONDAY, level=ControlLevel.COMPANY,
        text="每月组织一次液氨泄漏应急演练", kind="emergency", point_name="制冷机房", source_name="液氨泄漏",
    )
    weekly = org.task(CheckLevel.WEEKLY, unit_id=org.d1.id)
    start = service.start_check(db_session, org.actor(org.head), MONDAY, weekly.id, org.s1.token)
    assert codes(start) == [f"RC-{department.id}"]
    assert service.start_check(db_session, org.actor(org.head), MONDAY, weekly.id, org.gate.token).controls == []
    weekly2 = org.task(CheckLevel.WEEKLY, unit_id=org.d2.id)
    assert control_items(db_session, weekly2, org.s1.id) == []

    monthly = org.task(CheckLevel.MONTHLY)
    # The monthly check covers the whole enterprise: its controls wherever the manager scans.
    for site in (org.s1, org.gate):
        start = service.start_check(db_session, org.actor(org.manager), MONDAY, monthly.id, site.token)
        assert codes(start) == [f"RC-{company.id}"]
    assert control_items(db_session, org.daily(), org.s2.id) == []


def test_retired_controls_sources_and_points_are_not_offered(db_session, org):
    control = team_control(db_session, org)
    daily = org.daily()
    control.active = False
    bump(db_session, org.enterprise.id, MONDAY)
    assert control_items(db_session, daily, org.s1.id) == []
    control.active = True
    control.source.active = False
    assert control_items(db_session, daily, org.s1.id) == []
    control.source.active = True
    control.source.risk_point.active = False
    assert control_items(db_session, daily, org.s1.id) == []


# --- submitting -----------------------------------------------------------------------------


def submit(db_session, org, who, task, site, data, media_root):
    return service.submit_check(db_session, org.actor(who), MONDAY, task.id, data, media_root=media_root)


def test_a_failed_control_reports_a_hazard_linked_to_it_and_the_wording_is_kept(db_session, org, media_root):
    control = team_control(db_session, org)
    daily = org.daily()
    start = service.start_check(db_session, org.actor(org.leader), MONDAY, daily.id, org.s1.token)
    code = f"RC-{control.id}"
    data = with_controls(
        submission_data(db_session, daily, org.s1, MONDAY - timedelta(minutes=5)),
        start,
        hazards={code: ("炉前地坑有积水", [jpeg()])},
    )
    submission = submit(db_session, org, org.leader, daily, org.s1, data, media_root)

    assert submission.risk_register_version == 1
    result = db_session.scalar(
        select(CheckItemResult).where(CheckItemResult.submission_id == submission.id, CheckItemResult.item_code == code)
    )
    assert result.risk_control_id == control.id
    assert result.item_text == "出铁前确认炉前地坑干燥无积水"
    assert result.result is ItemResult.HAZARD
    assert result.position == len(start.items) + 1
    hazard = db_session.get(Hazard, result.hazard_id)
    assert hazard.risk_control_id == control.id
    assert hazard.source is HazardSource.CHECK and hazard.source_task_id == daily.id
    assert hazard.description.startswith("炉前地坑有积水")
    for words in ("熔炼炉", "高温熔融金属喷溅", "出铁前确认炉前地坑干燥无积水"):
        assert words in hazard.description
    assert hazard.review_required  # a control of a 较大风险: the safety officer reviews the level
    assert len(hazard.photos) == 1
    origin = control_origin(db_session, hazard)
    assert (origin.point_name, origin.source_name, origin.control_id) == ("熔炼炉", "高温熔融金属喷溅", control.id)

    # The register changes afterwards: the record keeps what was checked.
    control.text = "出铁前用测温枪确认地坑干燥"
    bump(db_session, org.enterprise.id, MONDAY)
    db_session.expire_all()
    assert db_session.get(CheckItemResult, result.id).item_text == "出铁前确认炉前地坑干燥无积水"
    assert db_session.get(CheckItemResult, result.id).risk_control_id == control.id


def test_a_low_risk_controls_hazard_is_general_and_an_unanswered_control_is_refused(db_session, org, media_root):
    control = team_control(db_session, org, factors=LOW)
    daily = org.daily()
    start = service.start_check(db_session, org.actor(org.leader), MONDAY, daily.id, org.s1.token)
    data = submission_data(db_session, daily, org.s1, MONDAY - timedelta(minutes=5))
    data["risk_register_version"] = start.register_version
    with pytest.raises(ValidationFailed) as refused:
        submit(db_session, org, org.leader, daily, org.s1, data, media_root)
    assert f"第 {len(start.items) + 1} 项" in refused.value.message
    assert f"answers.RC-{control.id}" in refused.value.fields

    data = with_controls(
        submission_data(db_session, daily, org.s1, MONDAY - timedelta(minutes=5)),
        start,
        hazards={f"RC-{control.id}": ("地坑有水", [jpeg()])},
    )
    submission = submit(db_session, org, org.leader, daily, org.s1, data, media_root)
    hazard = db_session.scalar(select(Hazard).where(Hazard.risk_control_id == control.id))
    assert hazard is not None and not hazard.review_required
    assert submission.risk_register_version == 1


def test_a_register_change_after_the_form_opened_does_not_break_the_submission(db_session, org, media_root):
    """Exactly: the submission answers the controls the form offered (still this check's by
    unit, level and site), a control retired meanwhile included, and records the form's
    version; a control added meanwhile waits for the next check."""
    retired = team_control(db_session, org)
    daily = org.daily()
    start = service.start_check(db_session, org.actor(org.leader), MONDAY, daily.id, org.s1.token)
    assert start.register_version == 1
    retired.active = False
    bump(db_session, org.enterprise.id, MONDAY)
    added = team_control(db_session, org, text="浇注区设置警戒线")
    assert register_version(db_session, org.enterprise.id) == 3

    data = with_controls(submission_data(db_session, daily, org.s1, MONDAY - timedelta(minutes=5)), start)
    submission = submit(db_session, org, org.leader, daily, org.s1, data, media_root)
    assert submission.risk_register_version == 1
    controls = db_session.scalars(
        select(CheckItemResult.risk_control_id).where(
            CheckItemResult.submission_id == submission.id, CheckItemResult.risk_control_id.is_not(None)
        )
    ).all()
    assert controls == [retired.id]
    assert added.id not in controls


def test_a_stale_form_cannot_slip_in_another_units_control(db_session, org, media_root):
    team_control(db_session, org)
    foreign = team_control(db_session, org, team_id=org.t2.id, text="仓储班的措施")
    daily = org.daily()
    start = service.start_check(db_session, org.actor(org.leader), MONDAY, daily.id, org.s1.token)
    bump(db_session, org.enterprise.id, MONDAY)
    data = with_controls(submission_data(db_session, daily, org.s1, MONDAY - timedelta(minutes=5)), start)
    data["control_ids"].append(foreign.id)
    data["answers"].append({"item_code": f"RC-{foreign.id}", "result": "ok"})
    with pytest.raises(ValidationFailed) as refused:
        submit(db_session, org, org.leader, daily, org.s1, data, media_root)
    assert f"answers.RC-{foreign.id}" in refused.value.fields


# --- 岗位自查 -------------------------------------------------------------------------------


@pytest.fixture
def post_setup(db_session, build, org):
    post = build.post(org.enterprise, name="熔炼工")
    other_post = build.post(org.enterprise, name="叉车司机")
    worker = build.member(org.enterprise, Role.WORKER, department_id=org.d1.id, team_id=org.t1.id, post_id=post.id)
    other = build.member(org.enterprise, Role.WORKER, department_id=org.d1.id, post_id=other_post.id)
    control = add_control(
        db_session, org.enterprise, org.s1, MONDAY, level=ControlLevel.POST, text="作业前穿戴好阻燃服和防护面罩",
        post_id=post.id, kind="ppe",
    )
    elsewhere = add_control(
        db_session, org.enterprise, org.s2, MONDAY, level=ControlLevel.POST, text="成品库的岗位措施",
        post_id=post.id,
    )
    return post, worker, other, control, elsewhere


def test_a_worker_sees_the_post_controls_at_the_scanned_site_only(db_session, org, post_setup):
    post, worker, other, control, elsewhere = post_setup
    start = service.start_self_check(db_session, org.actor(worker), MONDAY, org.s1)
    assert [c.control_id for c in start.controls] == [control.id]
    assert start.answered == {}
    assert service.start_self_check(db_session, org.actor(worker), MONDAY, org.gate).controls == []
    assert service.start_self_check(db_session, org.actor(other), MONDAY, org.s1).controls == []
    assert service.start_self_check(db_session, org.actor(org.leader), MONDAY, org.s1).controls == []
    with pytest.raises(NotFound):
        service.confirm_post_control(db_session, org.actor(worker), MONDAY, org.s1.token, elsewhere.id, "confirmed")
    with pytest.raises(NotFound):
        service.confirm_post_control(db_session, org.actor(other), MONDAY, org.s1.token, control.id, "confirmed")


def test_post_self_check_is_idempotent_per_local_day(db_session, org, post_setup):
    post, worker, _, control, _ = post_setup
    actor = org.actor(worker)
    first = service.confirm_post_control(db_session, actor, MONDAY, org.s1.token, control.id, "confirmed")
    again = service.confirm_post_control(
        db_session, actor, MONDAY + timedelta(hours=3), org.s1.token, control.id, "problem", "面罩破损"
    )
    assert again.id == first.id and again.result is SelfCheckResult.CONFIRMED
    assert db_session.scalar(select(func.count()).select_from(PostSelfCheck)) == 1
    assert db_session.scalar(select(func.count()).select_from(Hazard)) == 0
    assert (first.post_id, first.site_id, first.day) == (post.id, org.s1.id, date(2026, 11, 23))
    assert service.start_self_check(db_session, actor, MONDAY, org.s1).answered == {control.id: first}

    # The next local day (00:30 Beijing time is still 16:30 UTC of the day before).
    next_day = MONDAY + timedelta(hours=14, minutes=30)
    problem = service.confirm_post_control(db_session, actor, next_day, org.s1.token, control.id, "problem", "面罩破损")
    assert problem.id != first.id and problem.day == date(2026, 11, 24)
    hazard = db_session.get(Hazard, problem.hazard_id)
    assert hazard.risk_control_id == control.id and hazard.source is HazardSource.ADHOC
    assert "面罩破损" in hazard.description and "作业前穿戴好阻燃服和防护面罩" in hazard.description


def test_a_problem_needs_a_note(db_session, org, post_setup):
    _, worker, _, control, _ = post_setup
    with pytest.raises(ValidationFailed):
        service.confirm_post_control(db_session, org.actor(worker), MONDAY, org.s1.token, control.id, "problem", " ")
    with pytest.raises(ValidationFailed):
        service.confirm_post_control(db_session, org.actor(worker), MONDAY, org.s1.token, control.id, "maybe")
    assert db_session.scalar(select(func.count()).select_from(PostSelfCheck)) == 0


def test_a_control_added_today_is_in_the_teams_next_daily_check_too(db_session, org):
    control = team_control(db_session, org)
    tuesday = MONDAY + timedelta(days=1)
    org.generate(tuesday)
    task = org.task(CheckLevel.DAILY, day=date(2026, 11, 24), unit_id=org.t1.id)
    start = service.start_check(db_session, org.actor(org.leader), tuesday, task.id, org.s1.token)
    assert codes(start) == [f"RC-{control.id}"]


def test_a_form_version_from_the_future_counts_as_the_current_register(db_session, org, media_root):
    control = team_control(db_session, org)
    daily = org.daily()
    start = service.start_check(db_session, org.actor(org.leader), MONDAY, daily.id, org.s1.token)
    data = submission_data(db_session, daily, org.s1, MONDAY - timedelta(minutes=5))
    data |= {"risk_register_version": 99, "control_ids": []}
    with pytest.raises(ValidationFailed) as refused:
        submit(db_session, org, org.leader, daily, org.s1, data, media_root)
    assert f"answers.RC-{control.id}" in refused.value.fields
    data = with_controls(submission_data(db_session, daily, org.s1, MONDAY - timedelta(minutes=5)), start)
    data["risk_register_version"] = 99
    assert submit(db_session, org, org.leader, daily, org.s1, data, media_root).risk_register_version == 1
