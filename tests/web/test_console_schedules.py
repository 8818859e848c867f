"""Console 排查计划 page: schedules by level with names and due rules in words; creating,
editing, pausing and resuming behind CSRF and MANAGE_STRUCTURE; bad input refused in
Chinese with nothing written; another enterprise's schedules, teams and sites refused on
every route."""

from __future__ import annotations

from datetime import time

import pytest
from sqlalchemy import func, select

from app.hazard_reporting.checklists import service as checklist_service
from app.hazard_reporting.checks.domain import CheckLevel
from app.hazard_reporting.schedules import console as schedule_console
from app.hazard_reporting.schedules.models import CheckSchedule
from tests.fixtures.checks import MONDAY, CheckOrg
from tests.fixtures.csrf import session_token


@pytest.fixture
def org(build, db_session, monkeypatch) -> CheckOrg:
    monkeypatch.setattr(schedule_console, "utcnow", lambda: MONDAY)
    checklist_service.load_standard_checklists(db_session, MONDAY)
    org = CheckOrg(build)
    org.generate()  # the default schedules: a daily per team, a weekly per department, a monthly
    return org


def login(client, user) -> None:
    with client.session_transaction() as session:
        session["user_id"] = user.id


def text(response) -> str:
    return response.get_data(as_text=True)


def base(org) -> str:
    return f"/console/enterprises/{org.enterprise.id}/schedules"


def count(db_session) -> int:
    return db_session.scalar(select(func.count()).select_from(CheckSchedule))


def schedule(db_session, org, **where) -> CheckSchedule:
    query = select(CheckSchedule).where(CheckSchedule.enterprise_id == org.enterprise.id)
    for name, value in where.items():
        query = query.where(getattr(CheckSchedule, name) == value)
    return db_session.scalars(query.order_by(CheckSchedule.id)).first()


def test_page_shows_schedules_by_level_in_words(client, org):
    login(client, org.leader)  # every member reads
    response = client.get(base(org))
    page = text(response)
    assert response.status_code == 200
    for words in ("班组日排查", "部门周排查", "经理月排查", "熔炼一班（熔炼车间）", "成品库", "全企业（经理）"):
        assert words in page
    assert "每个工作日 17:00 前" in page and "每周五 17:00 前" in page and "每月最后一天 17:00 前" in page
    assert "2 小时" in page and "1 天" in page and "2 天" in page
    assert page.count('name="csrf_token"') == 1  # a team leader gets no forms but 退出


def test_page_is_reachable_from_the_tab_bar(client, org):
    login(client, org.officer)
    page = text(client.get(f"/console/enterprises/{org.enterprise.id}/checks/"))
    assert f'href="{base(org)}"' in page and "排查计划" in page


def test_officer_creates_a_schedule(client, app, db_session, org):
    login(client, org.officer)
    daily = schedule(db_session, org, team_id=org.t1.id)
    client.post(f"{base(org)}/{daily.id}/pause", data={"csrf_token": session_token(app, client)})
    token = session_token(app, client)
    response = client.post(
        base(org),
        data={"csrf_token": token, "level": "daily", "team_id": str(org.t1.id), "label": "一班早检",
              "due_time": "09:30", "grace_minutes": "30", "site_id": str(org.s1.id)},
    )
    assert response.status_code == 302
    created = schedule(db_session, org, label="一班早检")
    assert (created.due_time, created.grace_minutes, created.site_id, created.workdays_only) == (time(9, 30), 30, org.s1.id, False)
    page = text(client.get(response.headers["Location"]))
    assert "已新增排查计划「一班早检」" in page and "每天 09:30 前" in page and "熔炼车间配电室" in page


def test_monthly_on_the_31st_is_explained(client, app, db_session, org):
    login(client, org.officer)
    monthly = schedule(db_session, org, level=CheckLevel.MONTHLY)
    response = client.post(
        f"{base(org)}/{monthly.id}",
        data={"csrf_token": session_token(app, client), "label": "经理月排查", "due_time": "17:00",
              "grace_minutes": "2880", "due_month_day": "31"},
    )
    assert response.status_code == 302
    assert "每月 31 日 17:00 前（当月无此日时为月末）" in text(client.get(base(org)))


