"""Forms of the console and the phone pages are only taken from this site: a POST whose
Origin is another site is refused, and one without the session's token is refused; either
way nothing is written."""

from __future__ import annotations

import pytest

from app.accounts.domain import Role
from app.accounts.h5_login import SESSION_USER_ID
from app.notifications.models import NotificationPreference
from tests.fixtures.csrf import session_token

PREFERENCES = "/h5/me/notifications"
FORM = {"digest_only": "1", "quiet_start": "23", "quiet_end": "6"}


@pytest.fixture
def manager(build, client):
    user = build.member(build.enterprise(name="郑州恒达铸造有限公司"), Role.MANAGER)
    build.session.flush()
    with client.session_transaction() as session:
        session[SESSION_USER_ID] = user.id
    return user


def _stored(db_session, user):
    db_session.expire_all()
    return db_session.get(NotificationPreference, user.id)


def test_a_phone_form_from_another_site_is_refused(app, client, db_session, manager):
    token = session_token(app, client)
    foreign = client.post(PREFERENCES, data={**FORM, "csrf_token": token}, headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403 and "其他网站" in foreign.get_data(as_text=True)
    assert _stored(db_session, manager) is None


def test_a_phone_form_without_its_token_is_refused(client, db_session, manager):
    bare = client.post(PREFERENCES, data=FORM)
    assert bare.status_code == 400 and "表单令牌" in bare.get_data(as_text=True)
    assert _stored(db_session, manager) is None


def test_the_same_form_from_this_site_with_its_token_is_taken(app, client, db_session, manager):
    token = session_token(app, client)
    saved = client.post(PREFERENCES, data={**FORM, "csrf_token": token}, headers={"Origin": "http://localhost"})
    assert saved.status_code in (200, 302)
    assert _stored(db_session, manager).digest_only is True


def test_a_script_sends_the_token_as_a_header(app, client, manager):
    token = session_token(app, client)
    staged = client.post(
        "/h5/report/photos", data={}, headers={"X-CSRFToken": token, "Accept": "application/json"}
    )
    assert staged.status_code == 422  # past the token check: no photo in the request


def test_a_console_form_from_another_site_is_refused(client):
    refused = client.post("/console/login", data={"username": "x", "password": "y"}, headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403


# Forms that change state without a signed-in session to protect: the login form itself
# (a foreign page posting it is refused by the Origin check above; there is no session yet
# whose token it could carry).
NO_SESSION_FORMS = {"accounts.login"}


def test_every_console_and_phone_form_route_checks_its_token(app):
    """A sweep of the URL map: every POST/PUT/PATCH/DELETE route of the console and the phone
    pages runs behind `web.csrf_required` — a route added later without it fails here. (The
    API takes Bearer tokens, not cookies; the callback and the sandbox are not browser pages.)"""
    unprotected = []
    for rule in app.url_map.iter_rules():
        changes = set(rule.methods or ()) & {"POST", "PUT", "PATCH", "DELETE"}
        if not changes or not rule.rule.startswith(("/console/", "/h5/")) or rule.endpoint in NO_SESSION_FORMS:
            continue
        view = app.view_functions[rule.endpoint]
        while view is not None and not getattr(view, "csrf_protected", False):
            view = getattr(view, "__wrapped__", None)
        if view is None:
            unprotected.append(f"{rule.rule} ({rule.endpoint})")
    assert unprotected == []
