"""REST API v1: bearer tokens, scoped reads, validated writes, OpenAPI document."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.accounts.service import issue_api_token
from app.enterprises.models import Enterprise
from tests.fixtures.builders import NOW, valid_uscc


@pytest.fixture
def bureau(build, db_session):
    town = build.town()
    user = build.bureau_user("bureau_admin")
    _, token = issue_api_token(db_session, user, NOW, "test")
    return {"town": town, "headers": {"Authorization": f"Bearer {token}"}}


def test_token_is_required(client):
    response = client.get("/api/v1/enterprises")
    assert response.status_code == 401
    assert "Authorization" in response.get_json()["message"]
    bad = client.get("/api/v1/enterprises", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401


def test_create_and_read(client, bureau):
    body = {
        "uscc": valid_uscc(),
        "name": "接口测试有限公司",
        "address": "测试路9号",
        "town_id": bureau["town"].id,
        "industry": "textile",
        "scale": "below",
    }
    created = client.post("/api/v1/enterprises", json=body, headers=bureau["headers"])
    assert created.status_code == 201, created.get_json()
    data = created.get_json()
    assert data["name"] == "接口测试有限公司" and data["topics"] == []
    got = client.get(f"/api/v1/enterprises/{data['id']}", headers=bureau["headers"])
    assert got.get_json()["uscc"] == body["uscc"]
    patched = client.patch(
        f"/api/v1/enterprises/{data['id']}", json={"confined_space": True}, headers=bureau["headers"]
    )
    assert patched.get_json()["topics"] == ["confined_space"]
    # Sites are the enterprise's own business, not the bureau's.
    refused = client.post(
        f"/api/v1/enterprises/{data['id']}/sites", json={"name": "污水池"}, headers=bureau["headers"]
    )
    assert refused.status_code == 403


def test_enterprise_admin_registers_sites(client, build, db_session):
    enterprise = build.enterprise()
    _, token = issue_api_token(db_session, build.member(enterprise, "enterprise_admin"), NOW, "t")
    headers = {"Authorization": f"Bearer {token}"}
    site = client.post(f"/api/v1/enterprises/{enterprise.id}/sites", json={"name": "污水池"}, headers=headers)
    assert site.status_code == 201 and site.get_json()["scene"] == f"site:{site.get_json()['token']}"
    listing = client.get(f"/api/v1/enterprises/{enterprise.id}/sites", headers=headers).get_json()
    assert [s["name"] for s in listing["items"]] == ["污水池"]


def test_bad_input_is_422_with_fields_and_nothing_stored(client, bureau, db_session):
    before = db_session.scalar(select(func.count()).select_from(Enterprise))
    response = client.post(
        "/api/v1/enterprises",
        json={"uscc": "91110000600037341X", "name": "x", "address": "y", "town_id": bureau["town"].id,
              "industry": "mining", "scale": "above", "employee_count": -3},
        headers=bureau["headers"],
    )
    assert response.status_code == 422
    body = response.get_json()
    assert set(body["fields"]) == {"uscc", "industry", "employee_count"}
    assert "统一社会信用代码" in body["message"]
    assert db_session.scalar(select(func.count()).select_from(Enterprise)) == before


def test_non_json_body_is_a_clear_422(client, bureau):
    response = client.post("/api/v1/enterprises", data="not json", headers=bureau["headers"])
    assert response.status_code == 422


def test_members_only_see_their_enterprise(client, build, db_session):
    mine, other = build.enterprise(), build.enterprise()
    user = build.member(mine, "manager")
    _, token = issue_api_token(db_session, user, NOW, "t")
    headers = {"Authorization": f"Bearer {token}"}
    listing = client.get("/api/v1/enterprises", headers=headers).get_json()
    assert [e["id"] for e in listing["items"]] == [mine.id]
    assert client.get(f"/api/v1/enterprises/{other.id}", headers=headers).status_code == 404


def test_openapi_document(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/enterprises" in spec["paths"]
    assert "post" in spec["paths"]["/api/v1/enterprises"]
