"""Special campaigns on the web: the bureau's console (menu 专项整治, draft → launch → watch
→ close, filters, Excel with neutralised cells), CSRF on every form, the enterprise's tab,
self-check form (refusals re-render what was typed) and 工作台 block, and the API (list,
one with per-target progress, scopes, problem+json)."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from app.accounts.service import issue_api_token
from app.clock import local_today, utcnow
from app.hazard_reporting.hazards.models import Hazard
from app.notifications.models import OutboxMessage
from app.oversight.campaigns import queries, service
from app.oversight.campaigns.models import Campaign, CampaignCheck, CampaignHazard
from tests.fixtures.campaigns import CampaignScene, answers
from tests.fixtures.csrf import session_token


def console_login(client, user) -> None:
    with client.session_transaction() as session:
        session["user_id"] = user.id


def text(response) -> str:
    return response.get_data(as_text=True)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class Scene(CampaignScene):
    """The campaign district, with dates relative to the clock the pages read."""

    def form(self, **overrides):
        today = local_today(utcnow())
        return super().form(
            starts_on=today.isoformat(), deadline=(today + timedelta(days=10)).isoformat(), **overrides
        )

    def draft(self, **overrides):
        return service.create(self.session, self.actor(self.admin), utcnow(), self.form(**overrides))

    def launched(self, **overrides):
        campaign = self.draft(**overrides)
        service.launch(self.session, self.actor(self.admin), utcnow(), campaign.id)
        return campaign

    def checked(self, campaign, failed=None):
        items = queries.target_items(self.session, campaign.id, self.dust)
        service.submit_check(self.session, self.actor(self.manager), utcnow(), self.dust.id, campaign.id, answers(items, failed))


@pytest.fixture
def scene(build, db_session) -> Scene:
    return Scene(build, db_session)


# --- bureau console ------------------------------------------------------------------------


def test_the_menu_shows_专项整治_to_bureau_users_only(client, scene):
    console_login(client, scene.admin)
    page = text(client.get("/console/campaigns"))
    assert '>专项整治</a>' in page and "新建专项整治" in page
    console_login(client, scene.staff)
    page = text(client.get("/console/campaigns"))
    assert '>专项整治</a>' in page and "新建专项整治" not in page
    assert client.get("/console/campaigns/new").status_code == 403
    console_login(client, scene.manager)
    assert client.get("/console/campaigns").status_code == 403
    assert '>专项整治</a>' not in text(client.get("/console/"))


def test_the_admin_creates_launches_watches_and_closes_through_the_console(app, client, scene, db_session):
    console_login(client, scene.admin)
    today = local_today(utcnow())
    form = {
        "csrf_token": session_token(app, client), "topic": "dust_explosion", "title": "粉尘防爆百日攻坚",
        "description": "逐项自查", "starts_on": today.isoformat(), "deadline": (today - timedelta(days=1)).isoformat(),
        "scope": "towns", "town_ids": [str(scene.town.id)],
    }
    refused = client.post("/console/campaigns/new", data=form)
    assert refused.status_code == 422
    body = text(refused)
    assert "不能早于" in body and 'value="粉尘防爆百日攻坚"' in body and "逐项自查" in body
    assert db_session.scalar(select(func.count()).select_from(Campaign)) == 0

    form["deadline"] = (today + timedelta(days=7)).isoformat()
    response = client.post("/console/campaigns/new", data=form)
    assert response.status_code == 302
    campaign = db_session.scalar(select(Campaign))
    page = text(client.get(f"/console/campaigns/{campaign.id}"))
    assert "草稿" in page and "粉尘防爆专项排查清单" in page and "启动" in page

    launched = client.post(f"/console/campaigns/{campaign.id}/launch", data={"csrf_token": session_token(app, client)})
    assert launched.status_code == 302
    page = text(client.get(f"/console/campaigns/{campaign.id}"))
    assert "专项整治已启动：对象企业 2 家" in page
    assert "郑州金穗面粉有限公司" in page and "郑州豫铝粉末有限公司" not in page  # the town's only
    assert db_session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == "campaign_launched")) == 4

    db_session.expire_all()  # the requests changed the campaign in their own sessions
    scene.checked(campaign, {"DUST-10": "积尘"})
    page = text(client.get(f"/console/campaigns/{campaign.id}"))
    assert '<b data-figure="checked">1</b>' in page and '<b data-figure="hazards">1</b>' in page
    filtered = text(client.get(f"/console/campaigns/{campaign.id}?state=pending"))
    assert "鑫林木业" in filtered and ">郑州金穗面粉有限公司</a>" not in filtered

    early = client.post(f"/console/campaigns/{campaign.id}/close", data={"csrf_token": session_token(app, client), "note": ""})
    assert early.status_code == 302 and "提前结束请填写理由" in text(client.get(f"/console/campaigns/{campaign.id}"))
    client.post(f"/console/campaigns/{campaign.id}/close", data={"csrf_token": session_token(app, client), "note": "提前完成"})
    db_session.refresh(campaign)
    assert campaign.status.value == "closed"


def test_every_form_needs_the_csrf_token(client, scene, db_session):
    campaign = scene.draft()
    console_login(client, scene.admin)
    assert client.post("/console/campaigns/new", data=scene.form()).status_code == 400
    assert client.post(f"/console/campaigns/{campaign.id}/launch").status_code == 400
    db_session.refresh(campaign)
    assert campaign.status.value == "draft"
    active = scene.launched(title="另一项")
    console_login(client, scene.manager)
    items = queries.target_items(db_session, active.id, scene.dust)
    url = f"/console/enterprises/{scene.dust.id}/campaigns/{active.id}"
    assert client.post(url, data=answers(items)).status_code == 400
    assert db_session.scalar(select(func.count()).select_from(CampaignCheck)) == 0


def test_targets_are_added_and_removed_with_a_reason_on_the_page(app, client, scene, db_session):
    campaign = scene.launched()
    console_login(client, scene.admin)
    client.post(f"/console/campaigns/{campaign.id}/targets", data={
        "csrf_token": session_token(app, client), "enterprise_id": str(scene.plain.id), "reason": "新增木粉工序",
    })
    page = text(client.get(f"/console/campaigns/{campaign.id}"))
    assert "人工加入：新增木粉工序" in page
    target = queries.target_of(db_session, campaign.id, scene.plain.id)
    client.post(f"/console/campaigns/{campaign.id}/targets/{target.id}/remove", data={"csrf_token": session_token(app, client), "reason": ""})
    assert "请填写理由" in text(client.get(f"/console/campaigns/{campaign.id}"))
    client.post(f"/console/campaigns/{campaign.id}/targets/{target.id}/remove", data={"csrf_token": session_token(app, client), "reason": "已停产"})
    assert "移出：已停产" in text(client.get(f"/console/campaigns/{campaign.id}"))


def test_the_export_neutralises_formula_cells(client, scene):
    campaign = scene.launched()
    scene.checked(campaign, {"DUST-10": "积尘"})
    console_login(client, scene.admin)
    response = client.get(f"/console/campaigns/{campaign.id}/export.xlsx")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    workbook = load_workbook(io.BytesIO(response.data))
    rows = list(workbook["对象企业"].iter_rows(values_only=True))
    assert rows[0][:4] == ("序号", "镇（街道）", "企业名称", "状态")
    names = [r[2] for r in rows[1:]]
    assert "'=HYPERLINK(\"x\")鑫林木业" in names and "郑州金穗面粉有限公司" in names
    assert not any(isinstance(v, str) and v.startswith(("=", "+", "-", "@")) for r in rows for v in r)
    mine = next(r for r in rows if r[2] == "郑州金穗面粉有限公司")
    assert mine[3] == "已自查" and mine[6] == 1
    totals = list(workbook["按镇街汇总"].iter_rows(values_only=True))
    assert totals[-1][:3] == ("合计", 3, 1)


def test_staff_see_only_their_towns_targets(client, scene):
    campaign = scene.launched()
    console_login(client, scene.staff)
    page = text(client.get(f"/console/campaigns/{campaign.id}"))
    assert "郑州金穗面粉有限公司" in page and "郑州豫铝粉末有限公司" not in page
    assert ">启动</button>" not in page and "结束</button>" not in page
    far = scene.launched(scope="towns", town_ids=[str(scene.other_town.id)], title="古荥镇专项")
    assert client.get(f"/console/campaigns/{far.id}").status_code == 404


# --- the enterprise ---------------------------------------------------------------------------


def test_the_enterprise_submits_its_self_check_from_the_tab(app, client, scene, db_session):
    campaign = scene.launched()
    console_login(client, scene.ent_admin)
    board = text(client.get(f"/console/enterprises/{scene.dust.id}/dashboard"))
    assert "专项整治待自查" in board and "2026年粉尘防爆专项整治" in board
    tab = text(client.get(f"/console/enterprises/{scene.dust.id}/campaigns"))
    assert ">专项整治</a>" in tab and "开始自查" in tab
    url = f"/console/enterprises/{scene.dust.id}/campaigns/{campaign.id}"
    form_page = text(client.get(url))
    assert 'name="result-DUST-01"' in form_page and 'name="csrf_token"' in form_page

    items = queries.target_items(db_session, campaign.id, scene.dust)
    incomplete = answers(items, {"DUST-07": "收尘仓照明非防爆"})
    del incomplete["result-DUST-14"]
    refused = client.post(url, data={**incomplete, "csrf_token": session_token(app, client)})
    assert refused.status_code == 422
    body = text(refused)
    assert "还有 1 项未填写完整" in body and 'value="收尘仓照明非防爆"' in body
    assert db_session.scalar(select(func.count()).select_from(CampaignCheck)) == 0

    done = client.post(url, data={**answers(items, {"DUST-07": "收尘仓照明非防爆"}), "csrf_token": session_token(app, client)})
    assert done.status_code == 302
    result = text(client.get(url))
    assert "自查结果" in result and "查看隐患" in result and "赵管理" in result
    link = db_session.scalar(select(CampaignHazard))
    hazard = db_session.get(Hazard, link.hazard_id)
    assert hazard.enterprise_id == scene.dust.id and "收尘仓照明非防爆" in hazard.description
    assert "2026年粉尘防爆专项整治" in text(client.get(f"/console/hazards?enterprise_id={scene.dust.id}"))
    assert "专项整治待自查" not in text(client.get(f"/console/enterprises/{scene.dust.id}/dashboard"))
    again = client.post(url, data={**answers(items), "csrf_token": session_token(app, client)})
    assert again.status_code == 409 and "不能重复提交" in text(again) and "自查结果" in text(again)
    assert db_session.scalar(select(func.count()).select_from(CampaignCheck)) == 1


def test_the_tab_is_for_targets_and_those_who_may_act(client, scene, build):
    scene.launched()
    worker_page = None
    console_login(client, scene.worker)
    worker_page = text(client.get(f"/console/enterprises/{scene.dust.id}/dashboard"))
    assert ">专项整治</a>" in worker_page  # a target: everyone there sees its campaigns
    other = build.enterprise(town=scene.town, name="无专项企业")
    other_worker = build.member(other, "worker")
    console_login(client, other_worker)
    assert ">专项整治</a>" not in text(client.get(f"/console/enterprises/{other.id}/dashboard"))
    console_login(client, scene.plain_admin)
    assert ">专项整治</a>" in text(client.get(f"/console/enterprises/{scene.plain.id}/dashboard"))


def test_a_closed_campaign_shows_no_form(client, scene, db_session):
    campaign = scene.launched()
    service.close(db_session, scene.actor(scene.admin), utcnow(), campaign.id, "调整部署")
    console_login(client, scene.manager)
    page = text(client.get(f"/console/enterprises/{scene.dust.id}/campaigns/{campaign.id}"))
    assert "已结束，本企业未提交自查" in page and 'name="result-DUST-01"' not in page


# --- API ------------------------------------------------------------------------------------------


def test_the_api_lists_and_shows_campaigns_within_scope(client, scene, db_session):
    campaign = scene.launched()
    draft = scene.draft(title="草稿专项")
    scene.checked(campaign, {"DUST-10": "积尘"})
    _, admin_token = issue_api_token(db_session, scene.admin, utcnow(), "t")
    _, manager_token = issue_api_token(db_session, scene.manager, utcnow(), "t")
    _, plain_token = issue_api_token(db_session, scene.plain_admin, utcnow(), "t")

    listing = client.get("/api/v1/campaigns?per_page=1", headers=bearer(admin_token)).get_json()
    assert listing["total"] == 2 and listing["per_page"] == 1 and listing["page"] == 1 and len(listing["items"]) == 1
    active = client.get("/api/v1/campaigns?status=active", headers=bearer(admin_token)).get_json()
    assert [c["id"] for c in active["items"]] == [campaign.id]
    assert active["items"][0]["progress"] == {
        "targets": 3, "checked": 1, "late": 0, "pending": 2, "overdue": 0, "hazards": 1, "rectified": 0,
    }
    one = client.get(f"/api/v1/campaigns/{campaign.id}", headers=bearer(admin_token)).get_json()
    assert one["topic"] == "dust_explosion" and one["checklists"] == ["粉尘防爆专项排查清单（第 1 版）"]
    by_name = {t["enterprise_name"]: t for t in one["targets"]}
    assert by_name["郑州金穗面粉有限公司"]["state"] == "checked" and by_name["郑州金穗面粉有限公司"]["hazards"] == 1
    assert {t["town_name"] for t in one["towns"]} == {"花园口镇", "古荥镇"}

    mine = client.get("/api/v1/campaigns", headers=bearer(manager_token)).get_json()
    assert [c["id"] for c in mine["items"]] == [campaign.id]
    own = client.get(f"/api/v1/campaigns/{campaign.id}", headers=bearer(manager_token)).get_json()
    assert [t["enterprise_name"] for t in own["targets"]] == ["郑州金穗面粉有限公司"]
    hidden = client.get(f"/api/v1/campaigns/{draft.id}", headers=bearer(manager_token))
    assert hidden.status_code == 404 and hidden.mimetype == "application/problem+json"
    assert client.get("/api/v1/campaigns", headers=bearer(plain_token)).get_json()["total"] == 0
    assert client.get(f"/api/v1/campaigns/{campaign.id}", headers=bearer(plain_token)).status_code == 404
    bad = client.get("/api/v1/campaigns?status=paused", headers=bearer(admin_token))
    assert bad.status_code == 422 and bad.mimetype == "application/problem+json"
    assert client.get("/api/v1/campaigns").status_code == 401
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "/api/v1/campaigns" in spec["paths"] and "/api/v1/campaigns/{campaign_id}" in spec["paths"]
