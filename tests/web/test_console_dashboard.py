"""The enterprise dashboard (工作台), the console home by who logs in, and the task list's
filters and paging (排查任务): pages, links and scope."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.hazard_reporting.checklists import service as checklist_service
from app.hazard_reporting.checks import console as check_console
from app.hazard_reporting.checks import service as check_service
from app.hazard_reporting.checks.domain import CheckLevel, CheckTaskStatus
from app.hazard_reporting.checks.models import CheckTask
from app.hazard_reporting.dashboard import console as dashboard_console
from app.hazard_reporting.schedules import service as schedule_service
from tests.fixtures.checks import MONDAY, CheckOrg, submission_data
from tests.fixtures.csrf import session_token

START = MONDAY - timedelta(days=42)


@pytest.fixture
def org(build, db_session, monkeypatch) -> CheckOrg:
    """Six weeks of generated checks up to MONDAY 10:00, the pages' clock at MONDAY."""
    for module in (check_console, dashboard_console):
        monkeypatch.setattr(module, "utcnow", lambda: MONDAY)
    checklist_service.load_standard_checklists(db_session, START)
    org = CheckOrg(build)
    org.generate(START)
    schedule_service.generate_tasks(db_session, MONDAY)
    return org


def login(client, user) -> None:
    with client.session_transaction() as session:
        session["user_id"] = user.id


def text(response) -> str:
    return response.get_data(as_text=True)


def board(org) -> str:
    return f"/console/enterprises/{org.enterprise.id}/dashboard"


def task_list(org) -> str:
    return f"/console/enterprises/{org.enterprise.id}/checks/"


