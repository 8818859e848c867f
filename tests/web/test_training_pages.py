"""Safety training on the web: the enterprise's tab (list, record with attendees, session
page, correction), refusals shown on the form with nothing lost, CSRF on every form, the
bureau's coverage page and its Excel export, the dossier section, and the API."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from app.accounts.models import Membership
from app.accounts.service import issue_api_token
from app.clock import local_today, utcnow
from app.oversight.training import service
from app.oversight.training.models import TrainingAttendance, TrainingSession
from tests.fixtures.csrf import session_token


def console_login(client, user) -> None:
    with client.session_transaction() as session:
        session["user_id"] = user.id


def text(response) -> str:
    return response.get_data(as_text=True)


class Scene:
    def __init__(self, build, session):
        self.session = session
        self.build = build
        self.town = build.town(name="花园口镇")
        self.other_town = build.town(name="古荥镇")
        self.e = build.enterprise(town=self.town, name="=HYPERLINK(\"x\")恒达铸造")
        self.other = build.enterprise(town=self.other_town, name="郑州鑫林木业有限公司")
        dept = build.department(self.e, name="熔炼车间")
        self.manager = build.member(self.e, "manager", user=build.user(display_name="王经理"))
        self.officer = build.member(self.e, "safety_officer", user=build.user(display_name="李安全"))
        self.worker = build.member(self.e, "worker", user=build.user(display_name="赵工人"), department_id=dept.id)
        self.other_manager = build.member(self.other, "manager", user=build.user(display_name="孙经理"))
        self.bureau = build.bureau_user("bureau_admin", user=build.user(display_name="区局管理员"))
        self.staff = build.bureau_user("bureau_staff", towns=[self.other_town])

    def m(self, user, enterprise=None) -> int:
        enterprise = enterprise or self.e
        return self.session.scalar(
            select(Membership.id).where(Membership.user_id == user.id, Membership.enterprise_id == enterprise.id)
        )

    def form(self, token, *attendees, **fields) -> dict:
        data = {
            "csrf_token": token, "topic": "主要负责人和安全管理人员培训", "kind": "principal_officer",
            "held_on": (local_today(utcnow()) - timedelta(days=3)).isoformat(), "trainer": "王老师", "hours": "8",
            "location": "会议室", "notes": "", "attendee": [str(a) for a in attendees],
        }
        for a in attendees:
            data[f"passed-{a}"] = "1"
            data[f"certificate-{a}"] = f"C{a}"
        data.update(fields)
        return data

    def recorded(self) -> TrainingSession:
        return service.record_session(
            self.session, self.build.actor(self.officer), utcnow(), self.e.id,
            {"topic": "年度再培训", "kind": "annual_refresher", "held_on": local_today(utcnow()).isoformat(),
             "trainer": "刘工", "hours": "4", "attendees": [{"membership_id": self.m(self.manager)}]},
        )


@pytest.fixture
def scene(build, db_session) -> Scene:
    return Scene(build, db_session)


def count(db_session, model) -> int:
    return db_session.scalar(select(func.count()).select_from(model))


def test_the_tab_and_menu_reach_the_pages(client, scene):
    console_login(client, scene.officer)
    page = text(client.get(f"/console/enterprises/{scene.e.id}/training"))
    assert ">安全培训</a>" in page and "登记培训" in page and "熔炼车间" in page and 'name="csrf_token"' in page
    assert f'href="/console/enterprises/{scene.e.id}/training"' in text(client.get(f"/console/enterprises/{scene.e.id}/dashboard"))
    # The bureau menu entry is the bureau's only.
    assert 'href="/console/training"' not in page
    assert client.get("/console/training").status_code == 403
    console_login(client, scene.bureau)
    assert 'href="/console/training"' in text(client.get("/console/training"))


def test_a_worker_reads_the_list_without_the_form(client, scene):
    scene.recorded()
    console_login(client, scene.worker)
    page = text(client.get(f"/console/enterprises/{scene.e.id}/training"))
    assert "年度再培训" in page and "登记培训</h2>" not in page


def test_the_safety_officer_records_a_session_and_sees_it(app, client, scene, db_session):
    console_login(client, scene.officer)
    token = session_token(app, client)
    response = client.post(
        f"/console/enterprises/{scene.e.id}/training",
        data=scene.form(token, scene.m(scene.manager), scene.m(scene.worker)),
    )
    assert response.status_code == 302
    row = db_session.scalar(select(TrainingSession).order_by(TrainingSession.id.desc()))
    assert [a.certificate_no for a in row.attendances] == [f"C{scene.m(scene.manager)}", f"C{scene.m(scene.worker)}"]
    page = text(client.get(response.headers["Location"]))
    assert "已登记培训" in page and "王经理" in page and "赵工人" in page and "更正培训记录" in page


def test_a_refusal_shows_the_form_again_with_what_was_typed(app, client, scene, db_session):
    console_login(client, scene.officer)
    token = session_token(app, client)
    future = (local_today(utcnow()) + timedelta(days=1)).isoformat()
    response = client.post(
        f"/console/enterprises/{scene.e.id}/training",
        data=scene.form(token, scene.m(scene.worker), held_on=future, topic="特种作业复训"),
    )
    page = text(response)
    assert response.status_code == 422 and "不能晚于今天" in page
    assert 'value="特种作业复训"' in page and f'value="{scene.m(scene.worker)}" id="attendee-{scene.m(scene.worker)}" checked' in page
    outsider = scene.m(scene.other_manager, scene.other)
    response = client.post(f"/console/enterprises/{scene.e.id}/training", data=scene.form(token, outsider))
    assert response.status_code == 422 and "在职人员" in text(response)
    assert count(db_session, TrainingSession) == 0


def test_a_worker_and_the_bureau_cannot_record(app, client, scene, db_session):
    for user in (scene.worker, scene.bureau):
        console_login(client, user)
        token = session_token(app, client)
        response = client.post(f"/console/enterprises/{scene.e.id}/training", data=scene.form(token, scene.m(scene.worker)))
        assert response.status_code == 403
    console_login(client, scene.other_manager)
    token = session_token(app, client)
    assert client.post(f"/console/enterprises/{scene.e.id}/training", data=scene.form(token, scene.m(scene.worker))).status_code == 404
    assert count(db_session, TrainingSession) == 0


def test_every_form_needs_a_csrf_token(client, scene, db_session):
    row = scene.recorded()
    console_login(client, scene.officer)
    for url in (f"/console/enterprises/{scene.e.id}/training", f"/console/enterprises/{scene.e.id}/training/{row.id}"):
        response = client.post(url, data={k: v for k, v in scene.form("", scene.m(scene.worker), note="x").items() if k != "csrf_token"})
        assert response.status_code in (400, 403), url
    assert count(db_session, TrainingSession) == 1 and count(db_session, TrainingAttendance) == 1


def test_a_correction_needs_its_reason_and_is_kept(app, client, scene, db_session):
    row = scene.recorded()
    console_login(client, scene.officer)
    token = session_token(app, client)
    url = f"/console/enterprises/{scene.e.id}/training/{row.id}"
    refused = client.post(url, data=scene.form(token, scene.m(scene.manager), scene.m(scene.worker), note=""))
    assert refused.status_code == 422 and "更正原因" in text(refused)
    done = client.post(url, data=scene.form(token, scene.m(scene.manager), scene.m(scene.worker), note="补录赵工人"), follow_redirects=True)
    assert "已更正" in text(done) and "补录赵工人" in text(done)
    db_session.expire_all()
    assert len(db_session.get(TrainingSession, row.id).attendances) == 2


def test_the_bureau_coverage_page_and_export(client, scene):
    scene.recorded()
    console_login(client, scene.bureau)
    page = text(client.get("/console/training"))
    assert "王经理" in page and "李安全" in page and "孙经理" in page and "50%" in page
    assert page.index("未覆盖</span>李安全") > 0
    before = text(client.get("/console/training", query_string={"as_of": (local_today(utcnow()) - timedelta(days=1)).isoformat()}))
    assert "已覆盖</span>王经理" not in before
    assert "不能查看今后" in text(client.get("/console/training", query_string={"as_of": "2999-01-01"}))
    export = client.get("/console/training/export.xlsx")
    assert export.status_code == 200 and export.headers["Content-Type"].startswith("application/vnd.openxml")
    book = load_workbook(io.BytesIO(export.data))
    names = [row[1] for row in book["企业"].iter_rows(min_row=2, values_only=True)]
    assert "'=HYPERLINK(\"x\")恒达铸造" in names  # excel_safe
    staff = scene.staff
    console_login(client, staff)
    page = text(client.get("/console/training"))
    assert "孙经理" in page and "王经理" not in page


def test_the_dossier_shows_the_training_section(client, scene):
    scene.recorded()
    console_login(client, scene.bureau)
    page = text(client.get(f"/console/enterprises/{scene.e.id}/dossier"))
    assert 'id="training"' in page and "年度再培训" in page and "1 / 2" in page


# --- API -----------------------------------------------------------------------------------------


def bearer(db_session, user) -> dict:
    _, token = issue_api_token(db_session, user, utcnow(), "test")
    return {"Authorization": f"Bearer {token}"}


def test_api_records_and_lists_sessions(client, scene, db_session):
    headers = bearer(db_session, scene.officer)
    body = {
        "topic": "有限空间专题培训", "kind": "confined_space", "held_on": local_today(utcnow()).isoformat(),
        "trainer": "李安全", "hours": 2.5,
        "attendees": [{"membership_id": scene.m(scene.worker)}, {"membership_id": scene.m(scene.officer), "passed": False}],
    }
    created = client.post(f"/api/v1/enterprises/{scene.e.id}/training-sessions", json=body, headers=headers)
    assert created.status_code == 201, created.json
    assert created.json["hours"] == "2.5" and created.json["counts_for_coverage"] is False
    listed = client.get(f"/api/v1/enterprises/{scene.e.id}/training-sessions?per_page=1", headers=headers).json
    assert listed["total"] == 1 and listed["per_page"] == 1 and listed["items"][0]["topic"] == "有限空间专题培训"


def test_api_refusals_are_problem_json(client, scene, db_session):
    headers = bearer(db_session, scene.officer)
    url = f"/api/v1/enterprises/{scene.e.id}/training-sessions"
    base = {"topic": "x", "kind": "other", "held_on": local_today(utcnow()).isoformat(), "trainer": "y", "hours": 1,
            "attendees": [{"membership_id": scene.m(scene.worker)}]}
    bad_hours = client.post(url, json={**base, "hours": 41}, headers=headers)
    assert bad_hours.status_code == 422 and bad_hours.mimetype == "application/problem+json" and "hours" in bad_hours.json["errors"]
    twice = client.post(url, json={**base, "attendees": base["attendees"] * 2}, headers=headers)
    assert twice.status_code == 422 and "只能登记一次" in twice.json["detail"]
    outsider = client.post(url, json={**base, "attendees": [{"membership_id": scene.m(scene.other_manager, scene.other)}]}, headers=headers)
    assert outsider.status_code == 422
    assert client.post(url, json=base, headers=bearer(db_session, scene.worker)).status_code == 403
    assert client.get(url, headers=bearer(db_session, scene.other_manager)).status_code == 404
    assert count(db_session, TrainingSession) == 0


def test_api_coverage_for_the_bureau_only(client, scene, db_session):
    scene.recorded()
    response = client.get("/api/v1/training/coverage", headers=bearer(db_session, scene.bureau))
    assert response.status_code == 200
    body = response.json
    assert body["district"] == {"people": 3, "covered": 1, "rate": pytest.approx(1 / 3)}
    assert body["covering_kinds"] == ["annual_refresher", "principal_officer"]
    assert {t["town_id"] for t in body["towns"]} == {scene.town.id, scene.other_town.id}
    assert client.get("/api/v1/training/coverage?as_of=2999-01-01", headers=bearer(db_session, scene.bureau)).status_code == 422
    assert client.get("/api/v1/training/coverage", headers=bearer(db_session, scene.officer)).status_code == 403
    spec = client.get("/api/v1/openapi.json").json
    assert "/api/v1/training/coverage" in spec["paths"]
    assert "post" in spec["paths"]["/api/v1/enterprises/{enterprise_id}/training-sessions"]


def test_an_old_session_has_no_correction_form_and_a_wrong_enterprise_is_404(client, scene, db_session):
    row = scene.recorded()
    row.held_on = local_today(utcnow()) - timedelta(days=31)
    db_session.flush()
    console_login(client, scene.officer)
    page = text(client.get(f"/console/enterprises/{scene.e.id}/training/{row.id}"))
    assert "年度再培训" in page and "更正培训记录" not in page
    console_login(client, scene.bureau)
    assert client.get(f"/console/enterprises/{scene.other.id}/training/{row.id}").status_code == 404
    page = text(client.get(f"/console/enterprises/{scene.e.id}/training/{row.id}"))
    assert "王经理" in page and "更正培训记录" not in page
