"""GET /metrics: the operator's figures in Prometheus text, read from the stores at scrape
time and counted by the process; closed in production unless a token is set; still
answering (with `ancha_store_up 0`) when a store is down. And the proxy hops that make the
login lock count real client addresses behind nginx."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from app import create_app
from app.accounts.domain import LOGIN_FAILURES_PER_ADDRESS
from app.clock import utcnow
from app.hazard_reporting.checks.domain import is_task_overdue
from app.hazard_reporting.checks.models import CheckTask
from app.hazard_reporting.hazards.domain import HazardCategory, HazardLevel, HazardSource, HazardStatus
from app.hazard_reporting.hazards.models import Hazard
from app.notifications.domain import OutboxStatus
from app.scheduling.runner import HEARTBEAT_KEY, LeaseTimings, SchedulerRunner
from tests.fixtures.checks import MONDAY, CheckOrg
from tests.fixtures.outbox import notice, row
from tests.web.test_console_login_security import admin, login  # noqa: F401 (fixture)
from tests.web.test_healthz import restore_extensions  # noqa: F401 (fixture)
from tests.web.test_wechat_callback import message, post


def scrape(client, **headers) -> dict[tuple[str, tuple], float]:
    """Every sample of /metrics as {(name, sorted labels): value}."""
    answer = client.get("/metrics", headers=headers)
    assert answer.status_code == 200, answer.data
    assert answer.mimetype == "text/plain"
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.get_data(as_text=True))
        for sample in family.samples
    }


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_the_outbox_backlog_and_its_oldest_wait_are_reported(client, db_session, build):
    before = scrape(client)
    user = build.member(build.enterprise(), "manager")
    now = utcnow()
    waiting = notice(db_session, user, now - timedelta(minutes=7))
    row(db_session, waiting).next_attempt_at = now - timedelta(minutes=7)
    later = notice(db_session, user, now)
    row(db_session, later).next_attempt_at = now + timedelta(hours=1)  # not due yet: no backlog
    dead = notice(db_session, user, now)
    row(db_session, dead).status = OutboxStatus.DEAD
    db_session.flush()

    after = scrape(client)
    assert value(after, "ancha_outbox_due") - value(before, "ancha_outbox_due") == 1
    assert value(after, "ancha_outbox_oldest_due_age_seconds") >= 7 * 60
    assert value(after, "ancha_outbox_messages", status="queued") - value(before, "ancha_outbox_messages", status="queued") == 2
    assert value(after, "ancha_outbox_messages", status="dead") - value(before, "ancha_outbox_messages", status="dead") == 1
    assert value(after, "ancha_store_up", store="database") == 1 and value(after, "ancha_store_up", store="redis") == 1


def test_overdue_tasks_and_hazards_are_counted_by_their_rules(client, db_session, build):
    before = scrape(client)
    from app.hazard_reporting.checklists import service as checklists

    checklists.load_standard_checklists(db_session, MONDAY)
    org = CheckOrg(build)
    org.generate(MONDAY)  # last month's tasks, never done: overdue now
    now = utcnow()
    tasks = db_session.scalars(select(CheckTask).where(CheckTask.enterprise_id == org.enterprise.id)).all()
    owed = sum(is_task_overdue(task.status, task.due_at, now) for task in tasks)
    assert owed > 0
    reporter = build.member(org.enterprise, "worker")
    for status, deadline in (
        (HazardStatus.ASSIGNED, now - timedelta(hours=1)),  # overdue
        (HazardStatus.ASSIGNED, now + timedelta(hours=1)),  # not yet
        (HazardStatus.CLOSED, now - timedelta(days=1)),  # closed: never overdue
    ):
        db_session.add(
            Hazard(
                enterprise_id=org.enterprise.id,
                source=HazardSource.ADHOC,
                level=HazardLevel.GENERAL,
                category=HazardCategory.UNSAFE_CONDITION,
                description="测试隐患",
                reporter_id=reporter.id,
                deadline=deadline,
                status=status,
                created_at=now - timedelta(days=2),
                updated_at=now - timedelta(days=2),
            )
        )
    db_session.flush()

    after = scrape(client)
    assert value(after, "ancha_check_tasks_overdue") - value(before, "ancha_check_tasks_overdue") == owed
    assert value(after, "ancha_hazards_overdue") - value(before, "ancha_hazards_overdue") == 1


def test_callbacks_are_timed_and_failed_logins_counted(client, settings, admin):  # noqa: F811
    before = scrape(client)
    assert post(client, settings, message("oMETRICS00000000000000000000", "text", Content="帮助")).status_code == 200
    assert post(client, settings, "<xml><broken>").status_code == 400
    assert login(client, "a_admin", "wrong").status_code == 401
    after = scrape(client)

    def grew(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("ancha_callback_seconds_count", status="200") == 1
    assert grew("ancha_callback_seconds_count", status="400") == 1
    assert grew("ancha_callback_seconds_bucket", status="200", le="5.0") == 1
    assert grew("ancha_login_failures_total", reason="password") == 1


def test_a_locked_login_is_counted_apart(client, admin):  # noqa: F811
    for _ in range(LOGIN_FAILURES_PER_ADDRESS):
        login(client, f"nobody-{_}", "wrong", address="10.9.9.9")
    before = scrape(client)
    assert login(client, "a_admin", "pw-a", address="10.9.9.9").status_code == 429
    assert value(scrape(client), "ancha_login_failures_total", reason="locked") - value(
        before, "ancha_login_failures_total", reason="locked"
    ) == 1


def test_the_scheduler_heartbeat_is_its_age(app, client, redis):
    redis.delete(HEARTBEAT_KEY)
    assert value(scrape(client), "ancha_scheduler_heartbeat_age_seconds") == float("inf")
    runner = SchedulerRunner(app, jobs=[], client=redis, timings=LeaseTimings(ttl=2.0, heartbeat=0.2, poll=0.1), key="ancha:test:metrics-lease")
    runner.start()
    try:
        assert runner.wait_active(5)
        assert value(scrape(client), "ancha_scheduler_heartbeat_age_seconds") < 2
    finally:
        runner.stop()
        redis.delete(HEARTBEAT_KEY)


def test_a_token_closes_the_door(app, client, monkeypatch):
    configured = app.config["SETTINGS"].model_copy(update={"METRICS_TOKEN": "s3cret-scrape"})
    monkeypatch.setitem(app.config, "SETTINGS", configured)
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert value(scrape(client, Authorization="Bearer s3cret-scrape"), "ancha_store_up", store="redis") == 1


def test_production_without_a_token_has_no_metrics(app, client, monkeypatch):
    configured = app.config["SETTINGS"].model_copy(update={"ANCHA_ENV": "production"})
    monkeypatch.setitem(app.config, "SETTINGS", configured)
    assert client.get("/metrics").status_code == 404


def test_a_database_outage_still_answers_and_says_so(client, monkeypatch):
    def unreachable(*args, **kwargs):
        raise OperationalError("SELECT", {}, Exception("connection refused"))

    monkeypatch.setattr(Session, "execute", unreachable)
    samples = scrape(client)
    assert value(samples, "ancha_store_up", store="database") == 0
    assert ("ancha_outbox_due", ()) not in samples  # no made-up zero for what could not be read
    assert value(samples, "ancha_store_up", store="redis") == 1


@pytest.mark.postgres_only
def test_behind_one_proxy_the_login_lock_counts_the_real_client(settings_overrides, restore_extensions):  # noqa: F811
    client = create_app({**settings_overrides, "PROXY_HOPS": 1}).test_client()

    attempts = iter(range(1000))

    def through_nginx(address: str):
        return client.post(
            "/console/login",
            data={"username": f"guess-{next(attempts)}", "password": "wrong"},
            environ_base={"REMOTE_ADDR": "127.0.0.1"},
            headers={"X-Forwarded-For": address},
        )

    for _ in range(LOGIN_FAILURES_PER_ADDRESS):
        assert through_nginx("203.0.113.7").status_code == 401
    assert through_nginx("203.0.113.7").status_code == 429  # that client is locked …
    assert through_nginx("198.51.100.20").status_code == 401  # … not everybody behind nginx