def task_ids(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr id="task-(\d+)"', page)]


# --- 工作台 -----------------------------------------------------------------------------


def test_dashboard_shows_today_rates_hazards_and_unbound_members(client, build, db_session, org, tmp_path):
    build.member(org.enterprise, "worker", user=build.user(display_name="未绑定员工", openid=None))
    task = org.daily()
    data = submission_data(db_session, task, org.s1, MONDAY - timedelta(minutes=10))
    check_service.submit_check(db_session, org.actor(org.leader), MONDAY, task.id, data, media_root=tmp_path)
    admin = build.member(org.enterprise, "enterprise_admin", user=build.user(display_name="管理员"))
    login(client, admin)
    response = client.get(board(org))
    page = text(response)
    assert response.status_code == 200
    assert "工作台 · 郑州恒达铸造有限公司" in page and 'aria-current="page">工作台</a>' in page
    assert "今日排查（2026-11-23）" in page and "熔炼一班（熔炼车间）" in page and "仓储班（成品库）" in page
    # The team's check was submitted by 王班长; the other team's is still owed by 周班长.
    assert "王班长" in page and "周班长" in page
    assert f"/checks/?start=2026-11-23&amp;end=2026-11-23#task-{task.id}" in page
    assert "近 30 天按时完成率" in page and "班组日排查" in page and "vendor/echarts.min.js" in page
    assert f"/console/hazards?enterprise_id={org.enterprise.id}&amp;overdue=1" in page
    assert f"/console/hazards?enterprise_id={org.enterprise.id}&amp;level=major" in page
    assert "未绑定员工" in page and f"/console/enterprises/{org.enterprise.id}/members" in page


def test_the_dashboard_tab_comes_first(client, org):
    login(client, org.officer)
    page = text(client.get(task_list(org)))
    tabs = re.search(r'<nav class="ent-tabs".*?</nav>', page, re.S).group(0)
    assert tabs.index("工作台") < tabs.index("企业档案")


def test_dashboard_without_member_management_names_the_admin(client, build, org):
    build.member(org.enterprise, "worker", user=build.user(display_name="未绑定员工", openid=None))
    login(client, org.officer)
    page = text(client.get(board(org)))
    assert "未绑定员工" in page and "请联系企业管理员" in page and "/members" not in page


def test_dashboard_scope(client, build, org):
    other = build.enterprise(name="别家企业")
    login(client, build.member(other, "enterprise_admin"))
    response = client.get(board(org))
    assert response.status_code == 404 and "企业不存在" in text(response)
    login(client, build.bureau_user("bureau_staff", towns=[build.town()]))  # another town
    assert client.get(board(org)).status_code == 404
    login(client, build.bureau_user("bureau_staff", towns=[org.enterprise.town]))
    assert client.get(board(org)).status_code == 200
    login(client, build.bureau_user("bureau_admin"))
    assert client.get(board(org)).status_code == 200
    assert client.get("/console/enterprises/99999999999/dashboard").status_code == 404


def test_dashboard_needs_login(client, org):
    response = client.get(board(org))
    assert response.status_code == 302 and "/console/login" in response.headers["Location"]


# --- the console home ------------------------------------------------------------------


def test_home_of_a_member_of_one_enterprise_is_its_dashboard(client, org):
    login(client, org.officer)
    response = client.get("/console/")
    assert response.status_code == 302 and response.headers["Location"].endswith(board(org))
    page = text(client.get(board(org)))
    assert ">我的企业</a>" in page and ">企业档案</a>" in page  # top bar, and the file's tab


def test_home_of_a_member_of_several_enterprises_lists_them_without_district_cards(client, build, org):
    second = build.enterprise(name="第二家企业有限公司")
    build.member(second, "safety_officer", user=org.officer)
    login(client, org.officer)
    response = client.get("/console/")
    page = text(response)
    assert response.status_code == 200
    assert "我的企业" in page and "郑州恒达铸造有限公司" in page and "第二家企业有限公司" in page
    assert "规上标准化达标率" not in page and "企业数" not in page
    assert board(org) in page and f"/console/enterprises/{second.id}/dashboard" in page


def test_home_of_the_bureau_is_unchanged(client, build, org):
    login(client, build.bureau_user("bureau_admin"))
    page = text(client.get("/console/"))
    assert "企业档案（一企一档）" in page and "规上标准化达标率" in page and "郑州恒达铸造有限公司" in page
    assert ">企业档案</a>" in page and ">我的企业</a>" not in page


# --- 排查任务: filters, paging, rows --------------------------------------------------------


def all_tasks(db_session, org) -> list[CheckTask]:
    return list(db_session.scalars(select(CheckTask).where(CheckTask.enterprise_id == org.enterprise.id)))


def overlaps(task, first, last) -> bool:
    return task.period_start <= last and task.period_end >= first


def test_task_list_defaults_to_the_last_seven_days(client, db_session, org):
    login(client, org.officer)
    page = text(client.get(task_list(org)))
    first, last = MONDAY.date() - timedelta(days=6), MONDAY.date()
    expected = {t.id for t in all_tasks(db_session, org) if overlaps(t, first, last)}
    assert expected and set(task_ids(page)) == expected
    assert 'value="2026-11-17"' in page and 'value="2026-11-23"' in page
    # Each label once per row: the level column, not the label and the level again.
    row = re.search(rf'<tr id="task-{org.daily().id}">.*?</tr>', page, re.S).group(0)
    assert row.count("班组日排查") == 1 and "熔炼一班（熔炼车间）" in row and "王班长" in row


def test_task_list_filters_by_level_team_and_status(client, db_session, org):
    login(client, org.officer)
    week = {"start": "2026-10-12", "end": "2026-11-23"}
    tasks = [t for t in all_tasks(db_session, org) if overlaps(t, START.date(), MONDAY.date())]
    weekly = set(task_ids(text(client.get(task_list(org), query_string={**week, "level": "weekly"}))))
    assert weekly == {t.id for t in tasks if t.schedule.level is CheckLevel.WEEKLY} and weekly
    team = text(client.get(task_list(org), query_string={**week, "team_id": org.t2.id, "level": "daily"}))
    assert set(task_ids(team)) == {t.id for t in tasks if t.schedule.team_id == org.t2.id} and task_ids(team)
    one = org.daily()
    one.status = CheckTaskStatus.MISSED
    db_session.flush()
    missed = text(client.get(task_list(org), query_string={**week, "status": "missed"}))
    assert set(task_ids(missed)) == {t.id for t in tasks if t.status is CheckTaskStatus.MISSED}
    assert "仍未提交" in missed and "可由部门负责人、经理、安全管理员批准免检" in missed


def test_task_list_pages_by_fifty(client, db_session, org):
    login(client, org.officer)
    args = {"start": "2026-10-01", "end": "2026-11-23"}
    expected = [t for t in all_tasks(db_session, org) if overlaps(t, START.date(), MONDAY.date())]
    assert len(expected) > 50
    first = text(client.get(task_list(org), query_string=args))
    assert len(task_ids(first)) == 50 and f"共 {len(expected)} 项" in first and "page=2" in first
    second = text(client.get(task_list(org), query_string={**args, "page": 2}))
    assert len(task_ids(second)) == len(expected) - 50
    assert set(task_ids(first)) | set(task_ids(second)) == {t.id for t in expected}
    beyond = text(client.get(task_list(org), query_string={**args, "page": 99}))
    assert task_ids(beyond) == task_ids(second)  # the last page


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"start": "2026-13-01"}, "开始日期"),
        ({"start": "2026-11-23", "end": "2026-11-01"}, "开始日期不能晚于结束日期"),
        ({"start": "2024-01-01", "end": "2026-11-23"}, "不能超过 366 天"),
        ({"level": "hourly"}, "排查层级"),
        ({"team_id": "99999999999"}, "班组"),
        ({"page": "0"}, "页码"),
    ],
)
def test_task_list_refuses_bad_filters_in_chinese(client, org, args, message):
    login(client, org.officer)
    response = client.get(task_list(org), query_string=args)
    assert response.status_code == 422 and message in text(response)
    assert "已显示默认的近 7 天任务" in text(response)


