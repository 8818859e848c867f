"""Hazards at the desk (issue 12): the enterprise admin acting as the safety officer, the
bureau's own duties (评估认定, 督导督办, 验收确认) and no enterprise duty, refusals by role and
scope, CSRF, the list's filters and paging, the district ledger, and who hears of new and
overdue hazards."""

from __future__ import annotations

import io
from datetime import timedelta
from urllib.parse import unquote

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from app.clock import to_local, utcnow
from app.hazard_reporting.hazards import major_hazards, service
from app.hazard_reporting.hazards.domain import HazardStatus, PhotoKind
from app.hazard_reporting.hazards.models import Hazard
from app.notifications.models import OutboxMessage
from tests.fixtures.csrf import session_token
from tests.fixtures.hazard_pages import action_forms, console_login, events_of, fresh, jpeg, make_cast, text

S = HazardStatus


@pytest.fixture
def cast(build):
    cast = make_cast(build)
    cast.admin = build.member(cast.enterprise, "enterprise_admin", user=build.user(display_name="恒达管理员"))
    cast.other_admin = build.member(
        cast.other, "enterprise_admin", user=build.user(display_name="永昌管理员")
    )
    far_town = build.town(name="古荥镇")
    cast.far = build.enterprise(far_town, name="郑州远郊机械有限公司")
    cast.far_worker = build.member(cast.far, "worker", user=build.user(display_name="远郊员工"))
    cast.far_town = far_town
    return cast


@pytest.fixture
def report(db_session, cast, app):
    media_root = app.config["SETTINGS"].MEDIA_ROOT

    def make(
        description="叉车通道标线磨损", *, enterprise=None, reporter=None, level="general", location="成品库"
    ):
        now = utcnow()
        actor = cast.build.actor(reporter or cast.worker)
        hazard = service.report_hazard(
            db_session,
            actor,
            now,
            {
                "enterprise_id": (enterprise or cast.enterprise).id,
                "description": description,
                "location": location,
                "category": "unsafe_condition",
                "level": level,
            },
        )
        service.add_photo(db_session, actor, now, hazard.id, PhotoKind.BEFORE, jpeg(), media_root)
        db_session.flush()
        return hazard

    return make


def act(client, hazard_id, slug, data=None, *, token=True):
    form = dict(data or {})
    if token:
        form["csrf_token"] = session_token(client.application, client)
    return client.post(
        f"/console/hazards/{hazard_id}/actions/{slug}", data=form, content_type="multipart/form-data"
    )


# --- roles -------------------------------------------------------------------------------------


def test_the_enterprise_admin_assigns_and_verifies_from_the_console(client, db_session, cast, report):
    hazard = report()
    console_login(client, cast.admin)
    page = text(client.get(f"/console/hazards/{hazard.id}"))
    assert {"assign", "reject", "upgrade_to_major"} <= action_forms(page)
    assert 'name="csrf_token"' in page
    assert act(client, hazard.id, "assign", {"assignee_id": str(cast.fixer.id)}).status_code == 303
    assert act(client, hazard.id, "start_rectification").status_code == 303
    submitted = act(
        client,
        hazard.id,
        "submit_rectification",
        {"note": "已重划标线", "photo": (io.BytesIO(jpeg()), "a.jpg")},
    )
    assert submitted.status_code == 303
    assert "verify" in action_forms(text(client.get(f"/console/hazards/{hazard.id}")))
    verified = act(client, hazard.id, "verify", {"passed": "1"})
    assert "done=verify_passed" in verified.headers["Location"]
    assert fresh(db_session, hazard.id).status is S.CLOSED


def test_the_safety_officer_upgrades_and_runs_the_five_in_place_plan(client, db_session, cast, report):
    hazard = report("打磨工位粉尘堆积")
    console_login(client, cast.officer)
    upgraded = act(client, hazard.id, "upgrade_to_major", {"criteria_code": "M23-FC-3", "note": "积尘严重"})
    assert "done=upgrade_to_major" in upgraded.headers["Location"]
    assert (
        act(
            client,
            hazard.id,
            "assess",
            {"criteria_code": "M23-FC-3", "assessor": "王安全", "opinion": "属实"},
        ).status_code
        == 303
    )
    assert act(client, hazard.id, "register").status_code == 303
    plan = {
        "measures": "清理积尘，加装除尘",
        "owner_org": "设备部",
        "owner_person": "赵师傅",
        "fund_amount": "20000",
        "fund_source": "安全生产费用",
        "deadline": "2099-01-31",
        "contingency": "停用打磨工位",
    }
    assert "done=save_plan" in act(client, hazard.id, "save_plan", plan).headers["Location"]
    page = text(client.get(f"/console/hazards/{hazard.id}"))
    assert "五项职责" in page and "清理积尘，加装除尘" in page
    assert "approve_plan" not in action_forms(page)  # the principal's (manager's) call
    assert fresh(db_session, hazard.id).status is S.REGISTERED


