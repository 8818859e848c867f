"""Nothing acknowledged is lost (issue 16 §1): a callback that meets PostgreSQL or Redis down
is spooled before it is answered, the user is told, and the replay does the work once the
stores are back — once, however often it is replayed or retried by WeChat."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select

from app.accounts.models import User
from app.extensions import db, redis_client
from app.notifications.models import OutboxMessage
from app.wechat_inbound.callback import BUSY_TEXT
from app.wechat_inbound.notices import DELAYED_REPLY
from app.wechat_inbound.replay import replay_spool
from tests.web.test_wechat_callback import message, query

pytestmark = pytest.mark.postgres_only

# WeChat waits 5 s for an answer; a spooled answer must come well inside it.
WECHAT_DEADLINE = 5.0


@pytest.fixture
def world(stores):
    """A follower who unfollowed earlier (bound, subscribed=False), clean Redis and spool."""
    stores.restore()
    with stores.app.app_context():
        redis_client().flushdb()
        openid = f"oFAULT{secrets.token_hex(8)}"
        with db.new_session() as session:
            session.add(User(display_name="老王", openid=openid, subscribed=False))
            session.commit()
    for leftover in stores.spool_dir.glob("**/*"):
        if leftover.is_file():
            leftover.unlink()
    yield openid
    stores.restore()
    with stores.app.app_context(), db.new_session() as session:
        session.execute(delete(OutboxMessage).where(OutboxMessage.recipient_openid.like("oFAULT%")))
        session.execute(delete(User).where(User.openid.like("oFAULT%")))
        session.commit()


def _follow(stores, openid: str, **signed: str):
    settings = stores.app.config["SETTINGS"]
    body = message(openid, "event", Event="subscribe")
    started = time.monotonic()
    response = stores.app.test_client().post(
        query(settings.wechat_token, **signed), data=body, content_type="text/xml"
    )
    return response, time.monotonic() - started, body


def _subscribed(stores, openid: str) -> bool:
    with stores.app.app_context(), db.new_session() as session:
        return session.scalar(select(User.subscribed).where(User.openid == openid))


def _delayed_replies(stores, openid: str) -> int:
    with stores.app.app_context(), db.new_session() as session:
        return session.scalar(
            select(func.count()).select_from(OutboxMessage).where(
                OutboxMessage.recipient_openid == openid, OutboxMessage.kind == DELAYED_REPLY
            )
        )


def _replay(stores):
    with stores.app.app_context():
        return replay_spool()


def _spooled(stores) -> list[Path]:
    return sorted(stores.spool_dir.glob("*.json"))


@pytest.mark.parametrize("store", ["redis", "postgres"])
def test_a_follow_meeting_a_store_outage_is_spooled_told_and_done_once_after(stores, world, store):
    getattr(stores, store).cut()
    response, took, _ = _follow(stores, world)
    assert response.status_code == 200
    assert BUSY_TEXT in response.get_data(as_text=True)
    assert took < WECHAT_DEADLINE
    assert len(_spooled(stores)) == 1

    stores.restore()
    assert not _subscribed(stores, world)  # nothing was written during the outage
    report = _replay(stores)
    assert (report.replayed, report.rejected, report.waiting) == (1, 0, 0)
    assert _subscribed(stores, world)
    assert _delayed_replies(stores, world) == 1
    assert _spooled(stores) == []

    # Replaying again does nothing more.
    assert _replay(stores).replayed == 0
    assert _delayed_replies(stores, world) == 1


def test_wechat_s_own_retry_after_the_replay_is_answered_once(stores, world):
    stores.redis.cut()
    timestamp, nonce = str(int(time.time())), f"n-{secrets.token_hex(6)}"
    settings = stores.app.config["SETTINGS"]
    body = message(world, "event", Event="subscribe")
    url = query(settings.wechat_token, timestamp=timestamp, nonce=nonce)
    client = stores.app.test_client()
    assert BUSY_TEXT in client.post(url, data=body, content_type="text/xml").get_data(as_text=True)
    stores.restore()
    assert _replay(stores).replayed == 1
    retry = client.post(url, data=body, content_type="text/xml")
    assert retry.status_code == 200 and BUSY_TEXT not in retry.get_data(as_text=True)
    assert _delayed_replies(stores, world) == 1


def test_a_replay_waits_while_the_stores_are_still_out(stores, world):
    stores.postgres.cut()
    _follow(stores, world)
    report = _replay(stores)
    assert (report.replayed, report.waiting) == (0, 1)
    assert len(_spooled(stores)) == 1
    stores.restore()
    assert _replay(stores).replayed == 1
    assert _subscribed(stores, world)


def test_a_captured_url_replayed_with_another_body_during_the_outage_is_rejected(stores, world):
    """The nonce check could not run while Redis was down; the replay runs it first."""
    with stores.app.app_context(), db.new_session() as session:
        victim = f"oFAULT{secrets.token_hex(8)}"
        session.add(User(display_name="小李", openid=victim, subscribed=False))
        session.commit()
    stores.redis.cut()
    timestamp, nonce = str(int(time.time())), f"n-{secrets.token_hex(6)}"
    _follow(stores, world, timestamp=timestamp, nonce=nonce)
    _follow(stores, victim, timestamp=timestamp, nonce=nonce)
    assert len(_spooled(stores)) == 2
    stores.restore()
    report = _replay(stores)
    assert (report.replayed, report.rejected) == (1, 1)
    assert _subscribed(stores, world) and not _subscribed(stores, victim)
    reasons = list((stores.spool_dir / "rejected").glob("*.reason"))
    assert len(reasons) == 1 and "another body" in reasons[0].read_text()


def test_nothing_is_acknowledged_when_the_spool_cannot_be_written_either(stores, world, monkeypatch):
    blocker = stores.spool_dir.parent / "not-a-directory"
    blocker.write_text("")
    settings = stores.app.config["SETTINGS"]
    monkeypatch.setitem(stores.app.config, "SETTINGS", settings.model_copy(update={"WECHAT_SPOOL_DIR": str(blocker / "spool")}))
    stores.postgres.cut()
    response, took, _ = _follow(stores, world)
    assert response.status_code == 503
    assert response.get_data(as_text=True) != "success"
    assert took < WECHAT_DEADLINE


def test_a_connection_lost_between_requests_is_an_outage_too(stores, world):
    """The pool holds a connection from an earlier delivery; the server then goes away."""
    other = f"oFAULT{secrets.token_hex(8)}"
    response, _, _ = _follow(stores, other)
    assert response.status_code == 200 and BUSY_TEXT not in response.get_data(as_text=True)
    stores.postgres.cut()
    response, took, _ = _follow(stores, world)
    assert BUSY_TEXT in response.get_data(as_text=True) and took < WECHAT_DEADLINE
    stores.restore()
    assert _replay(stores).replayed == 1 and _subscribed(stores, world)


def test_a_page_meeting_a_database_outage_says_so_with_a_503(stores, world):
    """(Redis down alone does not stop the console: the login throttle is skipped then.)"""
    client = stores.app.test_client()
    stores.postgres.cut()
    page = client.post("/console/login", data={"username": "nobody", "password": "x"})
    api = client.get("/api/v1/towns", headers={"Authorization": "Bearer t"})
    stores.restore()
    for response in (page, api):
        assert response.status_code == 503, response.get_data(as_text=True)[:300]
        assert response.headers["Retry-After"] == "30"
    assert "没有生效" in page.get_data(as_text=True)
    assert api.get_json()["title"] == "服务暂不可用"
