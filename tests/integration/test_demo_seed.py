"""The demo seed creates a complete district, is idempotent, and describes itself as JSON."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from app.accounts.domain import Role
from app.accounts.models import BureauMembership, Membership, User
from app.demo.history import demo_enterprises
from app.demo.seed import demo_summary, seed_demo
from app.enterprises.models import Enterprise, Post, Site, Town
from app.enterprises.schemas import validate_uscc
from tests.conftest import TEST_SECRET
from tests.fixtures.builders import NOW


def counts(session):
    return {
        model.__name__: session.scalar(select(func.count()).select_from(model))
        for model in (Town, Enterprise, Site, Post, User, Membership, BureauMembership)
    }


def test_seed_is_complete_and_idempotent(app, db_session):
    created = seed_demo(db_session, NOW, TEST_SECRET)
    assert created > 100
    first = counts(db_session)
    assert seed_demo(db_session, NOW, TEST_SECRET) == 0
    assert counts(db_session) == first

    # The eight staffed enterprises; the ~150 others of the district: test_demo_district.py.
    enterprises = list(demo_enterprises(db_session).values())
    assert first["Town"] == 8 and len(enterprises) == 8
    assert len({e.industry for e in enterprises}) >= 5
    for topic in ("dust_explosion", "confined_space", "ammonia_refrigeration", "metallurgical_gas", "molten_metal"):
        assert any(getattr(e, topic) for e in enterprises), topic
    assert any(e.dust_key for e in enterprises)
    for e in enterprises:
        assert validate_uscc(e.uscc) == e.uscc
        assert e.sites and e.posts and e.departments
    roles = set(db_session.scalars(select(Membership.role)))
    assert roles == set(Role)


def test_summary_json_drives_the_demo(app, db_session):
    seed_demo(db_session, NOW, TEST_SECRET)
    summary = demo_summary(db_session, app.config["SETTINGS"])
    json.dumps(summary, ensure_ascii=False)  # serialisable
    assert {login["username"] for login in summary["console_logins"]} >= {"admin", "staff_changxing"}
    assert summary["api"]["token"].startswith("ac_")
    users = summary["virtual_users"]
    assert {u["role"] for u in users} == {r.value for r in Role}
    assert all(len(u["openid"]) == 28 for u in users)
    site = summary["sites"][0]
    assert site["scene"] == f"site:{site['token']}"
    assert site["qr_url"] == f"http://ancha.test/h5/scan/{site['token']}"


def test_demo_api_token_works(app, client):
    from app.extensions import db

    with db.new_session() as session:
        seed_demo(session, NOW, TEST_SECRET)
        session.commit()
        token = demo_summary(session, app.config["SETTINGS"])["api"]["token"]
    response = client.get("/api/v1/enterprises", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.get_json()["total"] >= 6


def test_every_console_login_has_an_api_token_that_works_and_survives_a_reseed(app, client):
    from app.extensions import db

    with db.new_session() as session:
        seed_demo(session, NOW, TEST_SECRET)
        session.commit()
        summary = demo_summary(session, app.config["SETTINGS"])
        seed_demo(session, NOW, TEST_SECRET)
        session.commit()
        again = demo_summary(session, app.config["SETTINGS"])
    logins = summary["console_logins"]
    assert {"admin", "hengda_admin"} <= {login["username"] for login in logins}
    assert [login["api_token"] for login in again["console_logins"]] == [login["api_token"] for login in logins]
    assert len({login["api_token"] for login in logins}) == len(logins)
    [admin] = [login for login in logins if login["username"] == "admin"]
    assert admin["api_token"] == summary["api"]["token"] == again["api"]["token"]
    for login in logins:
        response = client.get("/api/v1/enterprises", headers={"Authorization": f"Bearer {login['api_token']}"})
        assert response.status_code == 200, login["username"]
        total = response.get_json()["total"]
        # Scoped like the console user: an enterprise admin sees their own enterprise only.
        assert total == 1 if login["role"] == "enterprise_admin" else total >= 1


def test_seed_proposes_this_months_tips_once(app, db_session):
    from app.tips.models import TipBroadcast as Broadcast
    from app.tips.service import load_tip_library

    load_tip_library(db_session)
    seed_demo(db_session, NOW, TEST_SECRET)
    drafts = db_session.scalar(select(func.count()).select_from(Broadcast))
    assert drafts > 0  # November: 119 消防日, 入冬防冻, 冬季取暖防CO …
    seed_demo(db_session, NOW, TEST_SECRET)
    assert db_session.scalar(select(func.count()).select_from(Broadcast)) == drafts
