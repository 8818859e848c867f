"""The 一企一档 page: who may open it (the bureau in scope, the enterprise's principal, safety
officer and admin), its sections and links, and the ways in (enterprise list, tab bar)."""

from __future__ import annotations

from datetime import date

import pytest

from app.accounts.domain import Role
from app.ids import MAX_ID
from app.oversight.dossier import console as dossier_console
from app.oversight.dossier.domain import REFUSED
from tests.fixtures.builders import NOW


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    monkeypatch.setattr(dossier_console, "utcnow", lambda: NOW)


def login(client, user) -> None:
    with client.session_transaction() as session:
        session["user_id"] = user.id


def page_of(enterprise) -> str:
    return f"/console/enterprises/{enterprise.id}/dossier"


@pytest.fixture
def world(build):
    town, other_town = build.town(name="花园口镇"), build.town(name="古荥镇")
    e = build.enterprise(
        town, name="郑州花园口机械有限公司", standardization_level="level3",
        standardization_date=date(2023, 12, 20), dust_explosion=True, dust_worker_count=31,
        main_processes="下料、焊接、抛丸、喷涂",
    )
    other = build.enterprise(town, name="郑州另一家有限公司")
    dep = build.department(e, name="生产部")
    build.team(dep, name="焊接班")
    build.post(e, name="焊工", department_id=dep.id)
    build.site(e, name="抛丸间")
    return {
        "town": town, "other_town": other_town, "e": e, "other": other,
        "admin": build.member(e, Role.ENTERPRISE_ADMIN, user=build.user(display_name="企业管理员", openid=None)),
        "manager": build.member(e, Role.MANAGER),
        "officer": build.member(e, Role.SAFETY_OFFICER),
        "worker": build.member(e, Role.WORKER),
        "head": build.member(e, Role.DEPARTMENT_HEAD, department_id=dep.id),
        "other_admin": build.member(other, Role.ENTERPRISE_ADMIN),
        "bureau": build.bureau_user("bureau_admin"),
        "staff": build.bureau_user("bureau_staff", [town]),
        "far_staff": build.bureau_user("bureau_staff", [other_town]),
    }


@pytest.mark.parametrize("who", ["bureau", "staff", "admin", "manager", "officer"])
def test_page_opens_for_the_bureau_in_scope_and_the_enterprise_leads(client, world, who):
    login(client, world[who])
    response = client.get(page_of(world["e"]))
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page
    assert "一企一档 · 郑州花园口机械有限公司" in page
    for anchor in ("profile", "standardization", "organisation", "sites", "members", "checks", "hazards",
                   "enforcement", "tips", "timeline"):
        assert f'id="{anchor}"' in page and f'href="#{anchor}"' in page
    assert 'aria-current="page">企业档案</a>' in page  # the 企业档案 tab is the 一企一档 for them


def test_page_shows_the_file(client, world):
    login(client, world["bureau"])
    page = client.get(page_of(world["e"])).get_data(as_text=True)
    e = world["e"]
    assert e.uscc in page and "下料、焊接、抛丸、喷涂" in page and "重点整治（30人以上）" in page
    # Certified 2023-12-20: valid to 2026-12-19, 21 days left on 2026-11-28.
    assert "2026-12-19" in page and "即将到期" in page and "剩余 21 天" in page
    assert "焊工" in page and "焊接班" in page and "抛丸间" in page
    assert "企业管理员（企业管理员）" in page  # unbound
    assert f"/console/hazards?enterprise_id={e.id}&amp;overdue=1" in page
    assert "建立企业档案" in page and "取得安全生产标准化三级证书" in page


@pytest.mark.parametrize("who", ["other_admin", "far_staff"])
def test_outsiders_are_told_it_does_not_exist(client, world, who):
    login(client, world[who])
    response = client.get(page_of(world["e"]))
    assert response.status_code == 404
    assert "企业不存在或您无权查看" in response.get_data(as_text=True)


@pytest.mark.parametrize("who", ["worker", "head"])
def test_other_members_are_refused_and_told_whom_to_ask(client, world, who):
    login(client, world[who])
    response = client.get(page_of(world["e"]))
    assert response.status_code == 403
    assert REFUSED in response.get_data(as_text=True)
    # Their enterprise page has no dossier tab.
    assert "/dossier" not in client.get(f"/console/enterprises/{world['e'].id}").get_data(as_text=True)


def test_huge_and_unknown_ids_are_404(client, world):
    login(client, world["bureau"])
    assert client.get(f"/console/enterprises/{MAX_ID + 1}/dossier").status_code == 404
    assert client.get(f"/console/enterprises/{MAX_ID}/dossier").status_code == 404
    assert client.get("/console/enterprises/0/dossier").status_code == 404


def test_not_logged_in_goes_to_login(client, world):
    response = client.get(page_of(world["e"]))
    assert response.status_code in (302, 401)


def test_ways_in_from_the_list_and_the_tabs(client, world):
    login(client, world["bureau"])
    assert page_of(world["e"]) in client.get("/console/").get_data(as_text=True)
    detail = client.get(f"/console/enterprises/{world['e'].id}").get_data(as_text=True)
    assert f'href="{page_of(world["e"])}"' in detail
    login(client, world["admin"])
    dashboard = client.get(f"/console/enterprises/{world['e'].id}/dashboard").get_data(as_text=True)
    assert f'href="{page_of(world["e"])}"' in dashboard


def test_more_widens_the_timeline(client, world):
    login(client, world["bureau"])
    page = client.get(page_of(world["e"]) + "?timeline=abc").get_data(as_text=True)
    assert "时间线（最近" in page and "更多" not in page  # a handful of entries, no 更多