def test_a_duplicate_is_refused_naming_the_existing_one(client, app, db_session, org):
    login(client, org.officer)
    before = count(db_session)
    response = client.post(
        base(org), data={"csrf_token": session_token(app, client), "level": "weekly", "department_id": str(org.d1.id)}
    )
    assert response.status_code == 409
    assert "部门「熔炼车间」已有启用中的部门周排查计划「部门周排查」" in text(response)
    assert count(db_session) == before


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"level": "daily"}, "班组日排查须指定班组"),
        ({"level": "weekly", "department_id": "abc"}, "部门：应为整数"),
        ({"level": "daily", "team_id": "99999999999"}, "班组：不能大于"),
        ({"level": "monthly", "grace_minutes": "5000"}, "宽限时间（分钟）：应在 0 到 2880 分钟之间"),
        ({"level": "monthly", "due_time": "7点"}, "截止时间：应为时间"),
        ({"level": "monthly", "due_month_day": "32"}, "每月截止日：不能大于 31"),
    ],
)
def test_bad_input_is_refused_in_chinese_and_nothing_written(client, app, db_session, org, data, words):
    login(client, org.officer)
    before = count(db_session)
    response = client.post(base(org), data={"csrf_token": session_token(app, client), **data})
    assert response.status_code == 422 and words in text(response), text(response)[-2000:]
    assert count(db_session) == before


def test_forms_need_a_csrf_token(client, db_session, org):
    login(client, org.officer)
    monthly = schedule(db_session, org, level=CheckLevel.MONTHLY)
    before = count(db_session)
    assert client.post(base(org), data={"level": "daily", "team_id": str(org.t1.id)}).status_code == 400
    assert client.post(f"{base(org)}/{monthly.id}", data={"label": "改了", "due_time": "17:00", "grace_minutes": "0"}).status_code == 400
    assert client.post(f"{base(org)}/{monthly.id}/pause").status_code == 400
    db_session.expire_all()
    assert count(db_session) == before
    assert db_session.get(CheckSchedule, monthly.id).label == "经理月排查" and db_session.get(CheckSchedule, monthly.id).active


def test_edit_page_and_save(client, app, db_session, org):
    login(client, org.officer)
    weekly = schedule(db_session, org, department_id=org.d2.id, level=CheckLevel.WEEKLY)
    page = text(client.get(f"{base(org)}/{weekly.id}"))
    assert "层级和责任单位不能修改" in page and "每周五 17:00 前" in page
    response = client.post(
        f"{base(org)}/{weekly.id}",
        data={"csrf_token": session_token(app, client), "label": "库房周检", "due_time": "16:00",
              "grace_minutes": "600", "due_weekday": "4", "site_id": str(org.s2.id)},
    )
    assert response.status_code == 302
    db_session.expire_all()
    weekly = db_session.get(CheckSchedule, weekly.id)
    assert (weekly.label, weekly.due_time, weekly.grace_minutes, weekly.due_weekday, weekly.site_id) == (
        "库房周检", time(16), 600, 4, org.s2.id,
    )
    assert "每周四 16:00 前" in text(client.get(base(org)))


def test_edit_bad_input_stores_nothing(client, app, db_session, org):
    login(client, org.officer)
    daily = schedule(db_session, org, team_id=org.t1.id)
    response = client.post(
        f"{base(org)}/{daily.id}",
        data={"csrf_token": session_token(app, client), "label": "", "due_time": "16:00", "grace_minutes": "60"},
    )
    assert response.status_code == 422 and "名称：不能为空" in text(response)
    response = client.post(
        f"{base(org)}/{daily.id}",
        data={"csrf_token": session_token(app, client), "label": "x", "due_time": "16:00", "grace_minutes": "60",
              "site_id": str(org.s2.id)},
    )
    assert response.status_code == 422 and "该点位属于其他部门" in text(response)
    db_session.expire_all()
    daily = db_session.get(CheckSchedule, daily.id)
    assert (daily.label, daily.due_time, daily.site_id) == ("班组日排查", time(17), None)


