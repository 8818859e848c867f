"""Console hazard pages: the scoped list with its filters, one hazard with the desktop actions
(the major-hazard duties up to the bureau's supervision and acceptance), refusals shown on
the page, and the ledger download."""

from __future__ import annotations

import io
from datetime import timedelta
from urllib.parse import unquote

import pytest
from openpyxl import load_workbook

from app.clock import to_local, utcnow
from app.hazard_reporting.hazards import major_hazards, service
from app.hazard_reporting.hazards.domain import HazardAction, HazardStatus, PhotoKind
from app.hazard_reporting.hazards.models import Hazard
from tests.fixtures.csrf import session_token
from tests.fixtures.hazard_pages import action_forms, console_login, events_of, fresh, jpeg, make_cast, text

S = HazardStatus
A = HazardAction


@pytest.fixture
def cast(build):
    return make_cast(build)


@pytest.fixture
def report(db_session, cast, app):
    media_root = app.config["SETTINGS"].MEDIA_ROOT

    def make(description="叉车通道标线磨损", *, enterprise=None, reporter=None, level="general", **data):
        now = utcnow()
        actor = cast.build.actor(reporter or cast.worker)
        hazard = service.report_hazard(
            db_session,
            actor,
            now,
            {
                "enterprise_id": (enterprise or cast.enterprise).id,
                "description": description,
                "location": "成品库",
                "category": "unsafe_condition",
                "level": level,
                **data,
            },
        )
        service.add_photo(db_session, actor, now, hazard.id, PhotoKind.BEFORE, jpeg(), media_root)
        db_session.flush()
        return hazard

    return make


def act(client, hazard_id, slug, data=None, *, token=True):
    """Post an action form as the console page does (with the session's CSRF token)."""
    form = dict(data or {})
    if token:
        form["csrf_token"] = session_token(client.application, client)
    return client.post(
        f"/console/hazards/{hazard_id}/actions/{slug}", data=form, content_type="multipart/form-data"
    )


def test_the_header_links_to_the_hazard_pages(client, cast):
    console_login(client, cast.officer)
    page = text(client.get("/console/", follow_redirects=True))  # one enterprise: its dashboard
    assert 'href="/console/hazards"' in page and "隐患治理" in page


def test_the_list_needs_a_console_login(client):
    response = client.get("/console/hazards")
    assert response.status_code == 302 and "/console/login" in response.headers["Location"]


def test_the_list_is_scoped_to_the_actor(client, cast, report):
    report("本企业的隐患")
    report("别家企业的隐患", enterprise=cast.other, reporter=cast.outsider)
    console_login(client, cast.officer)
    page = text(client.get("/console/hazards"))
    assert "本企业的隐患" in page and "别家企业的隐患" not in page
    console_login(client, cast.bureau)  # bureau staff of the town: both enterprises
    page = text(client.get("/console/hazards"))
    assert "本企业的隐患" in page and "别家企业的隐患" in page
    assert "郑州永昌食品有限公司" in page  # several enterprises: the column and the filter show


def test_the_list_filters_by_enterprise_status_level_and_overdue(client, db_session, cast, report):
    general = report("一般：消防通道堵塞")
    major = report("重大：除尘器无泄爆", level="major")
    late = report("逾期：护栏缺失")
    db_session.get(Hazard, late.id).deadline = utcnow() - timedelta(hours=2)
    other = report("别家：冷库氨阀漏气", enterprise=cast.other, reporter=cast.outsider)
    db_session.flush()
    console_login(client, cast.bureau)

    def listed(query: str) -> set[str]:
        page = text(client.get(f"/console/hazards?{query}"))
        return {h.description for h in (general, major, late, other) if h.description in page}

    assert listed(f"enterprise_id={cast.other.id}") == {"别家：冷库氨阀漏气"}
    assert listed("level=major") == {"重大：除尘器无泄爆"}
    assert listed("overdue=1") == {"逾期：护栏缺失"}
    assert listed("status=reported&level=general") == {
        "一般：消防通道堵塞",
        "逾期：护栏缺失",
        "别家：冷库氨阀漏气",
    }
    assert listed("status=closed") == set()
    assert listed("status=nonsense") == {h.description for h in (general, major, late, other)}
    assert "已逾期" in text(client.get("/console/hazards?overdue=1"))


def test_another_enterprises_hazard_is_404(client, cast, report):
    hazard = report(enterprise=cast.other, reporter=cast.outsider)
    console_login(client, cast.officer)
    assert client.get(f"/console/hazards/{hazard.id}").status_code == 404
    assert client.get(f"/console/hazards/{hazard.id}/photos/{hazard.photos[0].id}").status_code == 404
    assert act(client, hazard.id, "reject", {"reason": "x"}).status_code == 404


def test_the_detail_shows_photos_history_and_the_actors_actions(client, cast, report):
    hazard = report()
    console_login(client, cast.officer)
    page = text(client.get(f"/console/hazards/{hazard.id}"))
    assert "叉车通道标线磨损" in page and "李工" in page and "上报隐患" in page
    assert f"/console/hazards/{hazard.id}/photos/{hazard.photos[0].id}?size=thumb" in page
    assert {"assign", "reject", "upgrade_to_major"} <= action_forms(page)
    photo = client.get(f"/console/hazards/{hazard.id}/photos/{hazard.photos[0].id}")
    assert photo.status_code == 200 and photo.mimetype == "image/jpeg"
    console_login(client, cast.bureau)
    assert action_forms(text(client.get(f"/console/hazards/{hazard.id}"))) == set()


