"""Outbox use cases on a real database: the schema's statuses, delivery reports, giving up on
an unfollowed user, preferences, and what the daily digest counts for whom."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.exc import IntegrityError

from app.accounts.domain import Role
from app.accounts.models import User
from app.clock import LOCAL_TZ
from app.errors import ValidationFailed
from app.hazard_reporting.checklists import service as checklists
from app.hazard_reporting.checks import service as checks
from app.hazard_reporting.escalation.service import build_daily_digests
from app.hazard_reporting.hazards import service as hazards
from app.hazard_reporting.hazards.domain import HazardStatus
from app.hazard_reporting.schedules import service as schedules
from app.notifications.domain import Channel, OutboxStatus
from app.notifications.models import NotificationPreference, OutboxMessage
from app.notifications.service import (
    mark_unfollowed,
    record_template_result,
    save_preference,
)
from tests.fixtures.builders import NOW
from tests.fixtures.outbox import notice, row


def local(y, m, d, hh=10, mm=0, ss=0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, tzinfo=LOCAL_TZ).astimezone(UTC)


# --- schema ----------------------------------------------------------------------------------


def _raw_row(session, **values) -> None:
    base = {"kind": "hazard_assigned", "recipient_openid": "o-raw", "payload": {}, "dedupe_key": f"raw:{values}",
            "status": "queued", "urgent": False, "attempts": 0, "created_at": NOW}
    session.execute(insert(OutboxMessage).values(**{**base, **values}))


def test_the_schema_accepts_every_status_and_channel_and_refuses_others(db_session):
    for status in OutboxStatus:
        _raw_row(db_session, status=status.value)
    for channel in Channel:
        _raw_row(db_session, channel=channel.value)
    for status, channel in (("lost", None), ("queued", "sms")):
        savepoint = db_session.begin_nested()
        with pytest.raises(IntegrityError):
            # Plain SQL, past the ORM's enum validation: the database's CHECK must refuse it.
            db_session.execute(
                text(
                    "INSERT INTO outbox_messages (kind, recipient_openid, payload, dedupe_key, status, urgent,"
                    " attempts, created_at, channel) VALUES ('x', 'o', '{}', :key, :status, false, 0, :at, :channel)"
                ),
                {"key": f"bad:{status}:{channel}", "status": status, "at": NOW.replace(tzinfo=None), "channel": channel},
            )
        savepoint.rollback()


# --- delivery reports ------------------------------------------------------------------------


def test_a_delivery_report_only_touches_the_sent_row_with_its_msgid(db_session, build):
    user = build.user()
    sent, queued = notice(db_session, user, NOW), notice(db_session, user, NOW)
    message = row(db_session, sent)
    message.status, message.wx_msgid = OutboxStatus.SENT, 1_000_000_123
    db_session.flush()
    assert record_template_result(db_session, "999", "success", NOW) is False
    assert record_template_result(db_session, "not-a-number", "success", NOW) is False
    assert record_template_result(db_session, 1_000_000_123, "pending", NOW) is False
    assert row(db_session, sent).status is OutboxStatus.SENT
    assert record_template_result(db_session, " 1000000123 ", "success", NOW) is True
    assert row(db_session, sent).status is OutboxStatus.DELIVERED
    assert record_template_result(db_session, "1000000123", "failed:user block", NOW) is False
    assert row(db_session, sent).status is OutboxStatus.DELIVERED
    assert row(db_session, queued).status is OutboxStatus.QUEUED


def test_unfollowing_fails_the_queued_rows_but_not_those_in_flight(db_session, build):
    user, other = build.user(), build.user()
    waiting, in_flight, sent = (notice(db_session, user, NOW) for _ in range(3))
    others = notice(db_session, other, NOW)
    flight = row(db_session, in_flight)
    flight.claimed_by, flight.claimed_until = "another", NOW + timedelta(minutes=5)
    db_session.flush()  # before `row` expires the session
    row(db_session, sent).status = OutboxStatus.SENT
    db_session.flush()
    assert mark_unfollowed(db_session, NOW, user_id=user.id, openid=user.openid) == 1
    assert db_session.get(User, user.id).subscribed is False
    assert row(db_session, waiting).status is OutboxStatus.FAILED
    assert row(db_session, waiting).last_errcode == 43004 and row(db_session, waiting).finished_at == NOW
    assert row(db_session, in_flight).status is OutboxStatus.QUEUED
    assert row(db_session, sent).status is OutboxStatus.SENT
    assert row(db_session, others).status is OutboxStatus.QUEUED
    assert db_session.get(User, other.id).subscribed is True


# --- preferences -----------------------------------------------------------------------------


def test_preferences_default_to_quiet_nights_and_can_drop_them(db_session, build):
    manager = build.user()
    actor = build.actor(manager)
    saved = save_preference(db_session, actor, NOW, {"digest_only": True})
    assert (saved.digest_only, saved.quiet_start, saved.quiet_end) == (True, time(22), time(7))
    saved = save_preference(db_session, actor, NOW, {"quiet_start": None, "quiet_end": None})
    db_session.expire_all()
    stored = db_session.get(NotificationPreference, manager.id)
    assert (stored.digest_only, stored.quiet_start, stored.quiet_end) == (False, None, None)
    assert db_session.scalar(select(NotificationPreference).where(NotificationPreference.user_id == manager.id))


@pytest.mark.parametrize(
    ("data", "field"),
    [({"quiet_start": "22:00", "quiet_end": None}, "body"), ({"digest_only": "maybe"}, "digest_only"),
     ({"volume": 3}, "volume")],
)
def test_bad_preferences_are_refused(db_session, build, data, field):
    with pytest.raises(ValidationFailed) as refused:
        save_preference(db_session, build.actor(build.user()), NOW, data)
    assert field in refused.value.fields


# --- daily digests ---------------------------------------------------------------------------

MONDAY = local(2026, 11, 23)
AFTER_GRACE = local(2026, 11, 23, 19, 0, 1)  # the daily checks' grace has just ended
TUESDAY = local(2026, 11, 24)


@pytest.fixture
def plant(db_session, build):
    """An enterprise with one team (one daily check), its digest-only manager and a worker,
    and another enterprise with its own overdue check and open hazard."""
    checklists.load_standard_checklists(db_session, MONDAY)
    enterprise, elsewhere = build.enterprise(), build.enterprise()
    for company in (enterprise, elsewhere):
        department = build.department(company)
        build.team(department)
        schedules.ensure_default_schedules(db_session, MONDAY, company.id)
    schedules.generate_tasks(db_session, MONDAY)
    manager = build.member(enterprise, Role.MANAGER)
    worker = build.member(enterprise, Role.WORKER)
    outsider = build.member(elsewhere, Role.WORKER)
    db_session.add(NotificationPreference(user_id=manager.id, digest_only=True, updated_at=MONDAY))
    db_session.flush()
    return enterprise, elsewhere, manager, worker, outsider


def _report(db_session, build, who, enterprise, now):
    return hazards.report_hazard(db_session, build.actor(who), now, {
        "enterprise_id": enterprise.id, "category": "unsafe_condition", "description": "安全出口堵塞",
        "location": "二号车间"})


def _digests(db_session) -> dict[int, OutboxMessage]:
    found = db_session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "daily_digest"))
    return {message.recipient_user_id: message for message in found}


def test_the_digest_counts_what_its_reader_may_see(db_session, build, plant):
    enterprise, elsewhere, manager, worker, outsider = plant
    swept = checks.sweep_overdue(db_session, AFTER_GRACE)
    ours = [task for task in swept if task.enterprise_id == enterprise.id]
    assert ours and len(ours) < len(swept), "both enterprises have a missed check"
    first, second, closed = (_report(db_session, build, worker, enterprise, MONDAY) for _ in range(3))
    closed.status = HazardStatus.CLOSED
    _report(db_session, build, outsider, elsewhere, MONDAY)
    folded = notice(db_session, manager, MONDAY)
    message = row(db_session, folded)
    message.status, message.finished_at = OutboxStatus.DIGESTED, MONDAY
    db_session.flush()

    assert build_daily_digests(db_session, AFTER_GRACE) == 1
    digest = _digests(db_session)[manager.id]
    assert digest.dedupe_key == f"digest:{manager.id}:2026-11-23"
    assert digest.payload == {"date": "2026-11-23", "overdue_checks": len(ours), "open_hazards": 2,
                              "overdue_hazards": 0, "folded_notices": 1}
    assert build_daily_digests(db_session, AFTER_GRACE + timedelta(hours=1)) == 0

    # The next day: the general hazards are past their same-day deadline; yesterday's missed
    # checks and folded notices are a day old and no longer counted.
    assert build_daily_digests(db_session, TUESDAY + timedelta(hours=10)) == 1
    tuesday = db_session.scalar(
        select(OutboxMessage).where(OutboxMessage.dedupe_key == f"digest:{manager.id}:2026-11-24")
    )
    assert tuesday.payload["open_hazards"] == tuesday.payload["overdue_hazards"] == 2
    assert tuesday.payload["folded_notices"] == 0
    assert {first.status, second.status} == {HazardStatus.REPORTED}


def test_no_digest_for_nothing_to_report_nor_for_those_who_cannot_receive_it(db_session, build, plant):
    enterprise, _elsewhere, manager, _worker, _outsider = plant
    assert build_daily_digests(db_session, MONDAY) == 0, "nothing overdue, nothing open yet"
    quiet = build.member(enterprise, Role.MANAGER, user=build.user(subscribed=False))
    db_session.add(NotificationPreference(user_id=quiet.id, digest_only=True, updated_at=MONDAY))
    db_session.flush()
    checks.sweep_overdue(db_session, AFTER_GRACE)
    assert build_daily_digests(db_session, AFTER_GRACE) == 1
    assert set(_digests(db_session)) == {manager.id}


def test_a_bureau_reader_sees_the_whole_district(db_session, build, plant):
    _enterprise, _elsewhere, _manager, worker, outsider = plant
    bureau = build.bureau_user("bureau_admin")
    db_session.add(NotificationPreference(user_id=bureau.id, digest_only=True, updated_at=MONDAY))
    db_session.flush()
    _report(db_session, build, worker, plant[0], MONDAY)
    _report(db_session, build, outsider, plant[1], MONDAY)
    build_daily_digests(db_session, local(2026, 11, 23, 12))
    assert _digests(db_session)[bureau.id].payload["open_hazards"] == 2
    assert date.fromisoformat(_digests(db_session)[bureau.id].payload["date"]) == date(2026, 11, 23)
