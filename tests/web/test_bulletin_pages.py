"""Bulletins on the web: the console (bureau only, the 通报 menu entry, draft → edit →
confirm → publish, print and Excel), CSRF on every form, the H5 page for members of a
named enterprise only, and the API (list, one, scopes, problem+json)."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from app.accounts.h5_login import SESSION_USER_ID
from app.accounts.service import issue_api_token
from app.clock import local_today, utcnow
from app.hazard_reporting.hazards.domain import HazardCategory, HazardLevel, HazardSource, HazardStatus
from app.hazard_reporting.hazards.ledger import month_bounds
from app.hazard_reporting.hazards.models import Hazard
from app.notifications.models import OutboxMessage
from app.oversight.bulletins import service
from app.oversight.bulletins.domain import BulletinStatus, Month
from app.oversight.bulletins.models import Bulletin, BulletinEntry, BulletinEvent
from tests.fixtures.csrf import session_token

LAST_MONTH = Month.of(local_today(utcnow())).previous()


def console_login(client, user) -> None:
    with client.session_transaction() as session:
        session["user_id"] = user.id


def h5_login(client, user) -> None:
    with client.session_transaction() as session:
        session[SESSION_USER_ID] = user.id


def text(response) -> str:
    return response.get_data(as_text=True)


class Scene:
    """花园口镇 with an enterprise whose certificate lapsed last month (warned, its name
    starting with "=" to test the export), one with an overdue major hazard (warned), one
    with nothing to say; 古荥镇 with one more."""

    def __init__(self, build, session):
        self.session = session
        self.town = build.town(name="花园口镇")
        self.other_town = build.town(name="古荥镇")
        self.lapsed = build.enterprise(
            town=self.town, name="=HYPERLINK(\"x\")金穗食品", standardization_level="level3",
            standardization_date=date(LAST_MONTH.year - 3, LAST_MONTH.month, 2),
        )
        self.major = build.enterprise(town=self.town, name="郑州豫北特钢有限公司")
        self.calm = build.enterprise(town=self.town, name="郑州华新建材有限公司")
        self.far = build.enterprise(town=self.other_town, name="郑州鑫林木业有限公司")
        self.manager = build.member(self.major, "manager", user=build.user(display_name="陈经理"))
        self.officer = build.member(self.major, "safety_officer")
        self.worker = build.member(self.major, "worker")
        self.calm_manager = build.member(self.calm, "manager")
        self.lapsed_manager = build.member(self.lapsed, "manager")
        start, _end = month_bounds(LAST_MONTH.year, LAST_MONTH.month)
        session.add(
            Hazard(
                enterprise_id=self.major.id, source=HazardSource.ADHOC, level=HazardLevel.MAJOR,
                category=HazardCategory.UNSAFE_CONDITION, description="煤气管道泄漏", reporter_id=self.worker.id,
                deadline=start + timedelta(days=2), status=HazardStatus.RECTIFYING,
                created_at=start, updated_at=start,
            )
        )
        self.admin = build.bureau_user("bureau_admin", user=build.user(display_name="区局管理员"))
        self.staff = build.bureau_user("bureau_staff", towns=[self.town])
        session.flush()

    def draft(self) -> Bulletin:
        return service.draft_monthly(
            self.session, self.admin_actor(), utcnow(), {"month": LAST_MONTH.key, "town_id": str(self.town.id)}
        )

    def admin_actor(self):
        from app.accounts.queries import load_actor

        return load_actor(self.session, self.admin)

    def published(self) -> Bulletin:
        bulletin = self.draft()
        service.publish(self.session, self.admin_actor(), utcnow(), bulletin.id)
        return bulletin


@pytest.fixture
def scene(build, db_session) -> Scene:
    return Scene(build, db_session)


# --- console ---------------------------------------------------------------------------------------


def test_the_menu_shows_通报_to_bureau_users_only(client, scene):
    console_login(client, scene.admin)
    assert '>通报</a>' in text(client.get("/console/bulletins"))
    console_login(client, scene.manager)
    assert client.get("/console/bulletins").status_code == 403
    assert '>通报</a>' not in text(client.get("/console/"))


def test_the_admin_drafts_edits_and_publishes_through_the_console(app, client, scene, db_session):
    console_login(client, scene.admin)
    page = client.get("/console/bulletins/new")
    assert page.status_code == 200 and 'name="csrf_token"' in text(page) and "全区" in text(page)
    token = session_token(app, client)
    response = client.post("/console/bulletins/new", data={"csrf_token": token, "month": LAST_MONTH.key, "town_id": str(scene.town.id)})
    assert response.status_code == 302
    bulletin = db_session.scalar(select(Bulletin).order_by(Bulletin.id.desc()))
    detail = text(client.get(f"/console/bulletins/{bulletin.id}"))
    assert "通报预警企业名单（2 家）" in detail and "郑州豫北特钢有限公司" in detail and "重大事故隐患逾期未整改 1 项" in detail
    client.post(
        f"/console/bulletins/{bulletin.id}/edit",
        data={"csrf_token": token, "title": "花园口镇隐患排查治理通报", "body": "第一段。\n\n第二段。"},
    )
    db_session.refresh(bulletin)
    assert bulletin.title == "花园口镇隐患排查治理通报"
    confirm = text(client.get(f"/console/bulletins/{bulletin.id}/publish"))
    assert "确认发布" in confirm and "<b>3</b> 人" in confirm  # two at 豫北, one at 金穗
    done = client.post(f"/console/bulletins/{bulletin.id}/publish", data={"csrf_token": token}, follow_redirects=True)
    assert "通报已发布" in text(done)
    db_session.refresh(bulletin)
    assert bulletin.status is BulletinStatus.PUBLISHED
    again = client.post(f"/console/bulletins/{bulletin.id}/publish", data={"csrf_token": token}, follow_redirects=True)
    assert "不能再修改或重复发布" in text(again)
    assert db_session.scalar(select(func.count()).select_from(OutboxMessage)) == 3


def test_a_bad_month_is_refused_with_a_message_and_nothing_written(app, client, scene, db_session):
    console_login(client, scene.admin)
    response = client.post("/console/bulletins/new", data={"csrf_token": session_token(app, client), "month": "2026-13"})
    assert response.status_code == 422 and "月份格式应为 YYYY-MM" in text(response)
    future = Month.of(local_today(utcnow()) + timedelta(days=40))
    response = client.post("/console/bulletins/new", data={"csrf_token": session_token(app, client), "month": future.key})
    assert response.status_code == 422 and "还没有开始" in text(response)
    assert db_session.scalar(select(func.count()).select_from(Bulletin)) == 0


def test_staff_cannot_publish_nor_see_another_town_s_bulletin(app, client, scene, db_session):
    bulletin = scene.draft()
    other = service.draft_monthly(db_session, scene.admin_actor(), utcnow(), {"month": LAST_MONTH.key, "town_id": str(scene.other_town.id)})
    console_login(client, scene.staff)
    token = session_token(app, client)
    assert "由安监局管理员" in text(client.get(f"/console/bulletins/{bulletin.id}"))
    assert client.post(f"/console/bulletins/{bulletin.id}/publish", data={"csrf_token": token}).status_code == 403
    assert client.get(f"/console/bulletins/{other.id}").status_code == 404
    refused = client.post("/console/bulletins/new", data={"csrf_token": token, "month": LAST_MONTH.key, "town_id": str(scene.other_town.id)})
    assert refused.status_code == 403
    db_session.refresh(bulletin)
    assert bulletin.status is BulletinStatus.DRAFT


def test_staff_list_only_their_own_towns_enterprises_for_a_visit(client, scene):
    console_login(client, scene.staff)
    page = text(client.get(f"/console/bulletins/new-supervision?town_id={scene.other_town.id}"))
    assert "郑州鑫林木业有限公司" not in page and "郑州华新建材有限公司" in page


def test_every_form_needs_a_csrf_token(client, scene, db_session):
    bulletin = scene.draft()
    entry = bulletin.entries[0]
    console_login(client, scene.admin)
    before = (
        db_session.scalar(select(func.count()).select_from(Bulletin)),
        db_session.scalar(select(func.count()).select_from(BulletinEvent)),
    )
    posts = {
        "/console/bulletins/new": {"month": LAST_MONTH.key},
        "/console/bulletins/new-supervision": {"town_id": str(scene.town.id), "visit_date": "2026-11-02", "enterprise_ids": str(scene.calm.id)},
        f"/console/bulletins/{bulletin.id}/edit": {"title": "x", "body": "y"},
        f"/console/bulletins/{bulletin.id}/entries": {"enterprise_id": str(scene.calm.id), "verdict": "praised", "reason": "好"},
        f"/console/bulletins/{bulletin.id}/entries/{entry.id}/remove": {"reason": "理由"},
        f"/console/bulletins/{bulletin.id}/entries/{entry.id}/restore": {},
        f"/console/bulletins/{bulletin.id}/publish": {},
        f"/console/bulletins/{bulletin.id}/correct": {},
    }
    for url, data in posts.items():
        response = client.post(url, data=data)
        assert response.status_code == 400, url
    after = (
        db_session.scalar(select(func.count()).select_from(Bulletin)),
        db_session.scalar(select(func.count()).select_from(BulletinEvent)),
    )
    assert after == before
    db_session.refresh(bulletin)
    assert bulletin.status is BulletinStatus.DRAFT and entry.removed_at is None


def test_remove_and_restore_an_enterprise_with_a_reason(app, client, scene, db_session):
    bulletin = scene.draft()
    entry = next(e for e in bulletin.entries if e.enterprise_id == scene.lapsed.id)
    console_login(client, scene.admin)
    token = session_token(app, client)
    empty = client.post(f"/console/bulletins/{bulletin.id}/entries/{entry.id}/remove", data={"csrf_token": token, "reason": ""}, follow_redirects=True)
    assert "请填写理由" in text(empty)
    client.post(f"/console/bulletins/{bulletin.id}/entries/{entry.id}/remove", data={"csrf_token": token, "reason": "已复评"})
    page = text(client.get(f"/console/bulletins/{bulletin.id}"))
    assert "已移出名单（1 家，理由留存）" in page and "已复评" in page
    client.post(f"/console/bulletins/{bulletin.id}/entries/{entry.id}/restore", data={"csrf_token": token})
    db_session.refresh(entry)
    assert entry.removed_at is None


def test_the_supervision_form_lists_the_town_s_enterprises_and_drafts(app, client, scene, db_session):
    console_login(client, scene.admin)
    page = text(client.get(f"/console/bulletins/new-supervision?town_id={scene.town.id}"))
    assert "郑州华新建材有限公司" in page and "郑州鑫林木业有限公司" not in page
    response = client.post(
        "/console/bulletins/new-supervision",
        data={"csrf_token": session_token(app, client), "town_id": str(scene.town.id), "visit_date": local_today(utcnow()).isoformat(),
              "enterprise_ids": [str(scene.calm.id)], "requirements": "立即整改", "deadline": ""},
    )
    assert response.status_code == 302
    bulletin = db_session.scalar(select(Bulletin).order_by(Bulletin.id.desc()))
    assert bulletin.kind.value == "supervision" and [e.enterprise_id for e in bulletin.entries] == [scene.calm.id]
    assert "各企业发现的问题" in text(client.get(f"/console/bulletins/{bulletin.id}"))


def test_the_export_neutralises_formulas_and_lists_the_reasons(client, scene):
    bulletin = scene.draft()
    console_login(client, scene.admin)
    response = client.get(f"/console/bulletins/{bulletin.id}/export.xlsx")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    workbook = load_workbook(io.BytesIO(response.data))
    rows = list(workbook["名单"].iter_rows(values_only=True))
    assert rows[0][:4] == ("序号", "类别", "镇（街道）", "企业名称")
    names = [r[3] for r in rows[1:]]
    assert "'=HYPERLINK(\"x\")金穗食品" in names and "郑州豫北特钢有限公司" in names
    assert not any(isinstance(v, str) and v.startswith(("=", "+", "-", "@")) for r in rows for v in r)
    assert workbook["通报"]["A1"].value == bulletin.title


def test_the_printable_page_marks_a_draft(client, scene):
    bulletin = scene.draft()
    console_login(client, scene.admin)
    page = text(client.get(f"/console/bulletins/{bulletin.id}/print"))
    assert "草 稿" in page and "@page { size: A4" in page and "附件：通报预警企业名单" in page


def test_ids_out_of_range_are_404(client, scene):
    console_login(client, scene.admin)
    assert client.get("/console/bulletins/0").status_code == 404
    assert client.get("/console/bulletins/99999999999").status_code == 404
    assert client.get("/console/bulletins/123456").status_code == 404


# --- H5 --------------------------------------------------------------------------------------------


def test_the_phone_page_is_for_members_of_a_named_enterprise(client, scene, db_session):
    bulletin = scene.draft()
    h5_login(client, scene.worker)
    assert client.get(f"/h5/bulletins/{bulletin.id}").status_code == 404  # still a draft
    service.publish(db_session, scene.admin_actor(), utcnow(), bulletin.id)
    page = text(client.get(f"/h5/bulletins/{bulletin.id}"))
    assert "贵企业被通报预警" in page and "重大事故隐患逾期未整改 1 项" in page
    h5_login(client, scene.calm_manager)  # not named
    assert client.get(f"/h5/bulletins/{bulletin.id}").status_code == 404
    client2 = client.application.test_client()
    assert client2.get(f"/h5/bulletins/{bulletin.id}").status_code == 302  # WeChat sign-in first


def test_the_notice_links_to_the_phone_page(scene, db_session):
    bulletin = scene.published()
    rows = db_session.scalars(select(OutboxMessage).where(OutboxMessage.recipient_user_id == scene.manager.id)).all()
    assert [r.kind for r in rows] == ["bulletin_warned"]
    from app.notifications.kinds import get_kind, render

    rendered = render(get_kind(rows[0].kind), rows[0].payload, "http://x")
    assert rendered.url == f"http://x/h5/bulletins/{bulletin.id}"
    assert rendered.data["thing2"]["value"] == "郑州豫北特钢有限公司"


# --- API -------------------------------------------------------------------------------------------


def test_the_api_lists_and_shows_bulletins_in_scope(client, scene, db_session):
    draft = scene.draft()
    published = scene.published()
    _, admin_token = issue_api_token(db_session, scene.admin, utcnow(), "t")
    _, manager_token = issue_api_token(db_session, scene.manager, utcnow(), "t")
    _, calm_token = issue_api_token(db_session, scene.calm_manager, utcnow(), "t")
    bearer = lambda t: {"Authorization": f"Bearer {t}"}  # noqa: E731
    listing = client.get(f"/api/v1/bulletins?month={LAST_MONTH.key}&per_page=1", headers=bearer(admin_token)).get_json()
    assert listing["total"] == 2 and listing["per_page"] == 1 and len(listing["items"]) == 1
    assert listing["items"][0]["warned"] == 2
    mine = client.get("/api/v1/bulletins", headers=bearer(manager_token)).get_json()
    assert [b["id"] for b in mine["items"]] == [published.id]  # not the draft
    assert client.get("/api/v1/bulletins", headers=bearer(calm_token)).get_json()["total"] == 0
    one = client.get(f"/api/v1/bulletins/{published.id}", headers=bearer(manager_token)).get_json()
    assert {e["enterprise_name"] for e in one["entries"]} == {"郑州豫北特钢有限公司", "=HYPERLINK(\"x\")金穗食品"}
    assert one["status"] == "published" and one["figures"]["warned"] == 2
    hidden = client.get(f"/api/v1/bulletins/{draft.id}", headers=bearer(manager_token))
    assert hidden.status_code == 404 and hidden.mimetype == "application/problem+json"
    bad = client.get("/api/v1/bulletins?month=2026-13&kind=weekly", headers=bearer(admin_token))
    assert bad.status_code == 422 and set(bad.get_json()["errors"]) == {"month", "kind"}
    assert client.get("/api/v1/bulletins").status_code == 401
    assert db_session.scalar(select(func.count()).select_from(BulletinEntry)) == 4