def test_pause_and_resume(client, app, db_session, org):
    login(client, org.officer)
    daily = schedule(db_session, org, team_id=org.t1.id)
    response = client.post(f"{base(org)}/{daily.id}/pause", data={"csrf_token": session_token(app, client)})
    assert response.status_code == 302
    page = text(client.get(response.headers["Location"]))
    assert "已暂停排查计划「班组日排查」" in page and "已暂停" in page and "恢复" in page
    db_session.expire_all()
    assert db_session.get(CheckSchedule, daily.id).active is False
    response = client.post(f"{base(org)}/{daily.id}/resume", data={"csrf_token": session_token(app, client)})
    assert response.status_code == 302 and "暂停期间不补生成" in text(client.get(response.headers["Location"]))
    db_session.expire_all()
    assert db_session.get(CheckSchedule, daily.id).active is True


def test_members_without_manage_structure_cannot_change(client, app, db_session, org):
    daily = schedule(db_session, org, team_id=org.t1.id)
    before = count(db_session)
    for user in (org.leader, org.head, org.manager):
        login(client, user)
        token = session_token(app, client)
        assert client.get(f"{base(org)}/{daily.id}").status_code == 403
        assert client.post(base(org), data={"csrf_token": token, "level": "monthly"}).status_code == 403
        assert client.post(f"{base(org)}/{daily.id}/pause", data={"csrf_token": token}).status_code == 403
        assert client.post(
            f"{base(org)}/{daily.id}", data={"csrf_token": token, "label": "改", "due_time": "17:00", "grace_minutes": "0"}
        ).status_code == 403
    db_session.expire_all()
    assert count(db_session) == before and db_session.get(CheckSchedule, daily.id).active


def test_another_enterprise_is_refused_on_every_route(client, app, build, db_session, org):
    other = build.enterprise(name="别家企业")
    other_department = build.department(other, name="别家车间")
    other_team = build.team(other_department, name="别家班组")
    other_site = build.site(other, name="别家点位")
    outsider = build.member(other, "safety_officer")
    mine = schedule(db_session, org, team_id=org.t1.id)
    before = count(db_session)
    # An officer of another enterprise asks for this one's page and schedules.
    login(client, outsider)
    token = session_token(app, client)
    assert client.get(base(org)).status_code == 404
    assert client.get(f"{base(org)}/{mine.id}").status_code == 404
    assert client.post(base(org), data={"csrf_token": token, "level": "monthly"}).status_code == 404
    for action in ("", "/pause", "/resume"):
        data = {"csrf_token": token, "label": "改", "due_time": "17:00", "grace_minutes": "0"}
        assert client.post(f"{base(org)}/{mine.id}{action}", data=data).status_code == 404
    # This enterprise's officer names the other's team, department, site, or its schedule under their URL.
    login(client, org.officer)
    token = session_token(app, client)
    theirs = CheckSchedule(
        enterprise_id=other.id, kind="routine", level="monthly", label="别家月检", due_time=time(17),
        grace_minutes=0, starts_on=MONDAY.date(), active=True,
    )
    db_session.add(theirs)
    db_session.flush()
    before = count(db_session)
    for data, words in [
        ({"level": "daily", "team_id": str(other_team.id)}, "班组不属于本企业"),
        ({"level": "weekly", "department_id": str(other_department.id)}, "部门不属于本企业"),
        ({"level": "monthly", "site_id": str(other_site.id)}, "点位不属于本企业"),
    ]:
        response = client.post(base(org), data={"csrf_token": token, **data})
        assert response.status_code == 422 and words in text(response)
    assert client.get(f"{base(org)}/{theirs.id}").status_code == 404
    for action in ("", "/pause", "/resume"):
        data = {"csrf_token": token, "label": "改", "due_time": "17:00", "grace_minutes": "0"}
        assert client.post(f"{base(org)}/{theirs.id}{action}", data=data).status_code == 404
    assert client.get(f"{base(org)}/{2**31}").status_code == 404
    assert client.post(f"{base(org)}/{2**31}/pause", data={"csrf_token": token}).status_code == 404
    db_session.expire_all()
    assert count(db_session) == before
    theirs = db_session.get(CheckSchedule, theirs.id)
    assert (theirs.label, theirs.active) == ("别家月检", True)
    assert db_session.get(CheckSchedule, mine.id).active


def test_pages_need_login(client, org):
    for path in ("", "/1"):
        response = client.get(base(org) + path)
        assert response.status_code == 302 and "/console/login" in response.headers["Location"]
