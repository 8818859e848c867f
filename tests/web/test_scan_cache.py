"""Scans answered from the process-local cache: no database on a repeat, and never a stale
answer after a commit that changed what the reply depends on (app/cache.py)."""

from __future__ import annotations

import itertools
import time

import pytest
from sqlalchemy import event, select, text, update

from app import cache
from app.accounts.domain import Role
from app.accounts.models import Membership, User
from app.enterprises.models import Site
from app.extensions import db
from app.wechat_inbound.handlers import ACCOUNT_DISABLED, NOT_BOUND
from tests.web.test_wechat_callback import message, post, reply_content

_create_times = itertools.count(int(time.time()) * 10)


@pytest.fixture
def scene(build, db_session):
    enterprise = build.enterprise()
    site = build.site(enterprise)
    worker = build.member(enterprise, Role.WORKER)
    db_session.commit()
    return enterprise, site, worker


@pytest.fixture
def statements(app):
    """The SQL statements the engine runs, collected while the test runs."""
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    yield seen
    event.remove(db.engine, "before_cursor_execute", record)


def scan(client, settings, openid: str, token: str) -> str:
    """A SCAN of `token` by `openid`, a new delivery each time (own CreateTime)."""
    body = message(openid, "event", Event="SCAN", EventKey=f"site:{token}", Ticket="t", CreateTime=str(next(_create_times)))
    return reply_content(post(client, settings, body))


def warm(client, settings, openid: str, token: str) -> str:
    # First delivery of a process: no generation known yet, read through; second: loads
    # and keeps; from the third on the cache answers.
    scan(client, settings, openid, token)
    return scan(client, settings, openid, token)


def test_a_repeated_scan_touches_no_database(client, settings, scene, statements):
    _, site, worker = scene
    assert "点此开始排查" in warm(client, settings, worker.openid, site.token)
    statements.clear()
    reply = scan(client, settings, worker.openid, site.token)
    assert f"/h5/scan/{site.token}" in reply and site.name in reply
    assert statements == []


def test_deactivating_the_user_is_seen_by_the_next_scan(client, settings, scene, db_session):
    _, site, worker = scene
    warm(client, settings, worker.openid, site.token)
    db_session.get(User, worker.id).is_active = False
    db_session.commit()
    assert scan(client, settings, worker.openid, site.token) == ACCOUNT_DISABLED


def test_ending_the_membership_is_seen_by_the_next_scan(client, settings, scene, db_session):
    _, site, worker = scene
    warm(client, settings, worker.openid, site.token)
    db_session.scalar(select(Membership).where(Membership.user_id == worker.id)).active = False
    db_session.commit()
    assert "不是该企业的在册人员" in scan(client, settings, worker.openid, site.token)


def test_retiring_the_site_is_seen_by_the_next_scan_even_through_a_bulk_update(client, settings, scene, db_session):
    _, site, worker = scene
    warm(client, settings, worker.openid, site.token)
    db_session.execute(update(Site).where(Site.id == site.id).values(active=False))
    db_session.commit()
    assert f"排查点位“{site.name}”已停用" in scan(client, settings, worker.openid, site.token)


def test_unbinding_is_seen_by_the_next_scan(client, settings, scene, db_session):
    _, site, worker = scene
    openid = worker.openid
    warm(client, settings, openid, site.token)
    db_session.get(User, worker.id).openid = None
    db_session.commit()
    assert scan(client, settings, openid, site.token) == NOT_BOUND


def test_changes_the_reply_does_not_depend_on_leave_the_generation(scene, db_session, redis):
    _, _, worker = scene
    before = redis.get(cache.GENERATION_KEY)
    db_session.get(User, worker.id).last_latitude = 34.75
    db_session.commit()
    assert redis.get(cache.GENERATION_KEY) == before
    db_session.get(User, worker.id).is_active = False
    db_session.flush()
    db_session.rollback()  # a watched change that never committed moves nothing either
    assert redis.get(cache.GENERATION_KEY) == before
    db_session.get(User, worker.id).is_active = False
    db_session.commit()
    assert redis.get(cache.GENERATION_KEY) != before


def test_a_generation_moved_by_another_process_is_caught_by_the_same_delivery(
    client, settings, scene, db_session, redis
):
    """Another process committed a change this one never saw (here: raw SQL, which no
    session event sees, then the generation moved by hand). The delivery first answers from
    its now-stale cache, the atomic offer refuses it, and it runs again on fresh rows."""
    _, site, worker = scene
    warm(client, settings, worker.openid, site.token)
    db_session.execute(text("UPDATE users SET is_active = false WHERE id = :id"), {"id": worker.id})
    db_session.commit()
    redis.set(cache.GENERATION_KEY, "moved-elsewhere")
    assert scan(client, settings, worker.openid, site.token) == ACCOUNT_DISABLED
    assert cache.seen_generation() == b"moved-elsewhere"