def test_the_bureau_assesses_supervises_and_accepts_but_takes_no_enterprise_duty(
    client, db_session, cast, report
):
    general = report("一般隐患")
    console_login(client, cast.bureau)
    assert action_forms(text(client.get(f"/console/hazards/{general.id}"))) == set()
    refused = act(client, general.id, "assign", {"assignee_id": str(cast.fixer.id)})
    assert refused.status_code == 403 and fresh(db_session, general.id).assignee_id is None

    major = report("除尘系统未设泄爆装置", level="major")
    page = text(client.get(f"/console/hazards/{major.id}"))
    assert action_forms(page) == {"assess"}
    assessed = act(
        client,
        major.id,
        "assess",
        {"criteria_code": "M23-FC-3", "assessor": "区局专家组", "opinion": "认定为重大隐患"},
    )
    assert "done=assess" in assessed.headers["Location"]
    assert fresh(db_session, major.id).status is S.ASSESSED
    assert act(client, major.id, "register").status_code == 403  # 登记建档 is the enterprise's
    assert fresh(db_session, major.id).status is S.ASSESSED


def test_a_worker_and_another_enterprises_admin_are_refused(client, db_session, cast, report):
    hazard = report()
    count = len(events_of(db_session, hazard.id))
    console_login(client, cast.worker)  # the reporter: may add a photo, nothing more
    assert action_forms(text(client.get(f"/console/hazards/{hazard.id}"))) == {"add_before_photo"}
    assert act(client, hazard.id, "assign", {"assignee_id": str(cast.fixer.id)}).status_code == 403
    console_login(client, cast.other_admin)
    assert client.get(f"/console/hazards/{hazard.id}").status_code == 404
    assert act(client, hazard.id, "reject", {"reason": "不是隐患"}).status_code == 404
    assert len(events_of(db_session, hazard.id)) == count


def test_bureau_staff_outside_their_towns_are_refused(client, db_session, cast, report):
    far = report("远郊企业的隐患", enterprise=cast.far, reporter=cast.far_worker, level="major")
    console_login(client, cast.bureau)
    assert client.get(f"/console/hazards/{far.id}").status_code == 404
    assert (
        act(
            client, far.id, "assess", {"criteria_code": "M23-FC-3", "assessor": "x", "opinion": "y"}
        ).status_code
        == 404
    )
    assert fresh(db_session, far.id).status is S.REPORTED
    assert "远郊企业的隐患" not in text(client.get("/console/hazards"))


def test_an_action_without_a_csrf_token_is_refused_and_writes_nothing(client, db_session, cast, report):
    hazard = report()
    count = len(events_of(db_session, hazard.id))
    console_login(client, cast.officer)
    refused = act(client, hazard.id, "reject", {"reason": "不是隐患"}, token=False)
    assert refused.status_code == 400 and "表单令牌" in text(refused)
    assert (
        fresh(db_session, hazard.id).status is S.REPORTED and len(events_of(db_session, hazard.id)) == count
    )


def test_huge_ids_are_404_not_errors(client, cast):
    console_login(client, cast.officer)
    assert client.get("/console/hazards/99999999999999999999").status_code == 404
    assert client.get("/console/hazards/0").status_code == 404


# --- the list ----------------------------------------------------------------------------------


