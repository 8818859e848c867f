"""REST API of check schedules: paginated list, create, read, PATCH (pause / resume,
timing), problem+json errors, and scope (another enterprise's schedule is 404)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from app.accounts.service import issue_api_token
from app.api import schedules as api_schedules
from app.hazard_reporting.checklists import service as checklist_service
from app.hazard_reporting.checks.models import CheckTask
from app.hazard_reporting.schedules import service as schedule_service
from app.hazard_reporting.schedules.models import CheckSchedule
from tests.fixtures.checks import MONDAY, CheckOrg, local


@pytest.fixture
def org(build, db_session, monkeypatch) -> CheckOrg:
    monkeypatch.setattr(api_schedules, "utcnow", lambda: MONDAY)
    checklist_service.load_standard_checklists(db_session, MONDAY)
    org = CheckOrg(build)
    org.generate()
    return org


def headers(db_session, user) -> dict[str, str]:
    _, token = issue_api_token(db_session, user, MONDAY, "test")
    return {"Authorization": f"Bearer {token}"}


def url(org) -> str:
    return f"/api/v1/enterprises/{org.enterprise.id}/schedules"


def count(db_session) -> int:
    return db_session.scalar(select(func.count()).select_from(CheckSchedule))


def is_problem(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


def test_list_is_paginated_and_filtered(client, db_session, org):
    h = headers(db_session, org.leader)  # any member reads
    body = client.get(url(org), headers=h).get_json()
    assert body["total"] == 5 and body["page"] == 1 and body["per_page"] == 20  # 2 daily, 2 weekly, 1 monthly
    first = body["items"][0]
    assert first["level"] == "daily" and first["due_rule"] == "每个工作日 17:00 前" and first["due_time"] == "17:00"
    page2 = client.get(url(org) + "?page=2&per_page=2", headers=h).get_json()
    assert [s["level"] for s in page2["items"]] == ["weekly", "weekly"] and page2["total"] == 5
    monthly = client.get(url(org) + "?level=monthly", headers=h).get_json()
    assert monthly["total"] == 1 and monthly["items"][0]["due_rule"] == "每月最后一天 17:00 前"
    assert client.get(url(org) + "?active=false", headers=h).get_json()["total"] == 0
    for query, field in [("per_page=101", "per_page"), ("page=0", "page"), ("level=hourly", "level"), ("active=yes", "active")]:
        body = is_problem(client.get(f"{url(org)}?{query}", headers=h), 422)
        assert field in body["errors"]


def test_create_read_patch(client, db_session, org):
    h = headers(db_session, org.officer)
    daily = db_session.scalar(select(CheckSchedule).where(CheckSchedule.team_id == org.t1.id))
    assert client.patch(f"/api/v1/schedules/{daily.id}", json={"active": False}, headers=h).get_json()["active"] is False
    created = client.post(
        url(org), json={"level": "daily", "team_id": org.t1.id, "due_time": "16:00", "grace_minutes": 30}, headers=h
    )
    assert created.status_code == 201, created.get_json()
    data = created.get_json()
    assert data["team_id"] == org.t1.id and data["department_id"] == org.d1.id and data["starts_on"] == "2026-11-23"
    got = client.get(f"/api/v1/schedules/{data['id']}", headers=h).get_json()
    assert got["due_rule"] == "每个工作日 16:00 前" and got["grace_minutes"] == 30
    patched = client.patch(
        f"/api/v1/schedules/{data['id']}",
        json={"label": "一班日检", "due_time": "15:30", "grace_minutes": 60, "workdays_only": False},
        headers=h,
    ).get_json()
    assert (patched["label"], patched["due_rule"], patched["grace_minutes"]) == ("一班日检", "每天 15:30 前", 60)
    # Resuming the first beside the new one is a duplicate.
    body = is_problem(client.patch(f"/api/v1/schedules/{daily.id}", json={"active": True}, headers=h), 409)
    assert "一班日检" in body["detail"]


def test_pause_and_resume_through_the_api_leave_no_backlog(client, db_session, org, monkeypatch):
    h = headers(db_session, org.officer)
    weekly = db_session.scalar(select(CheckSchedule).where(CheckSchedule.department_id == org.d2.id, CheckSchedule.level == "weekly"))
    assert client.patch(f"/api/v1/schedules/{weekly.id}", json={"active": False}, headers=h).status_code == 200
    schedule_service.generate_tasks(db_session, local(2026, 12, 16))
    monkeypatch.setattr(api_schedules, "utcnow", lambda: local(2026, 12, 16))
    resumed = client.patch(f"/api/v1/schedules/{weekly.id}", json={"active": True}, headers=h).get_json()
    assert resumed["active"] is True and resumed["starts_on"] == "2026-12-16"
    schedule_service.generate_tasks(db_session, local(2026, 12, 16))
    starts = db_session.scalars(
        select(CheckTask.period_start).where(CheckTask.schedule_id == weekly.id).order_by(CheckTask.period_start)
    ).all()
    assert starts == [date(2026, 11, 23), date(2026, 12, 14)]


def test_bad_input_is_a_problem_and_writes_nothing(client, db_session, org):
    h = headers(db_session, org.officer)
    before = count(db_session)
    body = is_problem(client.post(url(org), json={"level": "daily"}, headers=h), 422)
    assert body["errors"] == {"team_id": "班组日排查须指定班组"}
    body = is_problem(client.post(url(org), json={"level": "monthly", "due_time": "7pm"}, headers=h), 422)
    assert "due_time" in body["errors"]
    is_problem(client.post(url(org), data="not json", headers=h), 422)
    is_problem(client.post(url(org), json={"level": "weekly", "department_id": org.d1.id}, headers=h), 409)
    daily = db_session.scalar(select(CheckSchedule).where(CheckSchedule.team_id == org.t1.id))
    body = is_problem(client.patch(f"/api/v1/schedules/{daily.id}", json={"level": "weekly"}, headers=h), 422)
    assert "level" in body["errors"]
    body = is_problem(client.patch(f"/api/v1/schedules/{daily.id}", json={"grace_minutes": 1441}, headers=h), 422)
    assert "grace_minutes" in body["errors"]
    assert count(db_session) == before
    db_session.expire_all()
    assert db_session.get(CheckSchedule, daily.id).grace_minutes == 120


def test_permissions_and_token(client, db_session, org):
    is_problem(client.get(url(org)), 401)
    h = headers(db_session, org.leader)
    before = count(db_session)
    is_problem(client.post(url(org), json={"level": "monthly"}, headers=h), 403)
    daily = db_session.scalar(select(CheckSchedule).where(CheckSchedule.team_id == org.t1.id))
    is_problem(client.patch(f"/api/v1/schedules/{daily.id}", json={"active": False}, headers=h), 403)
    assert count(db_session) == before
    db_session.expire_all()
    assert db_session.get(CheckSchedule, daily.id).active


def test_another_enterprise_is_refused_on_every_route(client, build, db_session, org):
    other = build.enterprise(name="别家企业")
    other_team = build.team(build.department(other))
    outsider = headers(db_session, build.member(other, "enterprise_admin"))
    daily = db_session.scalar(select(CheckSchedule).where(CheckSchedule.team_id == org.t1.id))
    before = count(db_session)
    is_problem(client.get(url(org), headers=outsider), 404)
    is_problem(client.post(url(org), json={"level": "monthly"}, headers=outsider), 404)
    is_problem(client.get(f"/api/v1/schedules/{daily.id}", headers=outsider), 404)
    is_problem(client.patch(f"/api/v1/schedules/{daily.id}", json={"active": False}, headers=outsider), 404)
    is_problem(client.get(f"/api/v1/schedules/{2**31}", headers=outsider), 404)
    mine = headers(db_session, org.officer)
    body = is_problem(client.post(url(org), json={"level": "daily", "team_id": other_team.id}, headers=mine), 422)
    assert body["errors"] == {"team_id": "班组不属于本企业"}
    assert count(db_session) == before
    db_session.expire_all()
    assert db_session.get(CheckSchedule, daily.id).active


def test_openapi_documents_the_routes(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/enterprises/{enterprise_id}/schedules"])
    assert {"get", "patch"} <= set(paths["/api/v1/schedules/{schedule_id}"])
