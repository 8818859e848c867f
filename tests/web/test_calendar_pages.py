"""The district's working calendar (工作日历): console menu and banner, the year page, CSRF on
its forms, day overrides, the arrangement import (preview, then import), and the API.

Time is frozen where it matters: on 2026-12-04 (from 1 December) next year must be confirmed
and 2027 is neither covered by the official data (chinese-calendar) nor confirmed yet.
"""

from __future__ import annotations

import io
import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import func, select

from app.accounts.domain import BureauRole, Role
from app.accounts.service import issue_api_token
from app.hazard_reporting.work_calendar import service
from app.hazard_reporting.work_calendar.domain import CalendarAction, YearBasis
from app.hazard_reporting.work_calendar.models import CalendarEvent, CalendarOverride, CalendarYear
from app.hazard_reporting.work_calendar.sources import official_years
from tests.fixtures.csrf import session_token

SHANGHAI = ZoneInfo("Asia/Shanghai")
DEC_4 = datetime(2026, 12, 4, 10, 0, tzinfo=SHANGHAI)  # a Friday; next year must be confirmed
NOV_20 = datetime(2026, 11, 20, 10, 0, tzinfo=SHANGHAI)  # before December: nothing to confirm
PAST_SATURDAY = date(2026, 11, 28)  # a rest day already past on DEC_4

BANNER_2027 = "2027 年工作日历尚未确认"


@pytest.fixture(autouse=True)
def _2027_is_not_published():
    """These tests rely on 2027 being a year the shipped official data does not cover."""
    if 2027 in official_years():
        pytest.fail("chinese-calendar now covers 2027: pick a later unpublished year for these tests")


@pytest.fixture
def frozen():
    with time_machine.travel(DEC_4, tick=False) as traveller:
        yield traveller


@pytest.fixture
def people(build):
    admin = build.bureau_user(
        BureauRole.ADMIN, user=build.user(username="cal_admin", password="pw-a", display_name="日历管理员")
    )
    staff = build.bureau_user(BureauRole.STAFF, user=build.user(username="cal_staff", password="pw-s"))
    enterprise = build.enterprise()
    boss = build.member(
        enterprise, Role.ENTERPRISE_ADMIN, user=build.user(username="cal_boss", password="pw-e")
    )
    return {"admin": admin, "staff": staff, "boss": boss}


def login(client, username: str, password: str) -> None:
    response = client.post("/console/login", data={"username": username, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)


def text_of(response) -> str:
    return response.get_data(as_text=True)


def csrf_from(html: str) -> str:
    match = re.search(r'<input type="hidden" name="csrf_token" value="([^"]+)"', html)
    assert match, "the page renders no csrf_token field"
    return match.group(1)


def hidden_value(html: str, name: str) -> str:
    match = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)"', html)
    assert match, f"the page has no hidden {name} field"
    return match.group(1)


def page_token(client, year: int = 2027) -> str:
    return csrf_from(text_of(client.get(f"/console/calendar?year={year}")))


def section(html: str, heading: str) -> str:
    """The HTML of the card whose <h2> starts with `heading`, up to the card's end."""
    start = html.index(f"<h2>{heading}")
    return html[start : html.index("</section>", start)]


def status_line(html: str) -> str:
    """The year's status paragraph (官方数据 / 已确认 / 待确认)."""
    start = html.index('<p class="status">')
    return html[start : html.index("</p>", start)]


def override_days(db_session) -> set[date]:
    return set(db_session.scalars(select(CalendarOverride.day)))


def count(db_session, model) -> int:
    return db_session.scalar(select(func.count()).select_from(model))


def set_day_form(
    token: str | None, day: str = "2027-02-20", kind: str = "work", name: str = "春节调休上班"
) -> dict:
    data = {"day": day, "kind": kind, "name": name, "note": "", "year": day[:4]}
    if token is not None:
        data["csrf_token"] = token
    return data


# --- 1. Menu and banner -----------------------------------------------------------------------