def test_the_major_duties_through_the_console_to_acceptance(client, db_session, cast, report):
    hazard = report("除尘系统未设泄爆装置", level="major")
    hid = hazard.id

    console_login(client, cast.officer)
    assert (
        act(
            client,
            hid,
            "assess",
            {"criteria_code": "M23-FC-3", "assessor": "市安科院专家组", "opinion": "属实"},
        ).status_code
        == 303
    )
    assert act(client, hid, "register").status_code == 303
    assert act(client, hid, "assign", {"assignee_id": str(cast.fixer.id)}).status_code == 303
    plan = {
        "measures": "加装泄爆片和隔爆阀",
        "owner_org": "设备部",
        "owner_person": "赵师傅",
        "fund_amount": "86000.50",
        "fund_source": "安全生产费用",
        "deadline": "2099-03-31",
        "contingency": "治理期间除尘系统停用，打磨工位停产",
    }
    assert act(client, hid, "save_plan", plan).status_code == 303

    console_login(client, cast.manager)
    assert act(client, hid, "approve_plan", {"note": "同意立项"}).status_code == 303
    assert fresh(db_session, hid).status is S.PLAN_APPROVED

    console_login(client, cast.bureau)
    assert action_forms(text(client.get(f"/console/hazards/{hid}"))) == {"supervise"}
    refused = act(client, hid, "supervise", {})
    assert refused.status_code == 422 and "督办单位：必填" in text(refused)
    assert (
        act(
            client, hid, "supervise", {"supervising_unit": "惠济区应急管理局", "note": "每周报进度"}
        ).status_code
        == 303
    )
    assert fresh(db_session, hid).status is S.SUPERVISING

    console_login(client, cast.manager)
    assert act(client, hid, "start_rectification").status_code == 303
    assert (
        act(
            client,
            hid,
            "submit_rectification",
            {"note": "已安装", "photo": (io.BytesIO(jpeg()), "after.jpg")},
        ).status_code
        == 303
    )
    assert fresh(db_session, hid).status is S.RECTIFIED

    console_login(client, cast.bureau)
    assert "accept" in action_forms(text(client.get(f"/console/hazards/{hid}")))
    accepted = act(
        client, hid, "accept", {"passed": "1", "acceptor": "区局验收组", "opinion": "符合方案要求"}
    )
    assert "done=accept_passed" in accepted.headers["Location"]
    hazard = fresh(db_session, hid)
    assert hazard.status is S.CLOSED and hazard.plan.acceptor == "区局验收组"
    assert [e.action for e in events_of(db_session, hid)][-1] is A.ACCEPT
    page = text(client.get(f"/console/hazards/{hid}"))
    assert "五项职责" in page and "惠济区应急管理局" in page and "区局验收组" in page


def test_a_refusal_is_shown_on_the_page_and_nothing_is_stored(client, db_session, cast, report):
    hazard = report(level="major")
    officer = cast.build.actor(cast.officer)
    major_hazards.assess(
        db_session,
        officer,
        utcnow(),
        hazard.id,
        {"criteria_code": "M23-FC-3", "assessor": "王", "opinion": "属实"},
    )
    major_hazards.register(db_session, officer, utcnow(), hazard.id)
    db_session.flush()
    count = len(events_of(db_session, hazard.id))
    console_login(client, cast.manager)
    refused = act(client, hazard.id, "approve_plan")
    assert refused.status_code == 422 and "五到位未落实" in text(refused)
    assert (
        fresh(db_session, hazard.id).status is S.REGISTERED and len(events_of(db_session, hazard.id)) == count
    )
    bad_money = act(client, hazard.id, "save_plan", {"measures": "x", "fund_amount": "十万"})
    assert bad_money.status_code == 422 and "整改资金（元）：应为金额" in text(bad_money)


def test_the_ledger_downloads_as_xlsx_for_those_allowed(client, cast, report):
    report()
    month = to_local(utcnow()).strftime("%Y-%m")
    console_login(client, cast.officer)
    listing = text(client.get("/console/hazards"))
    assert "导出台账" in listing
    response = client.get(f"/console/hazards/ledger.xlsx?enterprise_id={cast.enterprise.id}&month={month}")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    disposition = unquote(response.headers["Content-Disposition"])
    assert "郑州恒达铸造有限公司" in disposition and "隐患排查治理台账.xlsx" in disposition
    sheet = load_workbook(io.BytesIO(response.data)).active
    assert sheet["B2"].value == "排查时间" and sheet["E3"].value == "叉车通道标线磨损"

    bad = client.get(f"/console/hazards/ledger.xlsx?enterprise_id={cast.enterprise.id}&month=2026-13")
    assert bad.status_code == 422 and "月份格式应为 YYYY-MM" in text(bad)
    console_login(client, cast.worker)
    assert "导出台账" not in text(client.get("/console/hazards"))
    assert (
        client.get(
            f"/console/hazards/ledger.xlsx?enterprise_id={cast.enterprise.id}&month={month}"
        ).status_code
        == 403
    )
    console_login(client, cast.outsider)
    assert (
        client.get(
            f"/console/hazards/ledger.xlsx?enterprise_id={cast.enterprise.id}&month={month}"
        ).status_code
        == 404
    )
