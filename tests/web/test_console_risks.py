"""风险管控 in the console and the API: the tab, the register page, a risk point's page with
its forms (Chinese errors, nothing typed lost), CSRF on every form, the site page showing
"由风险辨识清单确定", the map, import (dry run, refusal writes nothing), export, scope, and
the API's CONTRACT shape."""

from __future__ import annotations

import io
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from app.accounts.h5_login import SESSION_USER_ID
from app.accounts.queries import load_actor
from app.accounts.service import hash_password, issue_api_token
from app.hazard_reporting.risks import service
from app.hazard_reporting.risks.models import RiskControl, RiskPoint, RiskSource
from app.hazard_reporting.schedules.models import SiteRiskProfile
from tests.fixtures.builders import NOW
from tests.integration.test_risk_register_import import GOOD, xlsx


def login(client, username: str) -> None:
    assert client.post("/console/login", data={"username": username, "password": "pw"}).status_code == 302


def csrf(client, url: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get(url).get_data(as_text=True))
    assert match, "no csrf field"
    return match.group(1)


@pytest.fixture
def plant(build, db_session):
    enterprise = build.enterprise(name="郑州恒达铸造有限公司")
    department = build.department(enterprise, name="熔炼车间")
    team = build.team(department, name="熔炼班")
    build.post(enterprise, name="炉前工")
    site = build.site(enterprise, name="熔炼炉平台", area="熔炼车间")
    admin = build.member(enterprise, "enterprise_admin", user=build.user(username="hd_admin", password_hash=hash_password("pw")))
    build.member(enterprise, "worker", user=build.user(username="hd_worker", password_hash=hash_password("pw")))
    other = build.enterprise(name="别家企业")
    build.member(other, "enterprise_admin", user=build.user(username="other_admin", password_hash=hash_password("pw")))
    db_session.commit()
    return enterprise, team, site, admin


def base(enterprise) -> str:
    return f"/console/enterprises/{enterprise.id}/risks"


def test_admin_builds_a_risk_point_in_the_console_and_the_site_turns_red(client, db_session, plant):
    enterprise, team, site, _ = plant
    login(client, "hd_admin")
    detail = client.get(f"/console/enterprises/{enterprise.id}/sites/").get_data(as_text=True)
    assert f"{base(enterprise)}/" in detail and "风险管控" in detail
    page = client.get(f"{base(enterprise)}/").get_data(as_text=True)
    assert "尚未建立风险辨识清单" in page
    token = csrf(client, f"{base(enterprise)}/")
    response = client.post(f"{base(enterprise)}/", data={"csrf_token": token, "name": "熔炼炉", "kind": "equipment", "area": "熔炼车间", "site_id": site.id})
    assert response.status_code == 302
    point = db_session.scalar(select(RiskPoint))
    url = f"{base(enterprise)}/points/{point.id}"
    bad = client.post(f"{url}/sources", data={"csrf_token": token, "name": "钢水喷溅", "likelihood": "7", "exposure": "6", "consequence": "15"})
    text = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "只能取" in text and 'value="钢水喷溅"' in text
    ok = client.post(f"{url}/sources", data={
        "csrf_token": token, "name": "钢水喷溅", "likelihood": "6", "exposure": "6", "consequence": "15",
        "accident_types": ["灼烫", "火灾"], "is_major_factor": "1",
    })
    assert ok.status_code == 302
    source = db_session.scalar(select(RiskSource))
    refused = client.post(f"{base(enterprise)}/sources/{source.id}/controls", data={
        "csrf_token": token, "text": "浇注前检查包衬干燥", "kind": "management", "control_level": "team",
    })
    assert refused.status_code == 422 and "须指定责任班组" in refused.get_data(as_text=True)
    assert client.post(f"{base(enterprise)}/sources/{source.id}/controls", data={
        "csrf_token": token, "text": "浇注前检查包衬干燥", "kind": "management", "control_level": "team", "team_id": team.id,
    }).status_code == 302
    page = client.get(url).get_data(as_text=True)
    assert "D = 540" in page and "重大风险" in page and "熔炼车间/熔炼班" in page and "未闭环隐患（0）" in page
    assert '<option value="10">10 完全可以预料</option>' in page and "灼烫、火灾" in page and "新增管控措施" in page
    profile = db_session.scalar(select(SiteRiskProfile).where(SiteRiskProfile.site_id == site.id))
    assert profile.risk_level.value == "red"
    sites = client.get(f"/console/enterprises/{enterprise.id}/sites/").get_data(as_text=True)
    assert "由风险辨识清单确定" in sites
    hand = client.post(f"/console/enterprises/{enterprise.id}/sites/{site.id}/risk", data={"csrf_token": token, "risk_level": "blue"})
    assert hand.status_code == 409 and "由风险辨识清单确定" in hand.get_data(as_text=True)
    the_map = client.get(f"{base(enterprise)}/map").get_data(as_text=True)
    assert "熔炼炉平台" in the_map and "lv-red" in the_map and "风险点：熔炼炉" in the_map
    register = client.get(f"{base(enterprise)}/").get_data(as_text=True)
    assert "第 3 版" in register and "新增危险源" in register