def test_admin_sees_menu_and_banner_until_next_year_is_confirmed(client, db_session, people, frozen):
    login(client, "cal_admin", "pw-a")
    home = text_of(client.get("/console/"))
    assert '<a href="/console/calendar">工作日历</a>' in home
    assert BANNER_2027 in home
    assert 'href="/console/calendar?year=2027"' in home  # the banner links to the year
    response = client.post("/console/calendar/2027/confirm", data={"csrf_token": page_token(client)})
    assert response.status_code == 302
    confirmed = db_session.get(CalendarYear, 2027)
    assert confirmed is not None and confirmed.basis == YearBasis.RULE
    home = text_of(client.get("/console/"))
    assert "尚未确认" not in home
    assert '<a href="/console/calendar">工作日历</a>' in home


def test_no_banner_before_december(client, people):
    with time_machine.travel(NOV_20, tick=False):
        login(client, "cal_admin", "pw-a")
        home = text_of(client.get("/console/"))
    assert '<a href="/console/calendar">工作日历</a>' in home
    assert "工作日历尚未确认" not in home


def test_enterprise_admin_sees_neither_menu_entry_nor_banner(client, people, frozen):
    login(client, "cal_boss", "pw-e")
    home = text_of(client.get("/console/"))
    assert "/console/calendar" not in home and "工作日历" not in home


def test_bureau_staff_see_the_menu_entry_but_no_banner(client, people, frozen):
    login(client, "cal_staff", "pw-s")
    home = text_of(client.get("/console/"))
    assert '<a href="/console/calendar">工作日历</a>' in home
    assert "工作日历尚未确认" not in home


def test_banner_starts_on_1_december_in_shanghai_time(client, people):
    # 2026-11-30 16:30 UTC is already 1 December in Asia/Shanghai.
    with time_machine.travel(datetime(2026, 12, 1, 0, 30, tzinfo=SHANGHAI), tick=False):
        login(client, "cal_admin", "pw-a")
        assert BANNER_2027 in text_of(client.get("/console/"))
    with time_machine.travel(datetime(2026, 11, 30, 23, 30, tzinfo=SHANGHAI), tick=False):
        assert "工作日历尚未确认" not in text_of(client.get("/console/"))


def test_reopening_a_confirmed_year_brings_the_banner_back(client, db_session, people, frozen):
    login(client, "cal_admin", "pw-a")
    client.post("/console/calendar/2027/confirm", data={"csrf_token": page_token(client)})
    html = text_of(client.get("/console/calendar?year=2027"))
    assert "已确认（法定规则 + 区级调整）" in status_line(html) and "撤销确认" in html
    response = client.post("/console/calendar/2027/reopen", data={"csrf_token": csrf_from(html)})
    assert response.status_code == 302 and db_session.get(CalendarYear, 2027) is None
    html = text_of(client.get(response.headers["Location"]))
    assert BANNER_2027 in html and "恢复为待确认" in html
    assert "确认年度日历" in section(html, "变更记录") and "撤销确认" in section(html, "变更记录")


# --- 2. The year page -------------------------------------------------------------------------


def test_admin_year_page_of_a_provisional_year(client, people, frozen):
    login(client, "cal_admin", "pw-a")
    response = client.get("/console/calendar?year=2027")
    html = text_of(response)
    assert response.status_code == 200
    assert "2027 年工作日历" in html and "待确认" in status_line(html)
    special = section(html, "节假日与调休")
    assert "元旦" in special and "春节" in special and "（补假）" in special
    assert "2027-02-09" in special and "春节（补假）" in special  # 2027-02-06/07 fall on a weekend
    assert "保存调整" in html and "按当前显示确认 2027 年日历" in html


def test_default_year_is_the_one_to_confirm(client, people, frozen):
    login(client, "cal_admin", "pw-a")
    html = text_of(client.get("/console/calendar"))
    assert "<h1>2027 年工作日历</h1>" in html


