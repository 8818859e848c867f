"""The register's controls on the H5 pages and in the API (双重预防, issue 17 §2): the check
form lists a team's control after the checklist with its origin; a plain form marks it 隐患
with a photo and the hazard names the control (H5 and console detail); the scan page offers
a worker their post's controls (岗位自查) once a day; GET /api/v1/check-tasks lists items
with their origin."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import func, select

from app.accounts.domain import Role
from app.accounts.h5_login import SESSION_USER_ID
from app.accounts.service import issue_api_token
from app.hazard_reporting.checklists import service as checklist_service
from app.hazard_reporting.checks import h5 as check_h5
from app.hazard_reporting.checks.models import CheckItemResult, PostSelfCheck
from app.hazard_reporting.checks.queries import task_items
from app.hazard_reporting.hazards.models import Hazard
from app.hazard_reporting.risks.domain import ControlLevel
from tests.fixtures.checks import KEY, MONDAY, CheckOrg, jpeg
from tests.fixtures.csrf import FormClient
from tests.fixtures.hazard_pages import console_login
from tests.fixtures.risks import add_control, bump


@pytest.fixture
def client(client):
    return FormClient(client)


@pytest.fixture
def org(build, db_session, monkeypatch) -> CheckOrg:
    monkeypatch.setattr(check_h5, "utcnow", lambda: MONDAY)
    monkeypatch.setattr("app.api.check_tasks.utcnow", lambda: MONDAY)  # imported with the app
    checklist_service.load_standard_checklists(db_session, MONDAY)
    org = CheckOrg(build)
    org.generate()
    return org


@pytest.fixture
def control(db_session, org):
    return add_control(
        db_session, org.enterprise, org.s1, MONDAY, level=ControlLevel.TEAM, team_id=org.t1.id,
        text="出铁前确认炉前地坑干燥无积水",
    )


def h5_login(client, user) -> None:
    with client.session_transaction() as session:
        session[SESSION_USER_ID] = user.id


def text(response) -> str:
    return response.get_data(as_text=True)


def test_the_form_lists_the_control_after_the_checklist_with_its_origin(client, db_session, org, control):
    h5_login(client, org.leader)
    scan = text(client.get(f"/h5/scan/{org.s1.token}"))
    total = len(task_items(db_session, org.daily())) + 1
    assert f"共 {total} 项" in scan
    page = text(client.get(f"/h5/checks/{org.daily().id}?site={org.s1.token}"))
    code = f"RC-{control.id}"
    section = page[page.index(f'id="item-{code}"'):]
    assert 'data-origin="control"' in section[:300]
    assert "出铁前确认炉前地坑干燥无积水" in section
    assert "来源：熔炼炉 › 高温熔融金属喷溅" in section and "班组级管控" in section
    assert 'class="ck-chip ck-chip--orange">较大风险' in section
    assert f'<span class="ck-item__no">{total}</span>' in section
    assert page.index("风险管控措施") > page.rindex('data-origin="checklist"')
    assert 'name="controls_token"' in page
    # At another point of the team's reach the control is not offered.
    client.get(f"/h5/scan/{org.gate.token}")
    assert code not in text(client.get(f"/h5/checks/{org.daily().id}?site={org.gate.token}"))


def test_a_plain_form_marks_the_control_as_a_hazard_and_the_pages_name_it(client, db_session, org, control):
    task = org.daily()
    h5_login(client, org.leader)
    client.get(f"/h5/scan/{org.s1.token}")
    code = f"RC-{control.id}"
    data = {"site_token": org.s1.token, "idempotency_key": KEY}  # no token: the register as it is
    for resolved in task_items(db_session, task):
        data[f"result-{resolved.item.code}"] = "ok"
    data |= {f"result-{code}": "hazard", f"note-{code}": "炉前地坑有积水", f"file-{code}": (io.BytesIO(jpeg()), "a.jpg")}
    response = client.post(f"/h5/checks/{task.id}", data=data, content_type="multipart/form-data")
    assert response.status_code == 303, text(response)
    result = db_session.scalar(select(CheckItemResult).where(CheckItemResult.item_code == code))
    assert result.risk_control_id == control.id and result.hazard_id is not None
    hazard = db_session.get(Hazard, result.hazard_id)
    assert hazard.risk_control_id == control.id

    page = text(client.get(f"/h5/checks/{task.id}/result"))
    assert "风险管控措施" in page and "出铁前确认炉前地坑干燥无积水" in page
    assert "来源：熔炼炉 › 高温熔融金属喷溅" in page
    detail = text(client.get(f"/h5/hazards/{hazard.id}"))
    assert "来源：风险管控措施「出铁前确认炉前地坑干燥无积水」· 风险点「熔炼炉」" in detail
    console_login(client, org.officer)
    console = text(client.get(f"/console/hazards/{hazard.id}"))
    assert "来源：风险管控措施「出铁前确认炉前地坑干燥无积水」· 风险点「熔炼炉」" in console


def test_a_worker_confirms_the_controls_of_their_post_once_a_day(client, db_session, build, org):
    post = build.post(org.enterprise, name="熔炼工")
    worker = build.member(org.enterprise, Role.WORKER, department_id=org.d1.id, post_id=post.id)
    ppe = add_control(
        db_session, org.enterprise, org.s1, MONDAY, level=ControlLevel.POST, post_id=post.id,
        text="作业前穿戴好阻燃服和防护面罩", kind="ppe",
    )
    h5_login(client, org.leader)
    assert "岗位自查" not in text(client.get(f"/h5/scan/{org.s1.token}"))  # not their post

    h5_login(client, worker)
    page = text(client.get(f"/h5/scan/{org.s1.token}"))
    assert "岗位自查" in page and "作业前穿戴好阻燃服和防护面罩" in page and "已确认" in page
    empty_note = client.post(
        "/h5/self-checks", data={"site_token": org.s1.token, "control_id": str(ppe.id), "result": "problem"}
    )
    assert empty_note.status_code == 422 and "请简要写明发现的问题" in text(empty_note)
    problem = {"site_token": org.s1.token, "control_id": str(ppe.id), "result": "problem", "note": "面罩破损"}
    response = client.post("/h5/self-checks", data=problem)
    assert response.status_code == 303
    assert client.post("/h5/self-checks", data=problem).status_code == 303
    assert db_session.scalar(select(func.count()).select_from(PostSelfCheck)) == 1
    hazard = db_session.scalar(select(Hazard).where(Hazard.risk_control_id == ppe.id))
    assert hazard is not None and "面罩破损" in hazard.description
    page = text(client.get(response.headers["Location"]))
    assert "今日有问题：面罩破损" in page and f"/h5/hazards/{hazard.id}" in page
    # Without a fresh scan of the point nothing is recorded.
    other = {"site_token": org.gate.token, "control_id": str(ppe.id), "result": "confirmed"}
    assert client.post("/h5/self-checks", data=other).status_code == 403
    # No CSRF token: refused.
    assert client.bare.post("/h5/self-checks", data=problem).status_code in (400, 403)


def test_api_lists_check_tasks_with_item_origins(client, db_session, org, control):
    _, token = issue_api_token(db_session, org.officer, MONDAY, "test")
    headers = {"Authorization": f"Bearer {token}"}
    response = client.get(
        f"/api/v1/check-tasks?enterprise_id={org.enterprise.id}&team_id={org.t1.id}&level=daily", headers=headers
    )
    assert response.status_code == 200, text(response)
    body = response.get_json()
    assert body["total"] == 1
    task = body["items"][0]
    assert task["id"] == org.daily().id and task["level"] == "daily" and task["team_id"] == org.t1.id
    assert task["period_start"] == "2026-11-23" and task["site_id"] is None
    assert set(task) >= {"id", "level", "team_id", "department_id", "site_id", "period_start", "items"}
    origins = [(i["origin"], i["control_id"]) for i in task["items"]]
    assert origins[-1] == ("control", control.id)
    assert all(o == ("checklist", None) for o in origins[:-1]) and len(origins) > 1
    assert task["items"][-1]["text"] == "出铁前确认炉前地坑干燥无积水"

    every = client.get(f"/api/v1/check-tasks?enterprise_id={org.enterprise.id}", headers=headers).get_json()
    levels = {t["level"] for t in every["items"]}
    assert levels == {"daily", "weekly", "monthly"}
    other_team = [t for t in every["items"] if t["team_id"] == org.t2.id]
    assert other_team and all(i["origin"] == "checklist" for t in other_team for i in t["items"])
    weekly = client.get(
        f"/api/v1/check-tasks?enterprise_id={org.enterprise.id}&level=weekly", headers=headers
    ).get_json()
    assert {t["level"] for t in weekly["items"]} == {"weekly"}
    assert client.get("/api/v1/check-tasks?level=daily", headers=headers).status_code == 422
    assert client.get(
        f"/api/v1/check-tasks?enterprise_id={org.enterprise.id}&level=hourly", headers=headers
    ).status_code == 422


def test_api_check_tasks_of_another_enterprise_are_404(client, db_session, build, org):
    other = build.enterprise(name="乙企业")
    outsider = build.member(other, Role.ENTERPRISE_ADMIN)
    _, token = issue_api_token(db_session, outsider, MONDAY, "test")
    response = client.get(
        f"/api/v1/check-tasks?enterprise_id={org.enterprise.id}", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 404
    assert not re.search(r"班组日排查", text(response))
    assert client.get(f"/api/v1/check-tasks?enterprise_id={org.enterprise.id}").status_code == 401


def test_the_openapi_document_describes_check_tasks(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/check-tasks"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"enterprise_id", "team_id", "level"}
    schemas = spec["components"]["schemas"]
    item = next(v for k, v in schemas.items() if k.endswith(".CheckTaskItemOut"))
    assert {"text", "origin", "control_id"} <= set(item["properties"])


def _token(page: str) -> str:
    return re.search(r'name="controls_token" value="([^"]+)"', page).group(1)


def test_a_form_opened_before_a_control_was_retired_still_submits_and_a_forged_token_is_ignored(
    client, db_session, org, control
):
    kept = add_control(
        db_session, org.enterprise, org.s1, MONDAY, level=ControlLevel.TEAM, team_id=org.t1.id,
        text="浇注区设置警戒线", point_name="浇注区",
    )
    task = org.daily()
    h5_login(client, org.leader)
    client.get(f"/h5/scan/{org.s1.token}")
    token = _token(text(client.get(f"/h5/checks/{task.id}?site={org.s1.token}")))
    control.active = False  # retired by the register's editor meanwhile
    bump(db_session, org.enterprise.id, MONDAY)
    retired_code, kept_code = f"RC-{control.id}", f"RC-{kept.id}"
    data = {"site_token": org.s1.token, "idempotency_key": KEY, f"result-{retired_code}": "ok"}
    for resolved in task_items(db_session, task):
        data[f"result-{resolved.item.code}"] = "ok"

    # A token that does not verify counts for nothing: the register as it is now asks for
    # the control still in force.
    forged = client.post(f"/h5/checks/{task.id}", data={**data, "controls_token": token[:-2] + "xx"}, headers=JSON)
    assert forged.status_code == 422
    assert f"answers.{kept_code}" in forged.get_json()["fields"]

    data[f"result-{kept_code}"] = "ok"
    response = client.post(f"/h5/checks/{task.id}", data={**data, "controls_token": token}, headers=JSON)
    assert response.status_code == 200, text(response)
    results = db_session.scalars(
        select(CheckItemResult).where(CheckItemResult.risk_control_id.is_not(None)).order_by(CheckItemResult.position)
    ).all()
    assert {r.risk_control_id for r in results} == {control.id, kept.id}
    assert results[0].submission.risk_register_version == 2


JSON = {"Accept": "application/json"}
