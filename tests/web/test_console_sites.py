"""排查点位 in the console: the enterprise admin adds, edits, retires (after a confirmation
page) and reactivates sites, sets their four-colour level and downloads QR, poster and PDF;
viewers read; CSRF on every form; bad input refused in Chinese with nothing written; another
enterprise's admin is refused on every route, downloads included."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from PIL.PdfParser import PdfParser
from sqlalchemy import func, select

from app.accounts.service import hash_password
from app.enterprises.models import Site
from app.hazard_reporting.checks.domain import ScheduleKind
from app.hazard_reporting.schedules.models import CheckSchedule, SiteRiskProfile
from tests.fixtures.csrf import session_token


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
    site = build.site(enterprise, name="熔炼炉平台", area="一号厂房", department_id=department.id)
    other = build.enterprise(name="别家企业")
    foreign_department = build.department(other, name="别家车间")
    build.member(enterprise, "enterprise_admin", user=build.user(username="hd_admin", password_hash=hash_password("pw")))
    build.member(enterprise, "worker", user=build.user(username="hd_worker", password_hash=hash_password("pw")))
    build.member(other, "enterprise_admin", user=build.user(username="other_admin", password_hash=hash_password("pw")))
    db_session.commit()
    return enterprise, department, site, other, foreign_department


def page(enterprise) -> str:
    return f"/console/enterprises/{enterprise.id}/sites/"


def count_sites(db_session, enterprise) -> int:
    return db_session.scalar(select(func.count(Site.id)).where(Site.enterprise_id == enterprise.id))


def test_the_admin_reaches_the_page_from_the_tab_bar_and_adds_a_site(client, db_session, plant):
    enterprise, department, *_ = plant
    login(client, "hd_admin")
    detail = client.get(f"/console/enterprises/{enterprise.id}").get_data(as_text=True)
    assert page(enterprise) in detail and "排查点位" in detail
    token = csrf(client, page(enterprise))
    response = client.post(page(enterprise), data={
        "csrf_token": token, "name": " 配电室 ", "area": "二号厂房", "department_id": str(department.id),
    })
    assert response.status_code == 302
    added = db_session.scalar(select(Site).where(Site.name == "配电室"))
    assert added.enterprise_id == enterprise.id and added.department_id == department.id and added.area == "二号厂房"
    assert added.active and len(added.token) >= 22
    html = client.get(page(enterprise)).get_data(as_text=True)
    assert "已添加点位「配电室」" in html and "熔炼车间" in html


def test_no_token_nothing_written(client, db_session, plant):
    enterprise, _, site, *_ = plant
    login(client, "hd_admin")
    assert client.post(page(enterprise), data={"name": "配电室"}).status_code == 400
    assert client.post(f"{page(enterprise)}{site.id}/retire").status_code == 400
    assert client.post(f"{page(enterprise)}{site.id}/edit", data={"name": "改名"}).status_code == 400
    assert client.post(f"{page(enterprise)}{site.id}/risk", data={"risk_level": "red"}).status_code == 400
    db_session.expire_all()
    assert count_sites(db_session, enterprise) == 1 and site.active and site.name == "熔炼炉平台"
    assert db_session.scalar(select(func.count(SiteRiskProfile.id))) == 0


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"name": ""}, "点位名称：不能为空"),
        ({"name": "点" * 65}, "点位名称：不能超过 64 个字符"),
        ({"name": "熔炼炉平台"}, "“熔炼炉平台”已有在用的同名点位"),
        ({"name": "配电室", "department_id": "abc"}, "所属部门：应为整数"),
        ({"name": "配电室", "area": "区" * 129}, "区域：不能超过 128 个字符"),
    ],
)
def test_bad_input_is_refused_in_chinese_and_nothing_written(client, db_session, plant, form, message):
    enterprise, *_ = plant
    login(client, "hd_admin")
    response = client.post(page(enterprise), data={"csrf_token": csrf(client, page(enterprise)), **form})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert count_sites(db_session, enterprise) == 1


def test_a_department_of_another_enterprise_is_refused(client, db_session, plant):
    enterprise, _, site, _, foreign_department = plant
    login(client, "hd_admin")
    token = csrf(client, page(enterprise))
    response = client.post(f"{page(enterprise)}{site.id}/edit", data={
        "csrf_token": token, "name": "新名字", "department_id": str(foreign_department.id),
    })
    assert response.status_code == 422 and "部门不存在或不属于本企业" in response.get_data(as_text=True)
    db_session.expire_all()
    assert site.name == "熔炼炉平台"


def test_edit_retire_with_confirmation_and_reactivate(client, db_session, plant):
    enterprise, _, site, *_ = plant
    login(client, "hd_admin")
    edit_form = client.get(f"{page(enterprise)}{site.id}/edit").get_data(as_text=True)
    assert "修改点位「熔炼炉平台」" in edit_form and 'value="一号厂房"' in edit_form
    token = csrf(client, page(enterprise))
    saved = client.post(f"{page(enterprise)}{site.id}/edit", data={"csrf_token": token, "name": "熔炼炉二层平台", "area": "", "department_id": ""})
    assert saved.status_code == 302
    db_session.expire_all()
    assert (site.name, site.area, site.department_id) == ("熔炼炉二层平台", "", None)

    confirm = client.get(f"{page(enterprise)}{site.id}/retire").get_data(as_text=True)
    assert "停用点位「熔炼炉二层平台」？" in confirm and "确认停用" in confirm
    assert site.active  # the confirmation page changes nothing
    assert client.post(f"{page(enterprise)}{site.id}/retire", data={"csrf_token": token}).status_code == 302
    db_session.expire_all()
    assert not site.active
    html = client.get(page(enterprise)).get_data(as_text=True)
    assert "已停用" in html and "重新启用" in html
    # The retired QR says so.
    scan = client.get(f"/h5/scan/{site.token}")
    assert scan.status_code == 404 and "排查点位“熔炼炉二层平台”已停用" in scan.get_data(as_text=True)
    # Its name is free again; reactivating while a site in use has it is refused.
    client.post(page(enterprise), data={"csrf_token": token, "name": "熔炼炉二层平台"})
    refused = client.post(f"{page(enterprise)}{site.id}/reactivate", data={"csrf_token": token}, follow_redirects=True)
    assert "已有在用的同名点位" in refused.get_data(as_text=True)
    db_session.expire_all()
    assert not site.active
    newer = db_session.scalar(select(Site).where(Site.name == "熔炼炉二层平台", Site.active.is_(True)))
    client.post(f"{page(enterprise)}{newer.id}/retire", data={"csrf_token": token})
    assert client.post(f"{page(enterprise)}{site.id}/reactivate", data={"csrf_token": token}).status_code == 302
    db_session.expire_all()
    assert site.active and not newer.active


def test_level_is_set_on_the_page_and_retiring_stops_the_rounds(client, db_session, plant):
    enterprise, _, site, *_ = plant
    login(client, "hd_admin")
    token = csrf(client, page(enterprise))
    bad = client.post(f"{page(enterprise)}{site.id}/risk", data={"csrf_token": token, "risk_level": "purple"})
    assert bad.status_code == 422 and "风险等级" in bad.get_data(as_text=True)
    assert db_session.scalar(select(func.count(SiteRiskProfile.id))) == 0
    ok = client.post(f"{page(enterprise)}{site.id}/risk", data={"csrf_token": token, "risk_level": "red", "is_major_risk_point": "1"})
    assert ok.status_code == 302
    html = client.get(page(enterprise)).get_data(as_text=True)
    assert "risk-red" in html and "红 · 重大风险" in html
    assert "红 · 重大风险" in client.get(f"/console/enterprises/{enterprise.id}").get_data(as_text=True)

    def rounds_on():
        db_session.expire_all()
        return db_session.scalar(
            select(func.count(CheckSchedule.id)).where(
                CheckSchedule.site_id == site.id, CheckSchedule.kind == ScheduleKind.RISK_POINT, CheckSchedule.active.is_(True)
            )
        )

    assert rounds_on() == 2  # red: morning and afternoon rounds
    client.post(f"{page(enterprise)}{site.id}/retire", data={"csrf_token": token})
    assert rounds_on() == 0
    client.post(f"{page(enterprise)}{site.id}/reactivate", data={"csrf_token": token})
    assert rounds_on() == 2


def test_a_worker_reads_but_cannot_change(client, db_session, plant):
    enterprise, _, site, *_ = plant
    login(client, "hd_worker")
    html = client.get(page(enterprise)).get_data(as_text=True)
    assert "熔炼炉平台" in html and "添加点位" not in html and "停用</a>" not in html
    token = session_token(client.application, client)
    assert client.post(page(enterprise), data={"csrf_token": token, "name": "偷偷加"}).status_code == 403
    assert client.post(f"{page(enterprise)}{site.id}/retire", data={"csrf_token": token}).status_code == 403
    assert client.get(f"{page(enterprise)}{site.id}/retire").status_code == 403
    assert count_sites(db_session, enterprise) == 1


def _routes(enterprise, site) -> list[tuple[str, str]]:
    base = page(enterprise)
    return [
        ("get", base), ("post", base),
        ("get", f"{base}{site.id}/edit"), ("post", f"{base}{site.id}/edit"),
        ("get", f"{base}{site.id}/retire"), ("post", f"{base}{site.id}/retire"),
        ("post", f"{base}{site.id}/reactivate"), ("post", f"{base}{site.id}/risk"),
        ("get", f"{base}{site.id}/qr.png"), ("get", f"{base}{site.id}/poster.png"), ("get", f"{base}posters.pdf"),
    ]


def test_another_enterprise_is_refused_on_every_route(client, db_session, plant):
    enterprise, _, site, other, _ = plant
    login(client, "other_admin")
    token = session_token(client.application, client)
    for method, url in _routes(enterprise, site):
        response = getattr(client, method)(url, data={"csrf_token": token, "name": "x", "risk_level": "red"})
        assert response.status_code == 404, (method, url, response.status_code)
    # Its own enterprise in the URL with our site's id: still refused.
    for method, url in _routes(other, site)[2:-1]:
        response = getattr(client, method)(url, data={"csrf_token": token, "name": "x", "risk_level": "red"})
        assert response.status_code == 404, (method, url, response.status_code)
    db_session.expire_all()
    assert site.active and site.name == "熔炼炉平台" and site.wx_qr_url is None
    assert count_sites(db_session, enterprise) == 1


def test_out_of_range_ids_are_not_found(client, plant):
    enterprise, *_ = plant
    login(client, "hd_admin")
    assert client.get(f"{page(enterprise)}99999999999/edit").status_code == 404
    assert client.get(f"{page(enterprise)}0/qr.png").status_code == 404


def test_downloads(client, db_session, plant):
    enterprise, _, site, *_ = plant
    db_session.add(Site(enterprise_id=enterprise.id, name="旧点位", token="retired-token-000000000", active=False))
    db_session.commit()
    login(client, "hd_worker")  # readers download too

    qr = client.get(f"{page(enterprise)}{site.id}/qr.png")
    assert qr.status_code == 200 and qr.mimetype == "image/png"
    assert qr.headers["Cache-Control"] == "no-store"
    assert qr.headers["Content-Disposition"] == (
        f"attachment; filename=\"site-{site.id}-qr.png\"; filename*=UTF-8''%E7%86%94%E7%82%BC%E7%82%89%E5%B9%B3%E5%8F%B0-%E4%BA%8C%E7%BB%B4%E7%A0%81.png"
    )
    image = Image.open(io.BytesIO(qr.data))
    assert image.width == image.height and 500 <= image.width <= 1000
    db_session.expire_all()
    assert site.wx_qr_url  # the site's WeChat QR (the sandbox's), stored once like the CLI does
    stored = site.wx_qr_url

    poster = client.get(f"{page(enterprise)}{site.id}/poster.png")
    assert poster.status_code == 200 and poster.mimetype == "image/png" and poster.headers["Cache-Control"] == "no-store"
    assert Image.open(io.BytesIO(poster.data)).size == (2480, 3508)
    db_session.expire_all()
    assert site.wx_qr_url == stored  # reused, not created again

    pdf = client.get(f"{page(enterprise)}posters.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert pdf.headers["Cache-Control"] == "no-store"
    parsed = PdfParser(buf=pdf.data)
    assert len(parsed.pages) == 1  # the sites in use only, one A4 page each
    width, height = parsed.read_indirect(parsed.pages[0])[b"MediaBox"][2:]
    assert round(width / 72 * 25.4) == 210 and round(height / 72 * 25.4) == 297  # A4 in mm

    retired = db_session.scalar(select(Site).where(Site.name == "旧点位"))
    refused = client.get(f"{page(enterprise)}{retired.id}/poster.png")
    assert refused.status_code == 409 and "已停用" in refused.get_data(as_text=True)