def test_year_with_official_data(client, people, frozen):
    login(client, "cal_admin", "pw-a")
    response = client.get("/console/calendar?year=2026")
    html = text_of(response)
    assert response.status_code == 200 and "官方数据" in status_line(html)
    assert "按当前显示确认" not in html  # nothing to confirm for a published year


@pytest.mark.parametrize("year", ["abc", "1900", "-1", "2100"])
def test_bad_year_is_404(client, people, frozen, year):
    login(client, "cal_admin", "pw-a")
    assert client.get(f"/console/calendar?year={year}").status_code == 404


# str.isdigit() is True for "²" (which int() refuses) and for full-width digits.
@pytest.mark.parametrize("year", ["²", "２０２７"])
def test_year_that_is_not_an_ascii_number_is_404_not_500(client, people, frozen, year):
    login(client, "cal_admin", "pw-a")
    assert client.get(f"/console/calendar?year={year}").status_code == 404


def test_enterprise_user_gets_403_on_the_page(client, people, frozen):
    login(client, "cal_boss", "pw-e")
    assert client.get("/console/calendar?year=2027").status_code == 403
    assert client.get("/console/calendar").status_code == 403


def test_calendar_page_needs_login(client):
    response = client.get("/console/calendar")
    assert response.status_code == 302 and "/console/login" in response.headers["Location"]


def test_bureau_staff_view_but_cannot_change(app, client, db_session, people, frozen):
    login(client, "cal_staff", "pw-s")
    response = client.get("/console/calendar?year=2027")
    html = text_of(response)
    assert response.status_code == 200 and "待确认" in status_line(html)
    assert "保存调整" not in html and "确认导入" not in html and "按当前显示确认" not in html
    assert 'action="/console/calendar/days"' not in html and html.count('name="csrf_token"') == 1  # only 退出

    token = session_token(app, client)
    refused = client.post("/console/calendar/days", data=set_day_form(token))
    assert refused.status_code == 403
    assert client.post("/console/calendar/2027/confirm", data={"csrf_token": token}).status_code == 403
    upload = {"csrf_token": token, "year": "2027", "file": (_csv_file(GOOD_CSV), "2027.csv")}
    imported = client.post("/console/calendar/import", data=upload, content_type="multipart/form-data")
    assert imported.status_code == 403
    assert override_days(db_session) == set()
    assert count(db_session, CalendarYear) == 0 and count(db_session, CalendarEvent) == 0


def test_enterprise_user_cannot_change_even_with_a_valid_token(app, client, db_session, people, frozen):
    login(client, "cal_boss", "pw-e")
    token = session_token(app, client)
    assert client.post("/console/calendar/days", data=set_day_form(token)).status_code == 403
    assert client.post("/console/calendar/2027/confirm", data={"csrf_token": token}).status_code == 403
    assert override_days(db_session) == set() and count(db_session, CalendarYear) == 0


# --- 3. CSRF --------------------------------------------------------------------------------


def test_post_without_csrf_token_is_refused_and_writes_nothing(client, db_session, people, frozen):
    login(client, "cal_admin", "pw-a")
    response = client.post("/console/calendar/days", data=set_day_form(None))
    assert response.status_code == 400
    assert "表单令牌" in text_of(response)
    assert override_days(db_session) == set() and count(db_session, CalendarEvent) == 0
    forged = client.post("/console/calendar/days", data=set_day_form("not-a-real-token"))
    assert forged.status_code == 400 and "表单令牌" in text_of(forged)
    assert override_days(db_session) == set()
    unconfirmed = client.post("/console/calendar/2027/confirm")
    assert unconfirmed.status_code == 400 and db_session.get(CalendarYear, 2027) is None


def test_post_with_token_from_the_page_is_accepted(client, db_session, people, frozen):
    login(client, "cal_admin", "pw-a")
    response = client.post("/console/calendar/days", data=set_day_form(page_token(client)))
    assert response.status_code == 302
    assert response.headers["Location"] == "/console/calendar?year=2027"
    assert override_days(db_session) == {date(2027, 2, 20)}
    following = text_of(client.get(response.headers["Location"]))
    assert '<p class="notice">已将 2027-02-20 设为工作日。' in following
    assert "1 天改为工作日" in following
    # A flash message is shown once.
    assert '<p class="notice">' not in text_of(client.get("/console/calendar?year=2027"))


