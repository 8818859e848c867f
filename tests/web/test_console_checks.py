"""Console 排查管理 pages: check tasks with 免检 approval, the enterprise's own checklist
(add / reword / disable / enable), schedules and four-colour risk points, and confined-space
jobs, behind login and the enterprise's permissions."""

from __future__ import annotations

from datetime import time

import pytest
from sqlalchemy import func, select

from app.hazard_reporting.checklists import service as checklist_service
from app.hazard_reporting.checklists.domain import ItemOrigin
from app.hazard_reporting.checklists.models import ChecklistVersion
from app.hazard_reporting.checklists.queries import current_enterprise_items, version_items
from app.hazard_reporting.checks import console as check_console
from app.hazard_reporting.checks.domain import CheckLevel, CheckTaskStatus, ScheduleKind
from app.hazard_reporting.confined_space import console as job_console
from app.hazard_reporting.confined_space.domain import JobStatus
from app.hazard_reporting.confined_space.models import ConfinedSpaceJob
from app.hazard_reporting.schedules.domain import RiskLevel
from app.hazard_reporting.schedules.models import CheckSchedule, SiteRiskProfile
from tests.fixtures.checks import MONDAY, CheckOrg, local
from tests.fixtures.csrf import FormClient, session_token


@pytest.fixture
def org(build, db_session, monkeypatch) -> CheckOrg:
    monkeypatch.setattr(check_console, "utcnow", lambda: MONDAY)
    monkeypatch.setattr(job_console, "utcnow", lambda: MONDAY)
    checklist_service.load_standard_checklists(db_session, MONDAY)
    org = CheckOrg(build)
    org.generate()
    return org


@pytest.fixture
def client(client):
    return FormClient(client)


def test_a_form_without_its_token_is_refused_and_stores_nothing(client, db_session, org):
    login(client, org.officer)
    before = versions(db_session)
    bare = client.bare.post(base(org) + "/items", data={"text": "消防通道保持畅通", "category": "SITE", "levels": "D"})
    assert bare.status_code == 400 and "表单令牌" in bare.get_data(as_text=True)
    assert client.bare.post(base(org) + "/jobs", data={"description": "清淤"}).status_code == 400
    assert versions(db_session) == before


def excuse(client, url: str, reason: str):
    """POST the 免检 form as the page sends it (with the session's CSRF token)."""
    token = session_token(client.application, client)
    return client.post(url, data={"reason": reason, "csrf_token": token})


def login(client, user) -> None:
    with client.session_transaction() as session:
        session["user_id"] = user.id


def text(response) -> str:
    return response.get_data(as_text=True)


def base(org) -> str:
    return f"/console/enterprises/{org.enterprise.id}/checks"


def versions(db_session) -> int:
    return db_session.scalar(select(func.count()).select_from(ChecklistVersion))


def line(db_session, org, code):
    _, items = current_enterprise_items(db_session, org.enterprise.id)
    return next(r for r in items if r.item.code == code)


# --- access ----------------------------------------------------------------------------


def test_pages_need_login(client, org):
    for path in ("/", "/items"):
        response = client.get(base(org) + path)
        assert response.status_code == 302 and "/console/login" in response.headers["Location"]


def test_another_enterprise_is_not_found(client, build, org):
    other = build.enterprise(name="别家企业")
    outsider = build.member(other, "safety_officer")
    login(client, outsider)
    for path in ("/", "/items"):
        response = client.get(base(org) + path)
        assert response.status_code == 404 and "企业不存在" in text(response)
    task = org.daily()
    response = excuse(client, f"{base(org)}/tasks/{task.id}/excuse", "停产")
    assert response.status_code == 404
    assert org.daily().status is CheckTaskStatus.PENDING


def test_detail_page_links_to_checks(client, org):
    login(client, org.officer)
    page = text(client.get(f"/console/enterprises/{org.enterprise.id}"))
    assert "排查管理" in page and base(org) + "/" in page


# --- 排查任务 ---------------------------------------------------------------------------


def test_tasks_page_lists_tasks_with_status_and_excuse_form(client, org):
    login(client, org.officer)
    response = client.get(base(org) + "/")
    page = text(response)
    assert response.status_code == 200
    assert "待检查" in page and "免检" in page
    assert f"/tasks/{org.daily().id}/excuse" in page


