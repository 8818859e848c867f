"""Enforcement inspections on the web: the 执法检查 menu entry (bureau only), new record →
problems → directive → signature drawn and posted as a PNG data URL → the record signed with
its image and hash, the problems in the enterprise's hazards list as 执法检查; refusals shown
on the page with what was typed; CSRF on every form; the printable record; the signature
image and the record for the enterprise's readers; the 一企一档 section; the API."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.accounts.service import issue_api_token
from app.clock import utcnow
from app.hazard_reporting.hazards.domain import HazardSource
from app.hazard_reporting.hazards.models import Hazard
from app.oversight.enforcement.domain import InspectionStatus
from app.oversight.enforcement.models import Inspection, InspectionEvent, InspectionProblem
from tests.fixtures.csrf import session_token
from tests.fixtures.enforcement import EnforcementScene, data_url, noisy_png, signature_png


def console_login(client, user) -> None:
    with client.session_transaction() as session:
        session["user_id"] = user.id


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def scene(app, build, db_session) -> EnforcementScene:
    return EnforcementScene(build, db_session, app.config["SETTINGS"].MEDIA_ROOT)


def test_the_menu_shows_执法检查_to_the_bureau_only(client, scene):
    console_login(client, scene.staff)
    assert ">执法检查</a>" in text(client.get("/console/inspections"))
    console_login(client, scene.ent_admin)
    assert client.get("/console/inspections").status_code == 403
    assert client.get("/console/inspections/new").status_code == 403
    assert ">执法检查</a>" not in text(client.get("/console/"))


def test_the_bureau_records_an_inspection_and_the_responsible_person_signs(app, client, scene, db_session):
    console_login(client, scene.staff)
    form = text(client.get("/console/inspections/new"))
    assert 'name="csrf_token"' in form and "郑州豫北特钢有限公司" in form and "郑州鑫林木业有限公司" not in form
    token = session_token(app, client)
    created = client.post(
        "/console/inspections/new",
        data={"csrf_token": token, "enterprise_id": str(scene.enterprise.id), "inspected_on": scene.today.isoformat(),
              "inspectors": "张执法、刘执法", "responsible_name": "陈经理", "responsible_title": "总经理",
              "joint": "1", "joint_agencies": "区消防救援大队"},
    )
    assert created.status_code == 302
    inspection = db_session.scalar(select(Inspection).order_by(Inspection.id.desc()))
    url = f"/console/inspections/{inspection.id}"
    page = text(client.get(url))
    assert "见问题清单" in page and "见复查验收" in page and "联合执法（区消防救援大队）" in page
    assert page.count("✗ 缺") == 5
    deadline = (scene.today + timedelta(days=7)).isoformat()
    for n, level in ((1, "general"), (2, "major")):
        added = client.post(f"{url}/problems", data={"csrf_token": token, "text": f"问题{n}", "level": level, "category": "unsafe_condition", "deadline": deadline})
        assert added.status_code == 302
    client.post(f"{url}/directive", data={"csrf_token": token, "penalty_kind": "rectify_order", "penalty_content": "责令限期整改", "penalty_deadline": deadline})
    sign_page = text(client.get(f"{url}/sign"))
    assert "<canvas" in sign_page and "console/signature.js" in sign_page and "确认签字" in sign_page and "清除" in sign_page
    signed = client.post(f"{url}/sign", data={"csrf_token": token, "signer_name": "陈经理", "signature": data_url(signature_png())})
    assert signed.status_code == 302
    db_session.refresh(inspection)
    assert inspection.status is InspectionStatus.SIGNED
    record = text(client.get(url))
    assert f"{url}/signature.png" in record and inspection.signature_sha256 in record
    assert record.count("✓ 已完成") == 3 and "2 项隐患中 0 项已整改销号" in record
    image = client.get(f"{url}/signature.png")
    assert image.status_code == 200 and image.mimetype == "image/png" and image.data.startswith(b"\x89PNG")
    hazards = text(client.get(f"/console/hazards?enterprise_id={scene.enterprise.id}"))
    assert hazards.count("执法检查</span>") == 2 and "问题1" in hazards and "问题2" in hazards
    again = client.post(f"{url}/sign", data={"csrf_token": token, "signer_name": "陈经理", "signature": data_url(signature_png())})
    assert again.status_code == 409 and "不能重复签字" in text(again)


def test_a_refusal_is_shown_with_what_was_typed(app, client, scene, db_session):
    inspection = scene.draft()
    console_login(client, scene.staff)
    token = session_token(app, client)
    url = f"/console/inspections/{inspection.id}"
    refused = client.post(f"{url}/problems", data={"csrf_token": token, "text": "配电箱门未关闭，线路老化", "level": "general", "category": "", "deadline": scene.today.isoformat()})
    assert refused.status_code == 422
    body = text(refused)
    assert "请选择隐患类别" in body and "配电箱门未关闭，线路老化" in body
    directive = client.post(f"{url}/directive", data={"csrf_token": token, "penalty_kind": "administrative_penalty", "penalty_content": "罚款人民币壹万元"})
    assert directive.status_code == 422 and "处罚决定书文号" in text(directive) and "罚款人民币壹万元" in text(directive)
    unsigned = client.post(f"{url}/sign", data={"csrf_token": token, "signer_name": "陈经理", "signature": data_url(signature_png())})
    assert unsigned.status_code == 422 and "签字前请补全" in text(unsigned)
    assert db_session.scalar(select(func.count()).select_from(InspectionProblem)) == 0


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"signature": data_url(signature_png(blank=True))}, "签名为空白"),
        ({"signature": "data:image/gif;base64,R0lGODlh"}, "只接受 PNG"),
        ({"signature": ""}, "签名为空白"),
    ],
)
def test_bad_signatures_are_refused_on_the_page(app, client, scene, db_session, fields, message):
    inspection = scene.ready()
    console_login(client, scene.staff)
    response = client.post(f"/console/inspections/{inspection.id}/sign", data={"csrf_token": session_token(app, client), "signer_name": "陈经理", **fields})
    assert response.status_code == 422 and message in text(response) and 'value="陈经理"' in text(response)
    db_session.refresh(inspection)
    assert inspection.status is InspectionStatus.DRAFT and db_session.scalar(select(func.count()).select_from(Hazard)) == 0


def test_an_oversized_signature_file_is_refused(app, client, scene, db_session):
    import io

    inspection = scene.ready()
    console_login(client, scene.staff)
    response = client.post(
        f"/console/inspections/{inspection.id}/sign",
        data={"csrf_token": session_token(app, client), "signer_name": "陈经理", "signature_file": (io.BytesIO(noisy_png(1.2)), "s.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422 and "不能超过 1 MB" in text(response)
    db_session.refresh(inspection)
    assert inspection.status is InspectionStatus.DRAFT


def test_every_form_needs_a_csrf_token(client, scene, db_session):
    inspection = scene.ready()
    problem = inspection.problems[0]
    console_login(client, scene.staff)
    before = db_session.scalar(select(func.count()).select_from(InspectionEvent))
    url = f"/console/inspections/{inspection.id}"
    posts = {
        "/console/inspections/new": {"enterprise_id": str(scene.enterprise.id), "inspected_on": scene.today.isoformat(), "inspectors": "x"},
        f"{url}/edit": {"inspected_on": scene.today.isoformat(), "inspectors": "x"},
        f"{url}/problems": {"text": "x", "category": "unsafe_condition", "deadline": scene.today.isoformat()},
        f"{url}/problems/{problem.id}/remove": {},
        f"{url}/directive": {"penalty_kind": "none"},
        f"{url}/sign": {"signer_name": "陈经理", "signature": data_url(signature_png())},
        f"{url}/reinspect": {"reinspected_on": scene.today.isoformat(), "passed": "0", "result": "x"},
    }
    for post_url, data in posts.items():
        assert client.post(post_url, data=data).status_code == 400, post_url
    assert db_session.scalar(select(func.count()).select_from(InspectionEvent)) == before
    db_session.refresh(inspection)
    assert inspection.status is InspectionStatus.DRAFT and len(inspection.problems) == 2


def test_staff_of_another_town_and_the_enterprise_see_only_what_they_may(app, client, scene, db_session):
    inspection = scene.ready()
    url = f"/console/inspections/{inspection.id}"
    console_login(client, scene.other_staff)
    assert client.get(url).status_code == 404
    assert client.post(f"{url}/directive", data={"csrf_token": session_token(app, client), "penalty_kind": "none"}).status_code == 404
    console_login(client, scene.ent_admin)
    assert client.get(url).status_code == 404  # a draft
    scene_signed = scene.signed()
    signed_url = f"/console/inspections/{scene_signed.id}"
    page = text(client.get(signed_url))
    assert "见责任人签字" in page and "添加问题" not in page and "记录复查结果" not in page
    assert client.get(f"{signed_url}/signature.png").status_code == 200
    assert client.get(f"{signed_url}/sign").status_code == 403
    console_login(client, scene.far_admin)
    assert client.get(f"{signed_url}/signature.png").status_code == 404
    assert client.get("/console/inspections/99999999999").status_code == 404


def test_the_printable_record_has_the_five_见_and_the_signature(client, scene):
    inspection = scene.signed()
    console_login(client, scene.admin)
    page = text(client.get(f"/console/inspections/{inspection.id}/print"))
    assert "@page { size: A4" in page and "安全生产执法检查记录" in page
    for heading in ("一、见问题清单", "二、见处罚指令", "三、见责任人签字", "四、见整改结果", "五、见复查验收"):
        assert heading in page
    assert f"#{inspection.problems[0].hazard_id}" in page and "已上报" in page
    assert inspection.signature_sha256 in page and "signature.png" in page


def test_the_reinspection_form_refuses_acceptance_while_hazards_are_open(app, client, scene, db_session):
    inspection = scene.signed(problems=1)
    console_login(client, scene.staff)
    response = client.post(
        f"/console/inspections/{inspection.id}/reinspect",
        data={"csrf_token": session_token(app, client), "reinspected_on": scene.today.isoformat(), "passed": "1", "result": "看过了"},
    )
    assert response.status_code == 409 and "尚有 1 项隐患未整改销号" in text(response) and "看过了" in text(response)
    failed = client.post(
        f"/console/inspections/{inspection.id}/reinspect",
        data={"csrf_token": session_token(app, client), "reinspected_on": scene.today.isoformat(), "passed": "0", "result": "标识仍未设置"},
        follow_redirects=True,
    )
    assert "已记录复查未通过" in text(failed)
    db_session.refresh(inspection)
    assert inspection.status is InspectionStatus.RECTIFYING


def test_the_list_filters_and_the_dossier_lists_the_records(client, scene):
    signed = scene.signed()
    draft = scene.draft()
    console_login(client, scene.staff)
    listing = text(client.get("/console/inspections"))
    assert listing.count(f"/console/inspections/{signed.id}\"") >= 1 and f"/console/inspections/{draft.id}\"" in listing
    only_drafts = text(client.get("/console/inspections?status=draft"))
    assert f"/console/inspections/{signed.id}\"" not in only_drafts and f"/console/inspections/{draft.id}\"" in only_drafts
    dossier = text(client.get(f"/console/enterprises/{scene.enterprise.id}/dossier"))
    assert "执法检查记录（2 份）" in dossier and f"/console/inspections/{signed.id}" in dossier
    console_login(client, scene.ent_admin)
    mine = text(client.get(f"/console/enterprises/{scene.enterprise.id}/dossier"))
    assert "执法检查记录（1 份）" in mine and f"/console/inspections/{draft.id}\"" not in mine


def test_the_api_lists_and_shows_inspections_in_scope(client, scene, db_session):
    signed = scene.signed()
    draft = scene.draft()
    _, staff_token = issue_api_token(db_session, scene.staff, utcnow(), "t")
    _, other_token = issue_api_token(db_session, scene.other_staff, utcnow(), "t")
    _, ent_token = issue_api_token(db_session, scene.ent_admin, utcnow(), "t")
    bearer = lambda t: {"Authorization": f"Bearer {t}"}  # noqa: E731
    listing = client.get("/api/v1/inspections?per_page=1", headers=bearer(staff_token)).get_json()
    assert listing["total"] == 2 and listing["per_page"] == 1 and len(listing["items"]) == 1
    signed_only = client.get(f"/api/v1/inspections?status=signed&town_id={scene.town.id}&enterprise_id={scene.enterprise.id}", headers=bearer(staff_token)).get_json()
    assert [i["id"] for i in signed_only["items"]] == [signed.id] and signed_only["items"][0]["five_seen_done"] == 3
    assert client.get("/api/v1/inspections", headers=bearer(other_token)).get_json()["total"] == 0
    assert [i["id"] for i in client.get("/api/v1/inspections", headers=bearer(ent_token)).get_json()["items"]] == [signed.id]
    one = client.get(f"/api/v1/inspections/{signed.id}", headers=bearer(ent_token)).get_json()
    assert [p["hazard_id"] for p in one["problems"]] == [p.hazard_id for p in signed.problems]
    assert one["problems"][1]["level"] == "major" and one["problems"][0]["hazard_status"] == "reported"
    assert one["signature"]["sha256"] == signed.signature_sha256 and one["signature"]["url"].endswith(f"/console/inspections/{signed.id}/signature.png")
    assert [s["key"] for s in one["five_seen"]] == ["problems", "directive", "signature", "rectification", "acceptance"]
    assert one["penalty_kind"] == "rectify_order"
    hidden = client.get(f"/api/v1/inspections/{draft.id}", headers=bearer(ent_token))
    assert hidden.status_code == 404 and hidden.mimetype == "application/problem+json"
    bad = client.get("/api/v1/inspections?status=closed&town_id=x", headers=bearer(staff_token))
    assert bad.status_code == 422 and set(bad.get_json()["errors"]) == {"status", "town_id"}
    assert client.get("/api/v1/inspections").status_code == 401
    assert "/inspections" in str(client.get("/api/v1/openapi.json").get_json()["paths"])
    assert {h.source for h in db_session.scalars(select(Hazard))} == {HazardSource.ENFORCEMENT}
