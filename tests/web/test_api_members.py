"""API v1 members and invites: paginated list, create, invite scene + QR URL; problem+json
errors; another enterprise's admin and a token of nobody are refused, nothing written."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.accounts.models import Invite, Membership, User
from app.accounts.service import issue_api_token
from tests.fixtures.builders import NOW


def bearer(db_session, user) -> dict:
    _, token = issue_api_token(db_session, user, NOW, "t")
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def api(build, db_session):
    enterprise = build.enterprise(name="接口企业")
    team = build.team(build.department(enterprise, name="车间"), name="一班")
    other = build.enterprise(name="别家企业")
    admin = build.member(enterprise, "enterprise_admin", user=build.user(display_name="管理员", wechat_bound_at=NOW))
    other_admin = build.member(other, "enterprise_admin")
    return {
        "enterprise": enterprise, "team": team, "other": other,
        "headers": bearer(db_session, admin), "other_headers": bearer(db_session, other_admin),
    }


def test_create_list_and_invite(client, db_session, api, redis):
    url = f"/api/v1/enterprises/{api['enterprise'].id}/members"
    created = client.post(url, json={"name": "王班长", "role": "team_leader", "phone": "13800000001", "team_id": api["team"].id}, headers=api["headers"])
    assert created.status_code == 201, created.get_json()
    member = created.get_json()
    assert member["name"] == "王班长" and member["role"] == "team_leader" and member["team_id"] == api["team"].id
    assert member["bound"] is False and member["openid"] is None and member["bound_at"] is None and member["active"]
    for n in range(3):
        client.post(url, json={"name": f"工人{n}", "role": "worker"}, headers=api["headers"])
    first = client.get(url, query_string={"per_page": 2}, headers=api["headers"]).get_json()
    assert (first["total"], first["page"], first["per_page"], len(first["items"])) == (5, 1, 2, 2)
    admin = first["items"][0]
    assert admin["bound"] is True and admin["openid"] and admin["bound_at"].startswith("2026-11-28T02:00")
    third = client.get(url, query_string={"page": 3, "per_page": 2}, headers=api["headers"]).get_json()
    assert [m["name"] for m in third["items"]] == ["工人2"]
    invite = client.post(f"/api/v1/members/{member['id']}/invites", headers=api["headers"])
    assert invite.status_code == 201, invite.get_json()
    body = invite.get_json()
    assert body["scene"].startswith("bind:") and body["qr_url"].startswith("http") and body["expires_at"].endswith(("Z", "+00:00"))
    token = db_session.scalar(select(Invite.token).where(Invite.membership_id == member["id"]))
    assert body["scene"] == f"bind:{token}"


def test_errors_are_problem_json_in_chinese_and_nothing_is_written(client, db_session, api):
    url = f"/api/v1/enterprises/{api['enterprise'].id}/members"
    before = db_session.scalar(select(func.count()).select_from(User))
    bad = client.post(url, json={"name": "李四", "role": "team_leader"}, headers=api["headers"])
    assert bad.status_code == 422 and bad.mimetype == "application/problem+json"
    problem = bad.get_json()
    assert problem["status"] == 422 and problem["title"] and "班组长须指定所在班组" in problem["detail"]
    assert problem["errors"] == {"team_id": "班组长须指定所在班组"}
    assert client.post(url, json=["x"], headers=api["headers"]).status_code == 422
    assert client.post(url, json={"name": "李四", "role": "boss"}, headers=api["headers"]).status_code == 422
    paging = client.get(url, query_string={"per_page": 101}, headers=api["headers"])
    assert paging.status_code == 422 and paging.get_json()["errors"] == {"per_page": "应为 1 到 100 之间的整数"}
    assert client.get(url, query_string={"page": "x"}, headers=api["headers"]).status_code == 422
    none = client.get(url)
    assert none.status_code == 401 and none.mimetype == "application/problem+json"
    assert db_session.scalar(select(func.count()).select_from(User)) == before


def test_another_enterprise_s_admin_is_refused(client, build, db_session, api):
    enterprise = api["enterprise"]
    worker = build.member(enterprise, "worker", user=build.user(openid=None))
    membership = db_session.scalar(select(Membership).where(Membership.user_id == worker.id))
    url = f"/api/v1/enterprises/{enterprise.id}/members"
    listed = client.get(url, headers=api["other_headers"])
    assert listed.status_code == 404 and listed.mimetype == "application/problem+json" and "无权查看" in listed.get_json()["detail"]
    added = client.post(url, json={"name": "外人", "role": "worker"}, headers=api["other_headers"])
    assert added.status_code == 404
    assert db_session.scalar(select(User).where(User.display_name == "外人")) is None
    invite = client.post(f"/api/v1/members/{membership.id}/invites", headers=api["other_headers"])
    assert invite.status_code == 404
    assert db_session.scalar(select(func.count()).select_from(Invite)) == 0
    assert client.get("/api/v1/enterprises/99999999999/members", headers=api["headers"]).status_code == 404
    assert client.post("/api/v1/members/99999999999/invites", headers=api["headers"]).status_code == 404


def test_the_routes_are_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert any(p.endswith("/members") and "post" in paths[p] and "get" in paths[p] for p in paths)
    assert any(p.endswith("/invites") for p in paths)