def test_excuse_task(client, db_session, org):
    login(client, org.officer)
    task = org.daily()
    response = excuse(client, f"{base(org)}/tasks/{task.id}/excuse", "停产检修")
    assert response.status_code == 302
    db_session.expire_all()
    task = org.daily()
    assert task.status is CheckTaskStatus.EXCUSED
    assert task.excuse_reason == "停产检修" and task.excused_by_id == org.officer.id
    page = text(client.get(response.headers["Location"]))
    assert "已批准免检" in page and "停产检修" in page


def test_excuse_without_reason_shows_chinese_message(client, db_session, org):
    login(client, org.officer)
    task = org.daily()
    response = excuse(client, f"{base(org)}/tasks/{task.id}/excuse", "  ")
    assert response.status_code == 422 and "请填写免检原因" in text(response)
    db_session.expire_all()
    assert org.daily().status is CheckTaskStatus.PENDING


def test_excuse_own_check_is_refused(client, db_session, org):
    login(client, org.head)
    task = org.task(CheckLevel.WEEKLY, unit_id=org.d1.id)
    response = excuse(client, f"{base(org)}/tasks/{task.id}/excuse", "放假")
    assert response.status_code == 403 and "不能批准本人负责的检查免检" in text(response)
    db_session.expire_all()
    assert db_session.get(type(task), task.id).status is CheckTaskStatus.PENDING


def test_worker_sees_tasks_but_cannot_excuse(client, db_session, org):
    login(client, org.worker)
    page = text(client.get(base(org) + "/"))
    assert "/excuse" not in page
    task = org.daily()
    response = excuse(client, f"{base(org)}/tasks/{task.id}/excuse", "停产")
    assert response.status_code == 403
    db_session.expire_all()
    assert org.daily().status is CheckTaskStatus.PENDING


def test_excuse_task_of_another_enterprise_via_this_url_is_not_found(client, build, db_session, org):
    other = CheckOrg(build, name="另一家铸造厂")
    other.generate()
    build.member(other.enterprise, "safety_officer", user=org.officer)
    login(client, org.officer)
    foreign = other.daily()
    response = excuse(client, f"{base(org)}/tasks/{foreign.id}/excuse", "停产")
    assert response.status_code == 404
    db_session.expire_all()
    assert other.daily().status is CheckTaskStatus.PENDING


# --- 排查清单 ---------------------------------------------------------------------------


def test_items_page_lists_current_items(client, db_session, org):
    login(client, org.officer)
    _, items = current_enterprise_items(db_session, org.enterprise.id)
    page = text(client.get(base(org) + "/items"))
    assert items and items[0].item.code in page and "新增条目" in page


def test_add_item(client, db_session, org):
    login(client, org.officer)
    response = client.post(
        base(org) + "/items",
        data={"text": "消防通道保持畅通", "category": "SITE", "levels": ["D", "W"], "on_fail": "general"},
    )
    assert response.status_code == 302
    db_session.expire_all()
    added = line(db_session, org, "ENT-01")
    assert added.item.text == "消防通道保持畅通" and added.origin is ItemOrigin.ADDED
    assert added.item.levels == "DW"
    assert "已新增条目" in text(client.get(response.headers["Location"]))


def test_add_item_without_levels_stores_nothing(client, db_session, org):
    login(client, org.officer)
    before = versions(db_session)
    response = client.post(base(org) + "/items", data={"text": "消防通道保持畅通", "category": "SITE"})
    assert response.status_code == 422 and "排查层级" in text(response)
    assert versions(db_session) == before


def test_reword_disable_enable_item(client, db_session, org):
    login(client, org.officer)
    code = current_enterprise_items(db_session, org.enterprise.id)[1][0].item.code
    url = f"{base(org)}/items/{code}"
    assert client.post(url + "/reword", data={"text": "配电室门口设置挡鼠板"}).status_code == 302
    db_session.expire_all()
    assert line(db_session, org, code).item.text == "配电室门口设置挡鼠板"

    assert client.post(url + "/disable", data={"reason": "本企业不涉及"}).status_code == 302
    db_session.expire_all()
    assert line(db_session, org, code).enabled is False

    assert client.post(url + "/enable").status_code == 302
    db_session.expire_all()
    assert line(db_session, org, code).enabled is True


def test_disable_without_reason_and_empty_reword_store_nothing(client, db_session, org):
    login(client, org.officer)
    code = current_enterprise_items(db_session, org.enterprise.id)[1][0].item.code
    before = versions(db_session)
    response = client.post(f"{base(org)}/items/{code}/disable", data={"reason": ""})
    assert response.status_code == 422 and "停用条目须说明原因" in text(response)
    response = client.post(f"{base(org)}/items/{code}/reword", data={"text": " "})
    assert response.status_code == 422 and "排查内容：不能为空" in text(response)
    response = client.post(f"{base(org)}/items/NOPE-1/reword", data={"text": "新表述"})
    assert response.status_code == 404 and "没有条目" in text(response)
    assert versions(db_session) == before
    db_session.expire_all()
    assert line(db_session, org, code).enabled is True


