"""The district dashboard (辖区概况) over HTTP: who may open it, the month picker, the lists
behind the numbers, and one set of numbers on the page, in the Excel export and in the API."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook

from app.accounts.queries import load_actor
from app.accounts.service import issue_api_token
from app.oversight.stats import console as stats_console
from app.oversight.stats import queries
from app.oversight.stats import service as stats_service
from app.oversight.stats.domain import Figure, Month
from tests.fixtures.checks import MONDAY, CheckOrg, local

NOW = MONDAY + timedelta(days=2)
NOVEMBER = Month(2026, 11)


@pytest.fixture
def district(build, db_session, monkeypatch):
    monkeypatch.setattr(stats_console, "utcnow", lambda: NOW)
    import app.api.stats as stats_api

    monkeypatch.setattr(stats_api, "utcnow", lambda: NOW)
    from app.hazard_reporting.checklists import service as checklists
    from app.hazard_reporting.schedules import service as schedules

    checklists.load_standard_checklists(db_session, local(2026, 11, 1))
    a, b = build.town(name="长兴路街道"), build.town(name="花园口镇")
    org = CheckOrg(build, town=a, standardization_level="level3", standardization_date=date(2025, 3, 1))
    org.generate(local(2026, 11, 2, 6))
    schedules.generate_tasks(db_session, NOW)
    build.enterprise(a, standardization_level="level3", standardization_date=date(2023, 1, 1))
    build.enterprise(b)
    stats_service.refresh_rollups(db_session, NOW)
    admin = build.user(username="stats-admin")
    build.bureau_user("bureau_admin", user=admin)
    staff = build.bureau_user("bureau_staff", towns=[b])
    return {"a": a, "b": b, "org": org, "admin": admin, "staff": staff}


def login(client, user) -> None:
    with client.session_transaction() as session:
        session["user_id"] = user.id


def text(response) -> str:
    return response.get_data(as_text=True)


def test_the_bureau_admin_sees_every_town_and_the_charts(client, district):
    login(client, district["admin"])
    page = text(client.get("/console/oversight/dashboard"))
    assert "辖区概况 · 2026年11月" in page
    assert "长兴路街道" in page and "花园口镇" in page
    assert 'id="chart-std"' in page and "echarts.min.js" in page
    assert "/console/oversight/lists/lapsed?month=2026-11&amp;town=" in page
    assert 'href="/console/oversight/dashboard"' in page  # the menu entry


def test_a_staff_member_sees_their_towns_only(client, district):
    login(client, district["staff"])
    page = text(client.get("/console/oversight/dashboard"))
    assert "花园口镇" in page and "长兴路街道" not in page
    assert client.get(f"/console/oversight/dashboard?town={district['a'].id}").status_code == 404
    assert client.get(f"/console/oversight/lists/above_scale?town={district['a'].id}").status_code == 404


def test_enterprise_users_are_refused(client, district):
    login(client, district["org"].manager)
    assert client.get("/console/oversight/dashboard").status_code == 403
    assert client.get("/console/oversight/lists/checks_missed").status_code == 403
    assert client.get("/console/oversight/dashboard.xlsx").status_code == 403
    page = text(client.get(f"/console/enterprises/{district['org'].enterprise.id}/dashboard"))
    assert "辖区概况" not in page  # no menu entry


@pytest.mark.parametrize("month", ["2026-13", "2026-1", "11-2026", "abc", "2027-01", "1999-12"])
def test_a_bad_month_is_refused_with_a_message(client, district, month):
    login(client, district["admin"])
    response = client.get(f"/console/oversight/dashboard?month={month}")
    assert response.status_code == 422
    assert "月份" in text(response)


def test_bad_list_arguments(client, district):
    login(client, district["admin"])
    assert client.get("/console/oversight/lists/nothing").status_code == 422
    assert client.get("/console/oversight/lists/checks_due?level=hourly").status_code == 422
    assert client.get("/console/oversight/lists/checks_due?page=0").status_code == 422
    assert client.get("/console/oversight/dashboard?town=99999999999").status_code == 404


def test_a_town_number_opens_its_list(client, district):
    login(client, district["admin"])
    page = text(client.get(f"/console/oversight/dashboard?month=2026-11&town={district['a'].id}"))
    link = re.search(r'href="(/console/oversight/lists/lapsed\?[^"]+)"', page).group(1).replace("&amp;", "&")
    listing = text(client.get(link))
    assert "标准化证书已过期" in listing and "共 <b class=\"figure-total\">1</b> 家企业" in listing
    assert "/console/enterprises/" in listing


def _api(client, db_session, user, path):
    _, token = issue_api_token(db_session, user, NOW, "stats")
    return client.get(path, headers={"Authorization": f"Bearer {token}"})


def test_api_errors_are_problem_json(client, db_session, district):
    response = _api(client, db_session, district["admin"], "/api/v1/stats/checks?month=2026-13")
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert "月份" in response.get_json()["detail"]
    refused = _api(client, db_session, district["org"].manager, "/api/v1/stats/standardization")
    assert refused.status_code == 403 and refused.mimetype == "application/problem+json"
    assert client.get("/api/v1/stats/checks").status_code == 401
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "/api/v1/stats/standardization" in spec["paths"] and "/api/v1/stats/checks" in spec["paths"]


def test_page_export_and_api_show_the_same_numbers(client, db_session, district):
    login(client, district["admin"])
    page = text(client.get("/console/oversight/dashboard?month=2026-11"))
    export = client.get("/console/oversight/dashboard.xlsx?month=2026-11")
    assert export.status_code == 200
    sheet = load_workbook(io.BytesIO(export.data)).active
    header = [c.value for c in sheet[2]]
    rows = {r[0]: dict(zip(header, r, strict=True)) for r in sheet.iter_rows(min_row=3, values_only=True)}
    std = _api(client, db_session, district["admin"], "/api/v1/stats/standardization?month=2026-11").get_json()
    checks = _api(client, db_session, district["admin"], "/api/v1/stats/checks?month=2026-11").get_json()
    assert set(rows) == {"长兴路街道", "花园口镇", "合计"}
    api_std = {r["town"]: r for r in [*std["towns"], std["total"]]}
    api_checks = {r["town"]: r for r in [*checks["towns"], checks["total"]]}
    for town, row in rows.items():
        s, c = api_std[town], api_checks[town]
        assert row["规上企业"] == s["above_scale"]
        assert row["规上达标（证书有效）"] == s["standardized"]
        assert row["达标率%"] == s["rate"]
        assert row["扣分"] == s["deduction"]
        assert row["证书已过期"] == s["lapsed"]
        assert row["应排查任务"] == c["total"]["due"]
        assert row["漏检"] == c["total"]["missed"]
        assert row["按时完成率%"] == c["total"]["on_time_rate"]
        assert row["日排查按时率%"] == c["levels"]["daily"]["on_time_rate"]
    total = rows["合计"]
    assert total["应排查任务"] > 0 and total["规上企业"] == 3 and total["证书已过期"] == 1
    # The page shows the same numbers as links to their lists.
    for figure, key in ((Figure.CHECKS_DUE, "应排查任务"), (Figure.CHECKS_MISSED, "漏检"), (Figure.LAPSED, "证书已过期")):
        assert re.search(
            rf'lists/{figure.value}\?month=2026-11">{total[key]}</a>', page
        ), figure
    board = queries.dashboard(db_session, load_actor(db_session, district["admin"]), NOVEMBER, NOW)
    assert board.total.checks_total.due == total["应排查任务"]


def test_export_cells_are_excel_safe(client, db_session, build, district):
    district["b"].name = "=花园口镇"
    db_session.flush()
    login(client, district["admin"])
    sheet = load_workbook(io.BytesIO(client.get("/console/oversight/dashboard.xlsx").data)).active
    assert "'=花园口镇" in [r[0] for r in sheet.iter_rows(min_row=3, values_only=True)]