# --- 4. Setting and removing days ----------------------------------------------------------


def test_set_a_day_shows_it_in_overrides_and_log_then_remove_it(client, db_session, people, frozen):
    login(client, "cal_admin", "pw-a")
    token = page_token(client)
    response = client.post("/console/calendar/days", data=set_day_form(token))
    assert response.status_code == 302
    row = db_session.scalar(select(CalendarOverride).where(CalendarOverride.day == date(2027, 2, 20)))
    assert row.is_workday is True and row.name == "春节调休上班"
    assert row.updated_by_id == people["admin"].id

    html = text_of(client.get("/console/calendar?year=2027"))
    overrides = section(html, "区级调整")
    assert "区级调整（1）" in overrides
    assert "2027-02-20" in overrides and "春节调休上班" in overrides and "上班" in overrides
    assert 'action="/console/calendar/days/2027-02-20/remove"' in overrides
    log = section(html, "变更记录")
    assert "调整日期" in log and "2027-02-20 设为工作日（春节调休上班）" in log and "日历管理员" in log

    removed = client.post("/console/calendar/days/2027-02-20/remove", data={"csrf_token": token})
    assert removed.status_code == 302 and removed.headers["Location"] == "/console/calendar?year=2027"
    assert override_days(db_session) == set()
    html = text_of(client.get(removed.headers["Location"]))
    assert "已撤销 2027-02-20 的调整。" in html
    assert "本年度没有区级调整" in section(html, "区级调整")
    assert "撤销调整" in section(html, "变更记录")
    actions = list(db_session.scalars(select(CalendarEvent.action).order_by(CalendarEvent.id)))
    assert actions == [CalendarAction.SET, CalendarAction.REMOVE]