def test_filters_by_town_found_dates_and_words(client, db_session, cast, report):
    near = report("配电柜前堆放杂物", location="一号厂房")
    old = report("消防栓被遮挡", location="仓库_东")
    db_session.get(Hazard, old.id).created_at = utcnow() - timedelta(days=40)
    far = report("远郊：行车限位失灵", enterprise=cast.far, reporter=cast.far_worker)
    db_session.flush()
    admin = cast.build.bureau_user("bureau_admin", user=cast.build.user(display_name="区局管理员"))
    console_login(client, admin)

    def listed(query: str) -> set[str]:
        page = text(client.get(f"/console/hazards?{query}"))
        return {h.description for h in (near, old, far) if h.description in page}

    assert "古荥镇" in text(client.get("/console/hazards"))  # the town filter of the bureau
    assert listed(f"town_id={cast.far_town.id}") == {far.description}
    today = to_local(utcnow()).date()
    assert listed(f"found_from={(today - timedelta(days=7)).isoformat()}") == {
        near.description,
        far.description,
    }
    assert listed(f"found_to={(today - timedelta(days=30)).isoformat()}") == {old.description}
    assert listed("q=杂物") == {near.description}
    assert listed("q=一号厂房") == {near.description}  # the location too
    assert listed("q=仓库_") == {old.description}
    assert listed("q=%25") == set()  # LIKE wildcards are taken literally
    assert listed("found_from=nonsense") == {near.description, old.description, far.description}


def test_paging_keeps_the_filters(client, db_session, cast, report, monkeypatch):
    from app.hazard_reporting.hazards import queries

    monkeypatch.setattr(queries, "CONSOLE_PAGE_SIZE", 2)
    for n in range(3):
        report(f"标线磨损{n}")
    report("别的隐患")
    console_login(client, cast.officer)
    page = client.get("/console/hazards?q=标线&level=general").get_data(as_text=True)
    assert "共 3 条" in page and "第 1 / 2 页" in page
    assert "page=2" in page and "q=%E6%A0%87%E7%BA%BF" in page and "level=general" in page
    second = text(client.get("/console/hazards?q=标线&level=general&page=2"))
    assert "标线磨损0" in second and "别的隐患" not in second


def test_opened_from_the_enterprise_tabs_the_list_shows_them(client, cast, report):
    report()
    console_login(client, cast.admin)
    page = client.get(f"/console/hazards?enterprise_id={cast.enterprise.id}").get_data(as_text=True)
    assert (
        'class="ent-tabs"' in page
        and f'/console/hazards?enterprise_id={cast.enterprise.id}" aria-current="page"' in page
    )
    assert 'class="ent-tabs"' not in client.get("/console/hazards").get_data(as_text=True)


# --- the district ledger -----------------------------------------------------------------------


def _sheet(response):
    return load_workbook(io.BytesIO(response.data)).active


def test_the_district_ledger_has_the_enterprises_of_the_bureau_users_scope_only(client, cast, report):
    report("配电柜前堆放杂物")
    report('=HYPERLINK("http://evil")', enterprise=cast.other, reporter=cast.outsider, location="-1层")
    report("远郊：行车限位失灵", enterprise=cast.far, reporter=cast.far_worker)
    month = to_local(utcnow()).strftime("%Y-%m")
    console_login(client, cast.bureau)
    assert "下载辖区隐患台账" in text(client.get("/console/hazards"))
    response = client.get(f"/console/hazards/district-ledger.xlsx?month={month}")
    assert response.status_code == 200
    assert "辖区隐患排查治理台账.xlsx" in unquote(response.headers["Content-Disposition"])
    sheet = _sheet(response)
    assert [sheet.cell(row=2, column=c).value for c in (1, 2, 3, 7)] == [
        "序号",
        "镇（街道）",
        "企业名称",
        "隐患描述",
    ]
    rows = list(sheet.iter_rows(min_row=3, values_only=True))
    assert {r[2] for r in rows} == {"郑州恒达铸造有限公司", "郑州永昌食品有限公司"}  # not the far town's
    assert {r[1] for r in rows} == {"花园口镇"}
    evil = next(r for r in rows if r[2] == "郑州永昌食品有限公司")
    assert evil[6] == '\'=HYPERLINK("http://evil")' and evil[5].startswith("'-1层")
    assert all(
        sheet.cell(row=r, column=c).data_type != "f" for r in range(3, 3 + len(rows)) for c in range(1, 17)
    )