def test_every_form_needs_csrf_and_viewers_only_read(client, db_session, plant):
    enterprise, team, site, admin = plant
    actor = _actor(db_session, admin)
    point = service.add_point(db_session, actor, NOW, enterprise.id, {"name": "熔炼炉", "kind": "equipment"})
    source = service.add_source(db_session, actor, NOW, point.id, {"name": "噪声", "likelihood": "1", "exposure": "6", "consequence": "1"})
    control = service.add_control(db_session, actor, NOW, source.id, {"text": "戴耳塞", "kind": "ppe", "control_level": "company"})
    db_session.commit()
    login(client, "hd_admin")
    b = base(enterprise)
    for url in (
        f"{b}/", f"{b}/points/{point.id}/edit", f"{b}/points/{point.id}/retire", f"{b}/points/{point.id}/sources",
        f"{b}/sources/{source.id}/edit", f"{b}/sources/{source.id}/retire", f"{b}/sources/{source.id}/controls",
        f"{b}/controls/{control.id}/edit", f"{b}/controls/{control.id}/retire", f"{b}/import",
    ):
        assert client.post(url, data={"name": "x"}).status_code == 400, url
    client.post("/console/logout", data={"csrf_token": csrf(client, f"{b}/")})
    login(client, "hd_worker")
    page = client.get(f"{b}/points/{point.id}").get_data(as_text=True)
    assert "戴耳塞" in page and "添加危险源" not in page
    token = csrf(client, f"{b}/points/{point.id}") if 'name="csrf_token"' in page else None
    if token:
        assert client.post(f"{b}/points/{point.id}/retire", data={"csrf_token": token}).status_code == 403
    assert client.get(f"{b}/import").status_code == 403


def _actor(db_session, user):
    return load_actor(db_session, user)


def test_other_enterprise_is_refused(client, db_session, plant):
    enterprise, _, _, admin = plant
    point = service.add_point(db_session, _actor(db_session, admin), NOW, enterprise.id, {"name": "熔炼炉", "kind": "equipment"})
    db_session.commit()
    login(client, "other_admin")
    assert client.get(f"{base(enterprise)}/").status_code == 404
    assert client.get(f"{base(enterprise)}/points/{point.id}").status_code == 404
    assert client.get(f"{base(enterprise)}/export.xlsx").status_code == 404