def test_a_past_rest_day_cannot_become_a_workday(client, db_session, people, frozen):
    login(client, "cal_admin", "pw-a")
    token = page_token(client)
    response = client.post(
        "/console/calendar/days", data=set_day_form(token, day=PAST_SATURDAY.isoformat(), name="补班")
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/console/calendar?year=2026"
    assert override_days(db_session) == set() and count(db_session, CalendarEvent) == 0
    html = text_of(client.get(response.headers["Location"]))
    assert "2026-11-28 已经过去，不能改为工作日" in html
    # Making a past day a rest day is allowed.
    rest = client.post(
        "/console/calendar/days", data=set_day_form(token, day="2026-11-27", kind="rest", name="区内停产")
    )
    assert rest.status_code == 302 and override_days(db_session) == {date(2026, 11, 27)}


def test_a_past_rest_day_override_cannot_be_removed(client, db_session, people, frozen):
    """Removing it would make a past Friday a working day again."""
    login(client, "cal_admin", "pw-a")
    token = page_token(client)
    client.post(
        "/console/calendar/days", data=set_day_form(token, day="2026-11-27", kind="rest", name="停产")
    )
    client.get("/console/calendar?year=2026")  # the flash of the change is shown
    response = client.post("/console/calendar/days/2026-11-27/remove", data={"csrf_token": token})
    assert response.status_code == 302
    assert "2026-11-27 已经过去，不能改为工作日" in text_of(client.get(response.headers["Location"]))
    assert override_days(db_session) == {date(2026, 11, 27)}


def test_remove_routes_reject_bad_days(client, db_session, people, frozen):
    login(client, "cal_admin", "pw-a")
    token = page_token(client)
    assert (
        client.post("/console/calendar/days/not-a-date/remove", data={"csrf_token": token}).status_code == 404
    )
    assert (
        client.post("/console/calendar/days/1900-01-01/remove", data={"csrf_token": token}).status_code == 404
    )
    # A day without an override: told so, nothing written.
    nothing = client.post("/console/calendar/days/2027-03-01/remove", data={"csrf_token": token})
    assert nothing.status_code == 302
    assert "没有区级调整" in text_of(client.get(nothing.headers["Location"]))
    assert count(db_session, CalendarEvent) == 0


# --- 5. Importing the arrangement ------------------------------------------------------------

GOOD_CSV = "date,workday,name\n2027-01-01,否,元旦\n2027-02-05,休息,春节\n2027-02-20,是,春节调休上班\n"
BAD_CSV = "date,workday,name\n2027-01-01,否,元旦\n2027-13-01,否,坏日期\n2027-01-02,maybe,元旦\n"


def _csv_file(text: str) -> io.BytesIO:
    return io.BytesIO(text.encode("utf-8"))


def test_import_previews_then_imports(client, db_session, people, frozen):
    login(client, "cal_admin", "pw-a")
    token = page_token(client)
    upload = {"csrf_token": token, "year": "2027", "file": (_csv_file(GOOD_CSV), "2027放假安排.csv")}
    preview = client.post("/console/calendar/import", data=upload, content_type="multipart/form-data")
    html = text_of(preview)
    assert preview.status_code == 200, html
    assert "导入预览" in html and "确认导入" in html and "新增 3 天" in html
    assert override_days(db_session) == set()
    assert count(db_session, CalendarYear) == 0 and count(db_session, CalendarEvent) == 0

    form = {
        "csrf_token": csrf_from(html),
        "confirm": hidden_value(html, "confirm"),
        "content": hidden_value(html, "content"),
        "filename": hidden_value(html, "filename"),
        "year": hidden_value(html, "year"),
    }
    assert form["confirm"] == "1" and form["filename"] == "2027放假安排.csv"
    done = client.post("/console/calendar/import", data=form)
    assert done.status_code == 302 and done.headers["Location"] == "/console/calendar?year=2027"
    assert override_days(db_session) == {date(2027, 1, 1), date(2027, 2, 5), date(2027, 2, 20)}
    year = db_session.get(CalendarYear, 2027)
    assert year is not None and year.basis == YearBasis.ARRANGEMENT
    page = text_of(client.get(done.headers["Location"]))
    assert "已导入 2027 年放假安排：新增 3 天" in page
    status = status_line(page)
    assert "已确认（已导入国务院放假安排）" in status and "日历管理员" in status and "待确认" not in status
    # The arrangement is the basis now: the rule's 补假 no longer applies.
    assert "（补假）" not in section(page, "节假日与调休")

    # The same file again changes nothing.
    again = client.post("/console/calendar/import", data={**form, "csrf_token": csrf_from(page)})
    assert again.status_code == 302
    assert "未变 3 天" in text_of(client.get(again.headers["Location"]))
    assert count(db_session, CalendarOverride) == 3


def test_malformed_file_lists_its_lines_and_imports_nothing(client, db_session, people, frozen):
    login(client, "cal_admin", "pw-a")
    upload = {"csrf_token": page_token(client), "year": "2027", "file": (_csv_file(BAD_CSV), "bad.csv")}
    response = client.post("/console/calendar/import", data=upload, content_type="multipart/form-data")
    html = text_of(response)
    assert response.status_code == 422
    assert "未导入任何内容" in html
    assert "第 3 行" in html and "第 4 行" in html and "第 2 行" not in html
    assert "确认导入" not in html
    assert override_days(db_session) == set() and count(db_session, CalendarYear) == 0


def test_import_without_csrf_token_is_refused(client, db_session, people, frozen):
    login(client, "cal_admin", "pw-a")
    upload = {"year": "2027", "file": (_csv_file(GOOD_CSV), "2027.csv")}
    response = client.post("/console/calendar/import", data=upload, content_type="multipart/form-data")
    assert response.status_code == 400 and "表单令牌" in text_of(response)
    assert override_days(db_session) == set()


# --- 6. The API -----------------------------------------------------------------------------


@pytest.fixture
def api(db_session, people):
    _, token = issue_api_token(db_session, people["admin"], DEC_4, "calendar-test")
    return {"Authorization": f"Bearer {token}"}


def _days(client, headers, first: str, last: str) -> dict[str, dict]:
    response = client.get(f"/api/v1/calendar?from={first}&to={last}", headers=headers)
    assert response.status_code == 200, response.get_json()
    return {d["date"]: d for d in response.get_json()["days"]}


def test_api_days_with_their_sources(client, api, frozen):
    days = _days(client, api, "2027-01-01", "2027-01-10")
    assert list(days) == [f"2027-01-{n:02d}" for n in range(1, 11)]
    assert set(days["2027-01-01"]) == {"date", "workday", "name", "source", "provisional", "note"}
    new_year = days["2027-01-01"]
    assert new_year["workday"] is False and new_year["name"] == "元旦"
    assert new_year["source"] == "statutory_rule" and new_year["provisional"] is True
    monday = days["2027-01-04"]
    assert monday["source"] == "weekday" and monday["workday"] is True and monday["name"] == ""
    assert days["2027-01-09"]["workday"] is False and days["2027-01-09"]["source"] == "weekday"

    official = _days(client, api, "2026-02-14", "2026-02-14")["2026-02-14"]  # a Saturday, 调休上班
    assert official["source"] == "official" and official["workday"] is True
    assert official["provisional"] is False and official["name"] == "春节调休上班"


def test_api_shows_an_override(client, db_session, build, people, api, frozen):
    service.set_day(
        db_session, build.actor(people["admin"]), DEC_4, date(2027, 1, 4), False, "区内停产", "检修"
    )
    day = _days(client, api, "2027-01-04", "2027-01-04")["2027-01-04"]
    assert day == {
        "date": "2027-01-04",
        "workday": False,
        "name": "区内停产",
        "source": "override",
        "provisional": False,
        "note": "检修",
    }


def test_api_shows_an_override_made_in_the_console(client, db_session, people, api, frozen):
    login(client, "cal_admin", "pw-a")
    client.post("/console/calendar/days", data=set_day_form(page_token(client), day="2027-01-09"))
    day = _days(client, api, "2027-01-09", "2027-01-09")["2027-01-09"]
    assert day["source"] == "override" and day["workday"] is True and day["name"] == "春节调休上班"


def test_api_confirmed_year_is_not_provisional(client, db_session, build, people, api, frozen):
    service.confirm_year(db_session, build.actor(people["admin"]), DEC_4, 2027)
    day = _days(client, api, "2027-01-01", "2027-01-01")["2027-01-01"]
    assert day["source"] == "statutory_rule" and day["provisional"] is False


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("to=2027-01-10", "from"),
        ("from=2027-01-01", "to"),
        ("from=2027-1-1&to=2027-01-10", "from"),
        ("from=2027-01-10&to=2027-01-01", "to"),
        ("from=2027-01-01&to=2029-01-02", "to"),  # 733 days
        ("from=1999-12-30&to=2000-01-02", "from"),  # before the calendar's years
        ("from=2099-12-30&to=2100-01-02", "to"),
    ],
)
def test_api_bad_ranges_are_422_with_fields(client, api, query, field):
    response = client.get(f"/api/v1/calendar?{query}", headers=api)
    assert response.status_code == 422
    assert field in response.get_json()["fields"]


def test_api_two_years_is_the_longest_range(client, api):
    days = _days(client, api, "2027-01-01", "2029-01-01")  # 732 days
    assert len(days) == 732


def test_api_needs_a_token(client):
    assert client.get("/api/v1/calendar?from=2027-01-01&to=2027-01-10").status_code == 401
    bad = client.get(
        "/api/v1/calendar?from=2027-01-01&to=2027-01-10", headers={"Authorization": "Bearer nope"}
    )
    assert bad.status_code == 401


def test_openapi_lists_the_calendar(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "/api/v1/calendar" in spec["paths"]
    operation = spec["paths"]["/api/v1/calendar"]["get"]
    assert {p["name"] for p in operation["parameters"] if p["in"] == "query"} == {"from", "to"}