def test_worker_cannot_edit_items(client, db_session, org):
    login(client, org.worker)
    page = text(client.get(base(org) + "/items"))
    assert "新增条目" not in page
    before = versions(db_session)
    response = client.post(
        base(org) + "/items", data={"text": "消防通道保持畅通", "category": "SITE", "levels": ["D"]}
    )
    assert response.status_code == 403
    assert versions(db_session) == before


# --- 排查计划与风险点 -----------------------------------------------------------------------


def schedules_of(db_session, org, **where):
    query = select(CheckSchedule).where(CheckSchedule.enterprise_id == org.enterprise.id)
    for name, value in where.items():
        query = query.where(getattr(CheckSchedule, name) == value)
    return db_session.scalars(query.order_by(CheckSchedule.id)).all()


def test_plans_page_lists_risk_point_rounds_and_sites(client, org):
    """风险点巡查 shows the rounds of risk points only; the routine checks live on 排查计划."""
    login(client, org.officer)
    page = text(client.get(base(org) + "/plans"))
    assert "还没有较大危险因素点位" in page and "班组：熔炼一班" not in page
    assert f'href="/console/enterprises/{org.enterprise.id}/schedules"' in page
    assert "熔炼车间配电室" in page and "未评定" in page
    client.post(f"{base(org)}/sites/{org.s1.id}/risk", data={"risk_level": "red", "is_major_risk_point": "1"})
    page = text(client.get(base(org) + "/plans"))
    assert "还没有较大危险因素点位" not in page and "班组：熔炼一班" not in page


def test_update_schedule(client, db_session, org):
    login(client, org.officer)
    daily = schedules_of(db_session, org, team_id=org.t1.id)[0]
    url = f"{base(org)}/schedules/{daily.id}"
    response = client.post(url, data={"due_time": "16:30", "grace_minutes": "60", "active": "false"})
    assert response.status_code == 302
    db_session.expire_all()
    daily = db_session.get(CheckSchedule, daily.id)
    assert daily.due_time == time(16, 30) and daily.grace_minutes == 60 and daily.active is False


def test_update_schedule_bad_input_stores_nothing(client, db_session, org):
    login(client, org.officer)
    daily = schedules_of(db_session, org, team_id=org.t1.id)[0]
    url = f"{base(org)}/schedules/{daily.id}"
    response = client.post(url, data={"due_time": "16:30", "grace_minutes": "-5", "active": "true"})
    assert (
        response.status_code == 422
        and "宽限时间（分钟）" in text(response)
        and "不能小于 0" in text(response)
    )
    db_session.expire_all()
    assert db_session.get(CheckSchedule, daily.id).due_time == time(17, 0)


def test_set_site_risk_profile_plans_rounds(client, db_session, org):
    login(client, org.officer)
    url = f"{base(org)}/sites/{org.s1.id}/risk"
    response = client.post(url, data={"risk_level": "red", "is_major_risk_point": "1", "note": "高压配电"})
    assert response.status_code == 302
    db_session.expire_all()
    profile = db_session.scalar(select(SiteRiskProfile).where(SiteRiskProfile.site_id == org.s1.id))
    assert profile.risk_level is RiskLevel.RED and profile.is_major_risk_point and profile.note == "高压配电"
    rounds = schedules_of(db_session, org, site_id=org.s1.id, kind=ScheduleKind.RISK_POINT)
    assert sorted(s.slot for s in rounds) == ["am", "pm"]
    assert "红色（重大风险）" in text(client.get(response.headers["Location"]))


def test_set_site_risk_profile_bad_input_or_other_site(client, build, db_session, org):
    login(client, org.officer)
    response = client.post(f"{base(org)}/sites/{org.s1.id}/risk", data={"risk_level": "purple"})
    assert response.status_code == 422 and "风险等级" in text(response)
    other = build.enterprise(name="别家企业")
    foreign = build.site(other, name="别家配电室")
    response = client.post(f"{base(org)}/sites/{foreign.id}/risk", data={"risk_level": "red"})
    assert response.status_code == 404
    assert db_session.scalar(select(func.count()).select_from(SiteRiskProfile)) == 0