def test_import_dry_run_refusal_and_export(client, db_session, plant):
    enterprise, *_ = plant
    login(client, "hd_admin")
    token = csrf(client, f"{base(enterprise)}/import")
    url = f"{base(enterprise)}/import"
    bad = list(GOOD[0])
    bad[12] = "车间级"
    refused = client.post(url, data={"csrf_token": token, "dry_run": "0", "file": (io.BytesIO(xlsx([GOOD[3], bad])), "r.xlsx")})
    text = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "未导入任何内容" in text and "管控层级应为" in text
    assert db_session.scalar(select(func.count(RiskPoint.id))) == 0
    not_xlsx = client.post(url, data={"csrf_token": token, "file": (io.BytesIO(b"hello"), "r.xlsx")})
    assert not_xlsx.status_code == 422 and "不是 Excel" in not_xlsx.get_data(as_text=True)
    dry = client.post(url, data={"csrf_token": token, "dry_run": "1", "file": (io.BytesIO(xlsx(GOOD)), "r.xlsx")})
    assert dry.status_code == 200 and "新增 4 行" in dry.get_data(as_text=True)
    assert db_session.scalar(select(func.count(RiskPoint.id))) == 0
    done = client.post(url, data={"csrf_token": token, "dry_run": "0", "file": (io.BytesIO(xlsx(GOOD)), "r.xlsx")})
    assert done.status_code == 302
    assert db_session.scalar(select(func.count(RiskControl.id))) == 3
    export = client.get(f"{base(enterprise)}/export.xlsx")
    assert export.status_code == 200 and "filename*=UTF-8''" in export.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(export.data)).active
    assert sheet["A1"].value == "风险点" and sheet.max_row == 5