def test_submitted_task_shows_checker_results_and_hazard_link(client, db_session, org, tmp_path):
    task = org.daily()
    data = submission_data(db_session, task, org.s1, MONDAY - timedelta(minutes=10))
    code = data["answers"][0]["item_code"]
    data["answers"][0] = {"item_code": code, "result": "hazard", "note": "配电柜门未关", "photos": [_jpeg()]}
    check_service.submit_check(db_session, org.actor(org.leader), MONDAY, task.id, data, media_root=tmp_path)
    login(client, org.officer)
    page = text(client.get(task_list(org)))
    row = re.search(rf'<tr id="task-{task.id}">.*?</tr>', page, re.S).group(0)
    assert "王班长" in row and "2026-11-23 10:00" in row and re.search(r"符合 \d+ · 隐患 1", row)
    assert re.search(r'href="/console/hazards/\d+">隐患 #\d+</a>', row)


def test_task_list_of_another_enterprise_is_refused(client, build, org):
    login(client, build.member(build.enterprise(), "safety_officer"))
    assert client.get(task_list(org)).status_code == 404
    login(client, build.bureau_user("bureau_staff", towns=[build.town()]))
    assert client.get(task_list(org)).status_code == 404


def test_excuse_without_csrf_token_is_refused(client, app, db_session, org):
    login(client, org.officer)
    task = org.daily()
    url = f"{task_list(org)}tasks/{task.id}/excuse"
    assert client.post(url, data={"reason": "停产"}).status_code == 400
    db_session.expire_all()
    assert org.daily().status is CheckTaskStatus.PENDING
    page = text(client.get(task_list(org)))
    assert 'name="csrf_token"' in page
    response = client.post(url, data={"reason": "停产", "csrf_token": session_token(app, client)})
    assert response.status_code == 302


def _jpeg() -> bytes:
    from tests.fixtures.checks import jpeg

    return jpeg()
