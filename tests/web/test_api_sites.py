"""API v1 of sites: paginated list with each QR scene, GET and PATCH one site (retire and
reactivate through `active`), problem+json errors, scope like the console."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.accounts.service import issue_api_token
from app.enterprises.models import Site
from tests.fixtures.builders import NOW


@pytest.fixture
def setup(build, db_session):
    enterprise = build.enterprise()
    department = build.department(enterprise, name="熔炼车间")
    site = build.site(enterprise, name="熔炼炉平台")
    other = build.enterprise()
    foreign_site = build.site(other, name="别家点位")
    _, token = issue_api_token(db_session, build.member(enterprise, "enterprise_admin"), NOW, "t")
    _, other_token = issue_api_token(db_session, build.member(other, "enterprise_admin"), NOW, "t")
    db_session.commit()
    return {
        "enterprise": enterprise, "department": department, "site": site, "other": other, "foreign_site": foreign_site,
        "headers": {"Authorization": f"Bearer {token}"}, "other_headers": {"Authorization": f"Bearer {other_token}"},
    }


def test_list_is_paginated_with_scenes(client, setup, build, db_session):
    for n in range(3):
        build.site(setup["enterprise"], name=f"点位{n}")
    db_session.commit()
    url = f"/api/v1/enterprises/{setup['enterprise'].id}/sites"
    first = client.get(url, query_string={"per_page": 3}, headers=setup["headers"]).get_json()
    assert first["total"] == 4 and first["page"] == 1 and first["per_page"] == 3 and len(first["items"]) == 3
    assert all(item["scene"] == f"site:{item['token']}" for item in first["items"])
    second = client.get(url, query_string={"per_page": 3, "page": 2}, headers=setup["headers"]).get_json()
    assert len(second["items"]) == 1
    bad = client.get(url, query_string={"per_page": 500}, headers=setup["headers"])
    assert bad.status_code == 422 and bad.mimetype == "application/problem+json"
    assert "per_page" in bad.get_json()["errors"]


def test_get_and_patch_a_site(client, setup, db_session):
    site, headers = setup["site"], setup["headers"]
    got = client.get(f"/api/v1/sites/{site.id}", headers=headers)
    assert got.status_code == 200 and got.get_json()["name"] == "熔炼炉平台" and got.get_json()["active"] is True
    patched = client.patch(
        f"/api/v1/sites/{site.id}", json={"name": "二层平台", "area": "一号厂房", "department_id": setup["department"].id},
        headers=headers,
    )
    assert patched.status_code == 200, patched.get_json()
    assert patched.get_json()["department_id"] == setup["department"].id and patched.get_json()["area"] == "一号厂房"
    retired = client.patch(f"/api/v1/sites/{site.id}", json={"active": False}, headers=headers)
    assert retired.get_json()["active"] is False
    again = client.patch(f"/api/v1/sites/{site.id}", json={"active": False}, headers=headers)
    assert again.status_code == 200  # already retired: nothing to do
    back = client.patch(f"/api/v1/sites/{site.id}", json={"active": True}, headers=headers)
    assert back.get_json()["active"] is True
    db_session.expire_all()
    assert site.name == "二层平台" and site.active


@pytest.mark.parametrize(
    ("body", "field"),
    [({"name": ""}, "name"), ({"name": None}, "name"), ({"area": "x" * 129}, "area"), ({"department_id": "x"}, "department_id"),
     ({"token": "mine"}, "token"), ({"active": "maybe"}, "active")],
)
def test_bad_patch_is_a_problem_and_nothing_changes(client, setup, db_session, body, field):
    site = setup["site"]
    response = client.patch(f"/api/v1/sites/{site.id}", json=body, headers=setup["headers"])
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["status"] == 422 and problem["title"] == "输入有误" and field in problem["errors"]
    db_session.expire_all()
    assert site.name == "熔炼炉平台" and site.active


def test_foreign_department_and_taken_name_are_refused(client, setup, build, db_session):
    build.site(setup["enterprise"], name="配电室")
    foreign = build.department(setup["other"])
    db_session.commit()
    site = setup["site"]
    taken = client.patch(f"/api/v1/sites/{site.id}", json={"name": "配电室"}, headers=setup["headers"])
    assert taken.status_code == 422 and "已有在用的同名点位" in taken.get_json()["errors"]["name"]
    moved = client.patch(f"/api/v1/sites/{site.id}", json={"department_id": foreign.id}, headers=setup["headers"])
    assert moved.status_code == 422 and "department_id" in moved.get_json()["errors"]


def test_scope_another_enterprise_is_refused_everywhere(client, setup, db_session):
    site, headers = setup["site"], setup["other_headers"]
    eid = setup["enterprise"].id
    for response in (
        client.get(f"/api/v1/sites/{site.id}", headers=headers),
        client.patch(f"/api/v1/sites/{site.id}", json={"active": False}, headers=headers),
        client.get(f"/api/v1/enterprises/{eid}/sites", headers=headers),
        client.post(f"/api/v1/enterprises/{eid}/sites", json={"name": "x"}, headers=headers),
    ):
        assert response.status_code == 404 and response.mimetype == "application/problem+json"
        assert response.get_json()["detail"]
    db_session.expire_all()
    assert site.active and db_session.scalar(select(func.count(Site.id)).where(Site.enterprise_id == eid)) == 1


def test_token_problems_and_documentation(client, setup):
    response = client.get(f"/api/v1/sites/{setup['site'].id}")
    assert response.status_code == 401 and response.mimetype == "application/problem+json"
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {"get", "patch"} <= set(paths["/api/v1/sites/{site_id}"])
    assert {"get", "post"} <= set(paths["/api/v1/enterprises/{enterprise_id}/sites"])
