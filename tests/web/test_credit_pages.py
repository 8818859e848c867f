"""The credit list (失信名单) on the web: the bureau's console (menu, list with filters and
flags, history, the listing form from a search or the dossier's link, the delisting form),
refusals shown on the form with nothing typed lost, CSRF on every form, the 「失信」 /
「重点关注」 tag in the bureau's lists and in bulletins, the API (list, list an enterprise,
delist; scopes; problem+json) and the enterprise API refusing credit_status."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.accounts.h5_login import SESSION_USER_ID
from app.accounts.service import issue_api_token
from app.clock import local_today, utcnow
from app.enterprises.domain import CreditStatus
from app.hazard_reporting.hazards.domain import HazardCategory, HazardLevel, HazardSource, HazardStatus
from app.hazard_reporting.hazards.models import Hazard
from app.notifications.models import OutboxMessage
from app.oversight.bulletins import service as bulletin_service
from app.oversight.credit import service
from app.oversight.credit.models import CreditRecord
from tests.fixtures.csrf import session_token

SERIOUS_TAG = "credit-tag--serious"
WATCH_TAG = "credit-tag--watch"


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
        self.listed = build.enterprise(town=self.town, name="郑州绿源纺织有限公司")
        self.clean = build.enterprise(town=self.town, name="郑州华新建材有限公司")
        self.far = build.enterprise(town=self.other_town, name="郑州鑫林木业有限公司")
        self.manager = build.member(self.listed, "manager")
        self.worker = build.member(self.listed, "worker")
        self.admin = build.bureau_user("bureau_admin", user=build.user(display_name="区局管理员"))
        self.staff = build.bureau_user("bureau_staff", towns=[self.town])
        session.flush()

    def actor(self, user):
        return self.build.actor(user)

    def list(self, enterprise=None, **overrides) -> CreditRecord:
        data = {
            "enterprise_id": (enterprise or self.listed).id,
            "list_kind": "serious_discredit",
            "reason": "拒不执行停产整顿指令",
            "basis": "《安全生产严重失信主体名单管理办法》第六条",
            "restrict_market": True,
            **overrides,
        }
        return service.list_enterprise(self.session, self.actor(self.admin), utcnow(), data)


@pytest.fixture
def scene(build, db_session) -> Scene:
    return Scene(build, db_session)


def _count(session, model=CreditRecord) -> int:
    return session.scalar(select(func.count()).select_from(model))


# --- console -------------------------------------------------------------------------------------


def test_the_menu_shows_失信名单_to_the_bureau_only(client, scene):
    console_login(client, scene.admin)
    page = text(client.get("/console/credit"))
    assert ">失信名单</a>" in page and "列入名单" in page
    console_login(client, scene.staff)
    page = text(client.get("/console/credit"))
    assert ">失信名单</a>" in page and "列入和移出由安监局管理员办理" in page
    console_login(client, scene.manager)
    assert client.get("/console/credit").status_code == 403
    assert ">失信名单</a>" not in text(client.get("/console/"))


def test_the_admin_finds_an_enterprise_and_lists_it_with_flags(app, client, scene, db_session):
    console_login(client, scene.admin)
    found = text(client.get("/console/credit/new?q=绿源"))
    assert "郑州绿源纺织有限公司" in found and "郑州华新建材有限公司" not in found
    by_code = text(client.get(f"/console/credit/new?q={scene.far.uscc[-8:]}"))
    assert "郑州鑫林木业有限公司" in by_code
    form = client.get(f"/console/credit/new?enterprise_id={scene.listed.id}")
    assert form.status_code == 200 and 'name="csrf_token"' in text(form) and "一律职业禁入" in text(form)
    response = client.post(
        "/console/credit/new",
        data={
            "csrf_token": session_token(app, client),
            "enterprise_id": str(scene.listed.id),
            "list_kind": "watchlist",
            "reason": "重大事故隐患逾期未整改",
            "basis": "处罚决定书",
            "decision_no": "惠应急罚〔2026〕12号",
            "listed_on": local_today(utcnow()).isoformat(),
            "review_on": "",
            "publicize": "1",
            "industry_ban": "1",
        },
    )
    assert response.status_code == 302
    record = db_session.scalar(select(CreditRecord))
    assert record.list_kind is CreditStatus.WATCHLIST and (record.publicize, record.industry_ban) == (True, True)
    db_session.refresh(scene.listed)
    assert not record.restrict_market and scene.listed.credit_status is CreditStatus.WATCHLIST
    page = text(client.get("/console/credit"))
    assert "已将郑州绿源纺织有限公司列入重点关注名单" in page
    assert "在册企业（1 家）" in page and "一律上网公示" in page and "一律行业禁入" in page
    assert WATCH_TAG in page and "惠应急罚〔2026〕12号" in page
    assert db_session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == "credit_listed")) == 1


def test_a_refused_listing_keeps_what_was_typed(app, client, scene, db_session):
    console_login(client, scene.admin)
    token = session_token(app, client)
    response = client.post(
        "/console/credit/new",
        data={"csrf_token": token, "enterprise_id": str(scene.listed.id), "list_kind": "watchlist",
              "reason": "", "basis": "第七条依据文字", "decision_no": "文号XYZ", "occupational_ban": "1"},
    )
    page = text(response)
    assert response.status_code == 422 and "请填写列入事由" in page
    assert "第七条依据文字" in page and "文号XYZ" in page and 'name="occupational_ban" value="1" checked' in page
    scene.list()
    again = client.post(
        "/console/credit/new",
        data={"csrf_token": token, "enterprise_id": str(scene.listed.id), "list_kind": "watchlist",
              "reason": "又一次", "basis": "依据"},
    )
    assert again.status_code == 409 and "已在严重失信主体名单中" in text(again) and "又一次" in text(again)
    assert _count(db_session) == 1


def test_delisting_needs_a_reason_and_goes_to_the_history(app, client, scene, db_session):
    record = scene.list()
    console_login(client, scene.admin)
    token = session_token(app, client)
    form = text(client.get(f"/console/credit/{record.id}/delist"))
    assert "确认移出" in form and "拒不执行停产整顿指令" in form and "一律给予限制" in form
    empty = client.post(f"/console/credit/{record.id}/delist", data={"csrf_token": token, "delist_reason": " "})
    assert empty.status_code == 422 and "请填写移出理由" in text(empty)
    done = client.post(
        f"/console/credit/{record.id}/delist", data={"csrf_token": token, "delist_reason": "信用修复申请经审核通过"},
        follow_redirects=True,
    )
    page = text(done)
    assert "已将郑州绿源纺织有限公司移出严重失信主体名单" in page and "已移出记录（1 条）" in page
    assert "信用修复申请经审核通过" in page and "在册企业（0 家）" in page
    db_session.refresh(scene.listed)
    assert scene.listed.credit_status is CreditStatus.NORMAL
    twice = client.post(f"/console/credit/{record.id}/delist", data={"csrf_token": token, "delist_reason": "再来"})
    assert twice.status_code == 409 and "不能重复移出" in text(twice)


def test_every_form_needs_a_csrf_token(client, scene, db_session):
    record = scene.list()
    console_login(client, scene.admin)
    posts = {
        "/console/credit/new": {"enterprise_id": str(scene.clean.id), "list_kind": "watchlist", "reason": "x", "basis": "y"},
        f"/console/credit/{record.id}/delist": {"delist_reason": "理由"},
    }
    for url, data in posts.items():
        assert client.post(url, data=data).status_code == 400, url
    db_session.refresh(record)
    assert _count(db_session) == 1 and record.active


def test_staff_see_their_towns_and_cannot_list_or_delist(app, client, scene, db_session):
    near = scene.list()
    far = scene.list(scene.far)
    console_login(client, scene.staff)
    page = text(client.get("/console/credit"))
    assert "郑州绿源纺织有限公司" in page and "郑州鑫林木业有限公司" not in page and "移出名单</a>" not in page
    assert client.get("/console/credit/new").status_code == 403
    token = session_token(app, client)
    assert client.post(f"/console/credit/{near.id}/delist", data={"csrf_token": token, "delist_reason": "x"}).status_code == 403
    assert client.get(f"/console/credit/{far.id}/delist").status_code == 404
    db_session.refresh(near)
    assert near.active and far.active


def test_the_filters(client, scene):
    scene.list()
    scene.list(scene.far, list_kind="watchlist")
    console_login(client, scene.admin)
    watch = text(client.get("/console/credit?kind=watchlist"))
    assert "郑州鑫林木业有限公司" in watch and "郑州绿源纺织有限公司" not in watch
    town = text(client.get(f"/console/credit?town_id={scene.town.id}"))
    assert "郑州绿源纺织有限公司" in town and "郑州鑫林木业有限公司" not in town


def test_the_dossier_shows_the_history_and_the_action_links(client, scene, db_session):
    console_login(client, scene.admin)
    page = text(client.get(f"/console/enterprises/{scene.listed.id}/dossier"))
    assert 'id="credit"' in page and "当前未列入失信名单" in page
    assert f"/console/credit/new?enterprise_id={scene.listed.id}" in page
    record = scene.list()
    page = text(client.get(f"/console/enterprises/{scene.listed.id}/dossier"))
    assert SERIOUS_TAG in page.split("</h1>")[0]  # the header
    assert f"/console/credit/{record.id}/delist" in page and "拒不执行停产整顿指令" in page
    assert "列入严重失信主体名单" in page  # the timeline
    # The enterprise's manager reads its own file, without the bureau's buttons.
    console_login(client, scene.manager)
    page = text(client.get(f"/console/enterprises/{scene.listed.id}/dossier"))
    assert "拒不执行停产整顿指令" in page and f"/console/credit/{record.id}/delist" not in page


def test_the_tag_in_the_bureau_s_lists(client, scene, db_session):
    start = utcnow() - timedelta(days=1)
    db_session.add(
        Hazard(
            enterprise_id=scene.listed.id, source=HazardSource.ADHOC, level=HazardLevel.GENERAL,
            category=HazardCategory.UNSAFE_CONDITION, description="消防通道堵塞", reporter_id=scene.worker.id,
            deadline=start + timedelta(days=3), status=HazardStatus.REPORTED, created_at=start, updated_at=start,
        )
    )
    db_session.flush()
    console_login(client, scene.admin)
    assert SERIOUS_TAG not in text(client.get("/console/"))
    scene.list()
    scene.list(scene.clean, list_kind="watchlist")
    enterprises = text(client.get("/console/"))
    assert SERIOUS_TAG in enterprises and WATCH_TAG in enterprises
    hazards = text(client.get("/console/hazards"))
    assert "消防通道堵塞" in hazards and SERIOUS_TAG in hazards
    above = text(client.get("/console/oversight/lists/above_scale"))
    assert SERIOUS_TAG in above and WATCH_TAG in above


def test_the_tag_in_bulletins(client, scene, db_session):
    scene.list()
    admin = scene.actor(scene.admin)
    bulletin = bulletin_service.draft_supervision(
        db_session, admin, utcnow(),
        {"town_id": str(scene.town.id), "visit_date": local_today(utcnow()).isoformat(),
         "enterprise_ids": [str(scene.listed.id), str(scene.clean.id)]},
    )
    for entry in bulletin.entries:
        entry.reasons = ["消防通道堵塞"]
    bulletin_service.publish(db_session, admin, utcnow(), bulletin.id)
    console_login(client, scene.admin)
    for url in (f"/console/bulletins/{bulletin.id}", f"/console/bulletins/{bulletin.id}/print"):
        page = text(client.get(url))
        assert page.count(SERIOUS_TAG) >= 1 and "失信</span>" in page, url
    with client.session_transaction() as session:
        session[SESSION_USER_ID] = scene.manager.id
    phone = text(client.get(f"/h5/bulletins/{bulletin.id}"))
    assert SERIOUS_TAG in phone


# --- API -----------------------------------------------------------------------------------------


def _headers(db_session, user) -> dict[str, str]:
    _, token = issue_api_token(db_session, user, utcnow(), "credit test")
    return {"Authorization": f"Bearer {token}"}


def test_api_lists_and_delists(client, scene, db_session):
    headers = _headers(db_session, scene.admin)
    body = {
        "enterprise_id": scene.listed.id, "list_kind": "watchlist", "reason": "逾期未整改",
        "basis": "第六条", "publicize": True,
    }
    created = client.post("/api/v1/credit-records", json=body, headers=headers)
    assert created.status_code == 201, created.get_json()
    record = created.get_json()
    assert record["active"] and record["list_name"] == "重点关注名单" and record["flags"]["publicize"]
    assert record["listed_on"] == local_today(utcnow()).isoformat() and record["review_on"] > record["listed_on"]
    twice = client.post("/api/v1/credit-records", json=body, headers=headers)
    assert twice.status_code == 409 and twice.mimetype == "application/problem+json"
    assert "已在重点关注名单中" in twice.get_json()["detail"]
    listing = client.get("/api/v1/credit-records?active=true", headers=headers).get_json()
    assert listing["total"] == 1 and listing["items"][0]["id"] == record["id"]
    assert set(listing) == {"items", "total", "page", "per_page"}
    no_reason = client.post(f"/api/v1/credit-records/{record['id']}/delist", json={"reason": ""}, headers=headers)
    assert no_reason.status_code == 422
    delisted = client.post(f"/api/v1/credit-records/{record['id']}/delist", json={"reason": "整改到位"}, headers=headers)
    assert delisted.status_code == 200 and delisted.get_json()["delist_reason"] == "整改到位"
    again = client.post(f"/api/v1/credit-records/{record['id']}/delist", json={"reason": "整改到位"}, headers=headers)
    assert again.status_code == 409
    assert client.get("/api/v1/credit-records?active=true", headers=headers).get_json()["total"] == 0
    assert client.get(f"/api/v1/credit-records?active=false&enterprise_id={scene.listed.id}", headers=headers).get_json()["total"] == 1
    bad = client.get("/api/v1/credit-records?active=maybe", headers=headers)
    assert bad.status_code == 422 and "active" in bad.get_json()["errors"]


def test_api_scopes(client, scene, db_session):
    near = scene.list()
    scene.list(scene.far)
    staff = _headers(db_session, scene.staff)
    seen = client.get("/api/v1/credit-records", headers=staff).get_json()
    assert [r["id"] for r in seen["items"]] == [near.id]
    refused = client.post(
        "/api/v1/credit-records",
        json={"enterprise_id": scene.clean.id, "list_kind": "watchlist", "reason": "x", "basis": "y"},
        headers=staff,
    )
    assert refused.status_code == 403 and "安监局管理员" in refused.get_json()["detail"]
    manager = _headers(db_session, scene.manager)
    assert client.get("/api/v1/credit-records", headers=manager).get_json()["total"] == 0
    assert client.post(f"/api/v1/credit-records/{near.id}/delist", json={"reason": "x"}, headers=manager).status_code == 404
    db_session.refresh(near)
    assert near.active


def test_patching_credit_status_on_the_enterprise_is_refused(client, scene, db_session):
    headers = _headers(db_session, scene.admin)
    response = client.patch(f"/api/v1/enterprises/{scene.clean.id}", json={"credit_status": "watchlist"}, headers=headers)
    assert response.status_code == 422
    assert "失信名单" in str(response.get_json())
    db_session.refresh(scene.clean)
    assert scene.clean.credit_status is CreditStatus.NORMAL
    created = client.post(
        "/api/v1/enterprises",
        json={"uscc": "91410108MA99999998", "name": "x", "address": "y", "town_id": scene.town.id,
              "industry": "textile", "scale": "below", "credit_status": "serious_discredit"},
        headers=headers,
    )
    assert created.status_code == 422


def test_the_openapi_document_names_the_credit_routes(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {"/api/v1/credit-records", "/api/v1/credit-records/{credit_record_id}/delist"} <= set(paths)