def test_api_risk_points_shape_and_scope(client, db_session, build, plant):
    enterprise, team, site, admin = plant
    actor = _actor(db_session, admin)
    point = service.add_point(db_session, actor, NOW, enterprise.id, {"name": "熔炼炉", "kind": "equipment", "site_id": site.id})
    source = service.add_source(db_session, actor, NOW, point.id, {"name": "钢水喷溅", "likelihood": "6", "exposure": "6", "consequence": "7"})
    control = service.add_control(db_session, actor, NOW, source.id, {"text": "检查", "kind": "management", "control_level": "team", "team_id": team.id})
    _, token = issue_api_token(db_session, admin, NOW, "t")
    stranger = build.member(build.enterprise(), "enterprise_admin")
    _, other = issue_api_token(db_session, stranger, NOW, "t")
    db_session.commit()
    body = client.get(f"/api/v1/enterprises/{enterprise.id}/risk-points", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert body["total"] == 1 and body["page"] == 1
    item = body["items"][0]
    assert (item["id"], item["site_id"], item["name"], item["level"]) == (point.id, site.id, "熔炼炉", "orange")
    assert item["sources"][0]["name"] == "钢水喷溅"
    assert item["sources"][0]["controls"] == [
        {**item["sources"][0]["controls"][0], "id": control.id, "text": "检查", "control_level": "team",
         "team_id": team.id, "department_id": None},
    ]
    refused = client.get(f"/api/v1/enterprises/{enterprise.id}/risk-points", headers={"Authorization": f"Bearer {other}"})
    assert refused.status_code == 404 and refused.mimetype == "application/problem+json"
    paged = client.get(f"/api/v1/enterprises/{enterprise.id}/risk-points?per_page=0", headers={"Authorization": f"Bearer {token}"})
    assert paged.status_code == 422


def test_post_level_controls_feed_the_post_risk_card(client, db_session, build, plant):
    enterprise, _, _, admin = plant
    from app.enterprises.models import Post

    post = db_session.scalar(select(Post).where(Post.name == "炉前工"))
    actor = _actor(db_session, admin)
    point = service.add_point(db_session, actor, NOW, enterprise.id, {"name": "熔炼炉", "kind": "equipment"})
    source = service.add_source(db_session, actor, NOW, point.id, {
        "name": "钢水喷溅", "likelihood": "6", "exposure": "6", "consequence": "15", "is_major_factor": True, "accident_types": "灼烫",
    })
    service.add_control(db_session, actor, NOW, source.id, {"text": "穿戴隔热服和面罩", "kind": "ppe", "control_level": "post", "post_id": post.id})
    retired = service.add_control(db_session, actor, NOW, source.id, {"text": "旧措施", "kind": "ppe", "control_level": "post", "post_id": post.id})
    service.retire_control(db_session, actor, NOW, retired.id)
    db_session.commit()
    login(client, "hd_admin")
    page = client.get(f"/console/enterprises/{enterprise.id}/organisation").get_data(as_text=True)
    assert "风险辨识清单中的岗位级管控" in page and "穿戴隔热服和面罩" in page and "旧措施" not in page
    worker = build.member(enterprise, "worker", post_id=post.id)
    db_session.commit()
    with client.session_transaction() as session:
        session[SESSION_USER_ID] = worker.id
    card = client.get("/h5/my-post-risks").get_data(as_text=True)
    assert "风险辨识清单 · 本岗位管控" in card and "熔炼炉：钢水喷溅（较大危险因素）" in card
    assert "可能导致：灼烫" in card and "管控措施：穿戴隔热服和面罩" in card and "旧措施" not in card


def test_bureau_sees_risks_per_town_and_enterprise_and_who_has_no_register(client, db_session, build, plant):
    enterprise, _, site, admin = plant
    actor = _actor(db_session, admin)
    point = service.add_point(db_session, actor, NOW, enterprise.id, {"name": "熔炼炉", "kind": "equipment", "site_id": site.id})
    service.add_source(db_session, actor, NOW, point.id, {"name": "钢水喷溅", "likelihood": "6", "exposure": "6", "consequence": "15"})
    service.add_source(db_session, actor, NOW, point.id, {"name": "煤气中毒", "likelihood": "6", "exposure": "6", "consequence": "7"})
    bare = build.enterprise(name="空白清单企业", town=enterprise.town)
    build.bureau_user("bureau_admin", user=build.user(username="bureau", password_hash=hash_password("pw")))
    db_session.commit()
    login(client, "bureau")
    page = client.get("/console/oversight/risks").get_data(as_text=True)
    assert "郑州恒达铸造有限公司" in page and bare.name in page
    assert re.search(r"郑州恒达铸造有限公司</a></td><td>1</td><td><span class=\"tag bad\">1</span></td><td><span class=\"tag warn\">1</span>", page)
    assert "未建立风险辨识清单的企业（2 家）" in page  # the bare one and 别家企业
    assert "风险分级管控" in client.get("/console/oversight/dashboard").get_data(as_text=True)
    dossier = client.get(f"/console/enterprises/{enterprise.id}/dossier").get_data(as_text=True)
    assert "风险分级管控" in dossier and "钢水喷溅" in dossier and "重大风险" in dossier
    empty = client.get(f"/console/enterprises/{bare.id}/dossier").get_data(as_text=True)
    assert "未建立风险辨识清单" in empty
    client.post("/console/logout", data={"csrf_token": csrf(client, "/console/oversight/risks")})
    login(client, "hd_admin")
    assert client.get("/console/oversight/risks").status_code == 403


def test_the_rounds_page_shows_register_driven_sites_without_the_level_form(client, db_session, plant):
    enterprise, _, site, admin = plant
    actor = _actor(db_session, admin)
    point = service.add_point(db_session, actor, NOW, enterprise.id, {"name": "熔炼炉", "kind": "equipment", "site_id": site.id})
    service.add_source(db_session, actor, NOW, point.id, {"name": "钢水喷溅", "likelihood": "6", "exposure": "6", "consequence": "15"})
    db_session.commit()
    login(client, "hd_admin")
    page = client.get(f"/console/enterprises/{enterprise.id}/checks/plans").get_data(as_text=True)
    assert "由风险辨识清单确定" in page
    assert f"/sites/{site.id}/risk" not in page