def test_the_district_ledger_by_town_and_its_refusals(client, cast, report):
    report("远郊：行车限位失灵", enterprise=cast.far, reporter=cast.far_worker)
    month = to_local(utcnow()).strftime("%Y-%m")
    console_login(client, cast.bureau)  # staff of 花园口镇 only
    assert (
        client.get(
            f"/console/hazards/district-ledger.xlsx?month={month}&town_id={cast.far_town.id}"
        ).status_code
        == 404
    )
    admin = cast.build.bureau_user("bureau_admin", user=cast.build.user(display_name="区局管理员"))
    console_login(client, admin)
    by_town = client.get(f"/console/hazards/district-ledger.xlsx?month={month}&town_id={cast.far_town.id}")
    rows = list(_sheet(by_town).iter_rows(min_row=3, values_only=True))
    assert [r[2] for r in rows] == ["郑州远郊机械有限公司"]
    console_login(client, cast.admin)  # an enterprise admin: no district ledger
    assert "下载辖区隐患台账" not in text(client.get("/console/hazards"))
    assert client.get(f"/console/hazards/district-ledger.xlsx?month={month}").status_code == 403


def test_a_bad_ledger_request_says_what_is_wrong_once_in_chinese(client, cast):
    console_login(client, cast.officer)
    bad = client.get(f"/console/hazards/ledger.xlsx?enterprise_id={cast.enterprise.id}&month=2026-13")
    page = text(bad)
    assert bad.status_code == 422 and "月份：月份格式应为 YYYY-MM" in page
    assert "month" not in page and page.count("月份格式应为") == 1
    missing = text(client.get("/console/hazards/ledger.xlsx?month=2026-11"))
    assert "企业：请选择企业" in missing and "enterprise_id" not in missing
    huge = client.get("/console/hazards/ledger.xlsx?month=2026-11&enterprise_id=99999999999999")
    assert huge.status_code == 422 and "enterprise_id" not in text(huge)


# --- notices -----------------------------------------------------------------------------------


def _recipients(session, kind, hazard_id):
    rows = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind)).all()
    return {r.recipient_user_id for r in rows if r.payload.get("hazard_id") == hazard_id}


def test_a_new_hazard_is_told_to_the_safety_officer_and_the_enterprise_admin(db_session, cast, report):
    department = cast.build.department(cast.enterprise, name="熔炼车间")
    other_department = cast.build.department(cast.enterprise, name="仓储部")
    far_admin = cast.build.member(
        cast.enterprise,
        "enterprise_admin",
        user=cast.build.user(display_name="仓储管理员"),
        department_id=other_department.id,
    )
    hazard = service.report_hazard(
        db_session,
        cast.build.actor(cast.worker),
        utcnow(),
        {
            "enterprise_id": cast.enterprise.id,
            "description": "炉前地面积水",
            "location": "炉前",
            "category": "unsafe_condition",
            "department_id": department.id,
        },
    )
    recipients = _recipients(db_session, "hazard_reported", hazard.id)
    assert {cast.officer.id, cast.admin.id, far_admin.id} <= recipients
    assert cast.worker.id not in recipients and cast.other_admin.id not in recipients
    rows = db_session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "hazard_reported")).all()
    # A general hazard's notice is not urgent: each person's quiet hours and digest-only
    # preference decide when (and whether alone) it reaches them.
    assert not any(r.urgent for r in rows)
    major = report("除尘器无泄爆", level="major")
    assert {cast.officer.id, cast.admin.id} <= _recipients(db_session, "hazard_reported", major.id)
    urgent = db_session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "hazard_reported")).all()
    assert all(r.urgent for r in urgent if r.payload["hazard_id"] == major.id)


def test_the_reporter_who_is_the_safety_officer_is_not_told_of_their_own_report(db_session, cast):
    hazard = service.report_hazard(
        db_session,
        cast.build.actor(cast.officer),
        utcnow(),
        {
            "enterprise_id": cast.enterprise.id,
            "description": "护栏松动",
            "location": "二楼",
            "category": "unsafe_condition",
        },
    )
    recipients = _recipients(db_session, "hazard_reported", hazard.id)
    assert cast.officer.id not in recipients and cast.admin.id in recipients


def test_major_duties_by_the_bureau_are_recorded(db_session, cast, report):
    hazard = report(level="major")
    bureau = cast.build.actor(cast.bureau)
    major_hazards.assess(
        db_session,
        bureau,
        utcnow(),
        hazard.id,
        {"criteria_code": "M23-FC-3", "assessor": "区局", "opinion": "属实"},
    )
    assert fresh(db_session, hazard.id).plan.assessor == "区局"