def test_worker_cannot_change_plans(client, db_session, org):
    login(client, org.worker)
    assert "/risk\"" not in text(client.get(base(org) + "/plans"))  # no level form (the 风险管控 tab is /risks/)
    response = client.post(f"{base(org)}/sites/{org.s1.id}/risk", data={"risk_level": "red"})
    assert response.status_code == 403
    assert db_session.scalar(select(func.count()).select_from(SiteRiskProfile)) == 0


# --- 有限空间作业 -----------------------------------------------------------------------


def jobs_of(db_session, org):
    return db_session.scalars(
        select(ConfinedSpaceJob).where(ConfinedSpaceJob.enterprise_id == org.enterprise.id)
    ).all()


def create_job(client, org, **extra):
    data = {
        "site_id": str(org.s1.id),
        "description": "清理集水井",
        "planned_start": "2026-11-24T09:00",
        **extra,
    }
    return client.post(base(org) + "/jobs", data=data)


def required_codes(db_session, job) -> list[str]:
    return [
        r.item.code for r in version_items(db_session, job.checklist_id, job.checklist_version) if r.enabled
    ]


def test_create_job_and_walk_it_through(client, db_session, org):
    login(client, org.officer)
    response = create_job(client, org)
    assert response.status_code == 302
    (job,) = jobs_of(db_session, org)
    assert job.status is JobStatus.DRAFT and job.planned_start == local(2026, 11, 24, 9)
    url = f"{base(org)}/jobs/{job.id}"
    assert url in response.headers["Location"]
    page = text(client.get(response.headers["Location"]))
    codes = required_codes(db_session, job)
    assert codes and codes[0] in page and "未确认" in page
    assert "清理集水井" in text(client.get(base(org) + "/jobs"))

    blocked = client.post(url + "/start")
    assert (
        blocked.status_code == 409
        and "作业条件确认未通过" in text(blocked)
        and f"{codes[0]} 未确认" in text(blocked)
    )
    db_session.expire_all()
    assert db_session.get(ConfinedSpaceJob, job.id).status is JobStatus.DRAFT

    for code in codes:
        response = client.post(
            url + "/confirmations", data={"item_code": code, "passed": "true", "confirmed_by": "张监护"}
        )
        assert response.status_code == 302
    assert client.post(url + "/confirm").status_code == 302
    assert client.post(url + "/start").status_code == 302
    assert client.post(url + "/finish").status_code == 302
    db_session.expire_all()
    job = db_session.get(ConfinedSpaceJob, job.id)
    assert job.status is JobStatus.FINISHED and len(job.confirmations) == len(codes)
    assert job.confirmations[0].confirmed_by == "张监护"


def test_job_bad_input_stores_nothing(client, db_session, org):
    login(client, org.officer)
    response = create_job(client, org, description="")
    assert response.status_code == 422 and "作业内容" in text(response)
    response = create_job(client, org, planned_start="明天")
    assert response.status_code == 422 and "计划开始时间" in text(response)
    assert jobs_of(db_session, org) == []

    create_job(client, org)
    (job,) = jobs_of(db_session, org)
    url = f"{base(org)}/jobs/{job.id}"
    code = required_codes(db_session, job)[0]
    response = client.post(
        url + "/confirmations", data={"item_code": code, "passed": "true", "confirmed_by": ""}
    )
    assert response.status_code == 422 and "确认人" in text(response)
    response = client.post(url + "/cancel", data={"reason": ""})
    assert response.status_code == 422 and "请填写取消原因" in text(response)
    db_session.expire_all()
    job = db_session.get(ConfinedSpaceJob, job.id)
    assert job.status is JobStatus.DRAFT and job.confirmations == []

    assert client.post(url + "/cancel", data={"reason": "天气原因"}).status_code == 302
    db_session.expire_all()
    job = db_session.get(ConfinedSpaceJob, job.id)
    assert job.status is JobStatus.CANCELLED and job.cancel_reason == "天气原因"


def test_jobs_need_permission(client, build, db_session, org):
    login(client, org.worker)
    response = create_job(client, org)
    assert response.status_code == 403 and jobs_of(db_session, org) == []

    other = CheckOrg(build, name="另一家铸造厂")
    login(client, other.officer)
    assert client.get(base(org) + "/jobs").status_code == 404
    login(client, org.officer)
    create_job(client, org)
    (job,) = jobs_of(db_session, org)
    response = client.post(f"/console/enterprises/{other.enterprise.id}/checks/jobs/{job.id}/cancel")
    assert response.status_code == 404
