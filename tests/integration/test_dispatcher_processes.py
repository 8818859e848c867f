"""Dispatchers as they run in production: several at once on PostgreSQL (each with its own
engine, on committed rows), the embedded default's background thread, and the command's
graceful stop on SIGTERM. Committed rows are deleted afterwards."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.accounts.models import User
from app.clock import utcnow
from app.extensions import Database, redis_client
from app.notifications.channels import SendQuota
from app.notifications.dispatcher import Dispatcher, start_background_dispatcher
from app.notifications.domain import CLAIM_LEASE, OutboxStatus
from app.notifications.models import OutboxMessage
from app.notifications.service import enqueue
from app.wechat.client import build_wechat_client
from config.settings import PROJECT_ROOT
from tests.fixtures.builders import NOW
from tests.fixtures.outbox import GENEROUS, committed, hazard_payload, sandbox_store, sent_to


def _users(own: Database, created: list[int], store, count: int, tag: str) -> list[User]:
    with own.new_session() as session:
        users = [
            User(display_name=f"并发{n}", openid=f"o-{tag}-{n:020d}", subscribed=True) for n in range(count)
        ]
        session.add_all(users)
        session.commit()
        created.extend(u.id for u in users)
        for user in users:
            store.create_user(openid=user.openid, nickname=user.display_name)
        return users


def _queue(own: Database, users: list[User], per_user: int, now, tag: str, **payload) -> list[int]:
    ids = []
    with own.new_session() as session:
        for user in users:
            for n in range(per_user):
                ids.append(
                    enqueue(session, kind="hazard_assigned", recipient_user_id=user.id,
                            payload=hazard_payload(**payload), dedupe_key=f"{tag}:{user.id}:{n}", now=now)
                )
        session.commit()
    return ids


def _dispatcher(app, own: Database, name: str, **options) -> Dispatcher:
    settings = app.config["SETTINGS"]
    return Dispatcher(
        session_factory=own.session_factory,
        client=build_wechat_client(app),  # a client of its own, as another process has
        redis=redis_client(),
        quota=SendQuota(settings.REDIS_URL or "memory://", GENEROUS, identity="processes-test"),
        base_url=settings.PUBLIC_BASE_URL,
        template_id=lambda kind: settings.wechat_template_id(kind.name, kind.family.value),
        name=name,
        **options,
    )


def _statuses(own: Database, ids: list[int]) -> dict[int, OutboxStatus]:
    with own.new_session() as session:
        return dict(session.execute(select(OutboxMessage.id, OutboxMessage.status).where(OutboxMessage.id.in_(ids))).all())


@pytest.mark.postgres_only
def test_two_dispatchers_on_one_database_never_send_a_row_twice(app, redis, database_url):
    store = sandbox_store(redis)
    store.set_config(latency_ms=3)  # keep sends in flight so that the two really overlap
    with committed(database_url) as (own, created):
        users = _users(own, created, store, 6, "pair")
        ids = _queue(own, users, 25, NOW, "pair")
        engines = [Database(), Database()]
        for engine in engines:
            engine.init(database_url)  # each dispatcher its own engine and connections
        dispatchers = [
            _dispatcher(app, engines[0], "A", batch_size=7, concurrency=3),
            _dispatcher(app, engines[1], "B", batch_size=7, concurrency=3),
        ]
        start = threading.Barrier(2)
        stats: dict[str, object] = {}
        errors: list[BaseException] = []

        def run(dispatcher: Dispatcher) -> None:
            try:
                start.wait(10)
                stats[dispatcher.name] = dispatcher.drain(clock=lambda: NOW)
            except BaseException as exc:
                errors.append(exc)
            finally:
                dispatcher.close()

        threads = [threading.Thread(target=run, args=(d,)) for d in dispatchers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        for engine in engines:
            engine.engine.dispose()
        assert not errors, errors
        assert set(_statuses(own, ids).values()) == {OutboxStatus.SENT}
        claimed = [stats[name].claimed for name in ("A", "B")]
        assert sum(claimed) == len(ids) and min(claimed) > 0, claimed
        client_ids = [body["client_msg_id"] for user in users for body in sent_to(store, user.openid)]
        assert len(client_ids) == len(ids) == len(set(client_ids)), "every row sent exactly once"
        assert set(client_ids) == {f"ancha-outbox-{i}" for i in ids}


@pytest.mark.postgres_only
def test_rows_another_dispatcher_is_claiming_are_skipped_not_waited_for(app, redis, database_url):
    store = sandbox_store(redis)
    with committed(database_url) as (own, created):
        users = _users(own, created, store, 1, "skip")
        ids = _queue(own, users, 6, NOW, "skip")
        locker = own.new_session()
        try:
            # Another dispatcher in the middle of its claim: the three oldest rows locked.
            locked = list(locker.scalars(
                select(OutboxMessage.id).where(OutboxMessage.id.in_(ids)).order_by(OutboxMessage.id).limit(3)
                .with_for_update()
            ))
            other = Database()
            other.init(database_url, connect_args={"options": "-c lock_timeout=3000"})
            dispatcher = _dispatcher(app, other, "C", batch_size=10, concurrency=1)
            stats = dispatcher.dispatch_batch(NOW)
            other.engine.dispose()
        finally:
            locker.rollback()
            locker.close()
        assert stats.claimed == 3 and stats.sent == 3
        statuses = _statuses(own, ids)
        assert {statuses[i] for i in locked} == {OutboxStatus.QUEUED}
        assert {statuses[i] for i in set(ids) - set(locked)} == {OutboxStatus.SENT}


def test_the_background_dispatcher_sends_and_stops(app, redis, database_url):
    store = sandbox_store(redis)
    with committed(database_url) as (own, created):
        users = _users(own, created, store, 1, "background")
        # A major hazard: whatever the hour, quiet hours do not hold it.
        ids = _queue(own, users, 2, utcnow(), "background", level="major")
        background = start_background_dispatcher(
            app,
            idle_interval=0.05,
            session_factory=own.session_factory,
            quota=SendQuota("memory://", GENEROUS),
            name="background-test",
            concurrency=1,
        )
        try:
            assert start_background_dispatcher(app) is background, "one per app"
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and set(_statuses(own, ids).values()) != {OutboxStatus.SENT}:
                time.sleep(0.05)
        finally:
            background.stop(15)
        assert not background.alive
        assert set(_statuses(own, ids).values()) == {OutboxStatus.SENT}
        assert len(sent_to(store, users[0].openid)) == 2


@pytest.mark.slow
def test_the_dispatch_command_stops_gracefully_on_sigterm(app, redis, database_url, settings_overrides):
    store = sandbox_store(redis)
    with committed(database_url) as (own, created):
        users = _users(own, created, store, 1, "sigterm")
        ids = _queue(own, users, 3, utcnow() - timedelta(seconds=1), "sigterm", level="major")
        env = {
            **os.environ,
            **{k: str(v) for k, v in settings_overrides.items()},
            "NOTIFY_CONCURRENCY": "1",
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "app", "notifications", "dispatch", "--interval", "0.1"],
            cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and set(_statuses(own, ids).values()) != {OutboxStatus.SENT}:
                assert process.poll() is None, process.communicate()
                time.sleep(0.1)
            process.send_signal(signal.SIGTERM)
            out, err = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
        assert process.returncode == 0, err
        assert "stopping after the current batch" in err
        assert json.loads(out.strip().splitlines()[-1])["sent"] == 3
        assert set(_statuses(own, ids).values()) == {OutboxStatus.SENT}


@pytest.mark.slow
def test_a_dispatcher_killed_mid_batch_loses_nothing_and_doubles_at_most_the_send_in_flight(
    app, redis, database_url, settings_overrides
):
    store = sandbox_store(redis)
    store.set_config(latency_ms=400)  # each send takes a while: the kill lands mid-batch
    with committed(database_url) as (own, created):
        users = _users(own, created, store, 1, "sigkill")
        ids = _queue(own, users, 6, utcnow() - timedelta(seconds=1), "sigkill", level="major")
        env = {
            **os.environ,
            **{k: str(v) for k, v in settings_overrides.items()},
            "NOTIFY_CONCURRENCY": "1",
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "app", "notifications", "dispatch", "--interval", "0.1"],
            cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and len(sent_to(store, users[0].openid)) < 2:
                assert process.poll() is None
                time.sleep(0.05)
        finally:
            process.kill()  # SIGKILL: no clean stop, no result recorded for the batch in hand
            process.wait()
        store.set_config(latency_ms=0)
        killed_at = utcnow()
        left = [i for i, status in _statuses(own, ids).items() if status is not OutboxStatus.SENT]
        assert left, "the kill landed before the batch was recorded"

        survivor = _dispatcher(app, own, "survivor")
        try:
            # The dead process's claims still protect its rows for the lease …
            assert survivor.dispatch_batch(killed_at).claimed == 0
            # … and no longer than that: a minute later everything goes out.
            while survivor.dispatch_batch(killed_at + CLAIM_LEASE).claimed:
                pass
        finally:
            survivor.close()
        assert set(_statuses(own, ids).values()) == {OutboxStatus.SENT}
        bodies = sent_to(store, users[0].openid)
        assert {b["client_msg_id"] for b in bodies} == {f"ancha-outbox-{i}" for i in ids}, "nothing lost"
        # One send at a time (NOTIFY_CONCURRENCY=1): at most the one in flight goes out twice
        # (and WeChat drops it by client_msg_id).
        assert len(bodies) <= len(ids) + 1
