"""The console's door: password guessing is locked per account and per address, and 退出
ends the session — a copy of the cookie taken before stops working."""

from __future__ import annotations

import re

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from app.accounts import console as accounts_console
from app.accounts.domain import LOGIN_FAILURES_PER_ACCOUNT, LOGIN_FAILURES_PER_ADDRESS
from tests.fixtures.csrf import session_token


@pytest.fixture
def admin(build):
    enterprise = build.enterprise(name="甲机械有限公司")
    return build.member(enterprise, "enterprise_admin", user=build.user(username="a_admin", password="pw-a"))


def login(client, username: str, password: str, address: str = "10.0.0.1"):
    return client.post(
        "/console/login", data={"username": username, "password": password}, environ_base={"REMOTE_ADDR": address}
    )


def test_an_account_is_locked_after_five_wrong_passwords_and_says_until_when(client, admin):
    for _ in range(LOGIN_FAILURES_PER_ACCOUNT):
        assert login(client, "a_admin", "wrong").status_code == 401
    locked = login(client, "a_admin", "pw-a")
    page = locked.get_data(as_text=True)
    assert locked.status_code == 429 and "登录已暂时锁定" in page
    assert re.search(r"请在 \d\d:\d\d 后再试", page)
    # From another address the account stays locked: the lock is the account's.
    assert login(client, "a_admin", "pw-a", address="10.0.0.2").status_code == 429


def test_a_success_clears_the_accounts_count(client, admin):
    for _ in range(LOGIN_FAILURES_PER_ACCOUNT - 1):
        login(client, "a_admin", "wrong")
    assert login(client, "a_admin", "pw-a").status_code == 302
    for _ in range(LOGIN_FAILURES_PER_ACCOUNT - 1):
        login(client, "a_admin", "wrong")
    assert login(client, "a_admin", "pw-a").status_code == 302


def test_an_address_trying_many_accounts_is_locked(client, admin):
    for n in range(LOGIN_FAILURES_PER_ADDRESS):
        assert login(client, f"guess{n}", "wrong").status_code == 401
    assert login(client, "a_admin", "pw-a").status_code == 429
    assert login(client, "a_admin", "pw-a", address="10.0.0.9").status_code == 302


def test_login_works_without_redis(client, admin, monkeypatch):
    def unreachable():
        raise RedisConnectionError("down")

    monkeypatch.setattr(accounts_console, "redis_client", unreachable)
    assert login(client, "a_admin", "pw-a").status_code == 302


def test_logout_ends_the_session_and_every_copy_of_its_cookie(app, client, admin):
    assert login(client, "a_admin", "pw-a").status_code == 302
    copy = app.test_client()
    copy.set_cookie("session", client.get_cookie("session").value)
    assert copy.get("/console/").status_code in (200, 302)
    assert "/console/login" not in copy.get("/console/", follow_redirects=False).headers.get("Location", "")

    token = session_token(app, client)
    assert client.post("/console/logout", data={"csrf_token": token}).status_code == 302
    stolen = copy.get("/console/")
    assert stolen.status_code == 302 and "/console/login" in stolen.headers["Location"]
    # Logging in again works, with a new session.
    assert login(client, "a_admin", "pw-a").status_code == 302
    assert client.get("/console/").status_code in (200, 302)


def test_logout_without_its_token_is_refused(client, admin):
    login(client, "a_admin", "pw-a")
    assert client.post("/console/logout").status_code == 400
