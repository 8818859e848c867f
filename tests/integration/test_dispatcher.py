"""The dispatcher against the sandbox's fake WeChat API (in-process) on a real database:
sends, retries through outages, permanent refusals, quotas, crashes, quiet hours, digests,
customer-service messages and delivery reports. Time is passed in; nothing sleeps."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.accounts.models import User
from app.hazard_reporting.escalation.service import build_daily_digests
from app.notifications import channels
from app.notifications.channels import SendQuota, note_interaction
from app.notifications.dispatcher import Dispatcher
from app.notifications.domain import CLAIM_HEARTBEAT, CLAIM_LEASE, MAX_ATTEMPTS, Channel, OutboxStatus
from app.notifications.models import NotificationPreference, OutboxMessage
from app.notifications.service import enqueue
from app.wechat import records
from app.wechat.parsing import parse_inbound
from app.wechat_inbound.handlers import router
from app.wechat_inbound.router import HandlerContext
from config.settings import sandbox_template_id
from tests.fixtures.builders import NOW
from tests.fixtures.outbox import (
    follow,
    hazard_payload,
    make_dispatcher,
    notice,
    row,
    sandbox_store,
    sent_to,
)

TEMPLATE_SEND = "cgi-bin/message/template/send"
CUSTOM_SEND = "cgi-bin/message/custom/send"


@pytest.fixture
def store(redis):
    return sandbox_store(redis)


@pytest.fixture
def worker(build, store) -> User:
    return follow(store, build.user(display_name="王班长"))


@pytest.fixture
def dispatcher(app, db_session):
    dispatcher = make_dispatcher(app)
    yield dispatcher
    dispatcher.close()


def drain_over(dispatcher: Dispatcher, start: datetime, step: timedelta, rounds: int) -> datetime:
    """Dispatch everything due at start, start + step, …; the time of the last round."""
    now = start
    for _ in range(rounds):
        while dispatcher.dispatch_batch(now).claimed:
            pass
        now += step
    return now - step


# --- sending ---------------------------------------------------------------------------------


def test_a_notice_goes_out_once_as_a_template_message(dispatcher, db_session, store, worker):
    row_id = notice(db_session, worker, NOW)
    stats = dispatcher.dispatch_batch(NOW)
    assert (stats.claimed, stats.sent) == (1, 1)
    message = row(db_session, row_id)
    assert message.status is OutboxStatus.SENT and message.channel is Channel.TEMPLATE
    assert message.attempts == 1 and message.sent_at == NOW and message.wx_msgid is not None
    assert message.claimed_by is None and message.claimed_until is None
    [body] = sent_to(store, worker.openid, "template")
    assert body["template_id"] == sandbox_template_id("hazard_assigned")
    assert body["url"] == "http://ancha.test/h5/hazards/42"
    assert body["client_msg_id"] == f"ancha-outbox-{row_id}"
    assert body["msgid"] == message.wx_msgid
    assert body["data"]["thing3"] == {"value": "冲压车间三号线防护罩缺失"}
    # Nothing is due any more: a second run sends nothing.
    assert dispatcher.dispatch_batch(NOW + timedelta(hours=1)).claimed == 0
    assert len(sent_to(store, worker.openid)) == 1


def test_several_sends_in_flight_at_once(app, db_session, store, build):
    users = [follow(store, build.user()) for _ in range(3)]
    ids = [notice(db_session, user, NOW) for user in users for _ in range(4)]
    dispatcher = make_dispatcher(app, concurrency=4, batch_size=5)
    try:
        while dispatcher.dispatch_batch(NOW).claimed:
            pass
    finally:
        dispatcher.close()
    assert {row(db_session, i).status for i in ids} == {OutboxStatus.SENT}
    assert sorted(len(sent_to(store, u.openid)) for u in users) == [4, 4, 4]


def test_wechat_down_for_a_while_every_message_arrives_once_it_recovers(dispatcher, db_session, store, build):
    users = [follow(store, build.user()) for _ in range(2)]
    ids = [notice(db_session, user, NOW) for user in users for _ in range(3)]
    store.add_fault(path=TEMPLATE_SEND, status=503, count=4)
    store.add_fault(path=TEMPLATE_SEND, errcode=-1, count=3)
    first = dispatcher.dispatch_batch(NOW)
    assert (first.claimed, first.sent, first.retried) == (6, 0, 6)
    failed = row(db_session, ids[0])
    assert failed.status is OutboxStatus.QUEUED and failed.attempts == 1 and failed.last_errcode is None
    assert "503" in failed.last_error and failed.next_attempt_at > NOW
    drain_over(dispatcher, NOW + timedelta(minutes=1), timedelta(minutes=10), rounds=12)
    assert {row(db_session, i).status for i in ids} == {OutboxStatus.SENT}
    assert not store.faults()
    for user, user_ids in ((users[0], ids[:3]), (users[1], ids[3:])):
        client_ids = [body["client_msg_id"] for body in sent_to(store, user.openid)]
        assert sorted(client_ids) == sorted(f"ancha-outbox-{i}" for i in user_ids), "each exactly once"
    assert max(row(db_session, i).attempts for i in ids) >= 2


def test_retries_back_off_and_end_dead(dispatcher, db_session, store, worker):
    row_id = notice(db_session, worker, NOW)
    store.add_fault(path=TEMPLATE_SEND, errcode=-1, count=None)
    now, waits = NOW, []
    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert dispatcher.dispatch_batch(now).claimed == 1
        message = row(db_session, row_id)
        assert message.attempts == attempt
        if attempt < MAX_ATTEMPTS:
            assert message.status is OutboxStatus.QUEUED and message.last_errcode == -1
            assert dispatcher.dispatch_batch(message.next_attempt_at - timedelta(seconds=1)).claimed == 0
            waits.append(message.next_attempt_at - now)
            now = message.next_attempt_at
    message = row(db_session, row_id)
    assert message.status is OutboxStatus.DEAD and message.finished_at == now
    assert waits == sorted(waits) and waits[0] < timedelta(minutes=1) and waits[-1] <= timedelta(hours=1)
    assert sent_to(store, worker.openid) == []


# --- permanent refusals ----------------------------------------------------------------------


def test_an_unfollowed_user_gets_no_further_attempts(dispatcher, db_session, store, build):
    user = follow(store, build.user(), subscribed=False)  # WeChat answers 43004
    ids = [notice(db_session, user, NOW) for _ in range(3)]
    dispatcher.batch_size = 1
    stats = dispatcher.dispatch_batch(NOW)
    assert stats.failed == 1
    first = row(db_session, ids[0])
    assert first.status is OutboxStatus.FAILED and first.last_errcode == 43004 and first.attempts == 1
    assert db_session.get(User, user.id).subscribed is False
    for other in ids[1:]:
        message = row(db_session, other)
        assert message.status is OutboxStatus.FAILED and message.attempts == 0
        assert "取消关注" in message.last_error
    # Later notices to them are dropped without a call to WeChat.
    later = notice(db_session, user, NOW + timedelta(minutes=5))
    store.add_fault(path=TEMPLATE_SEND, errcode=40037, count=None)  # would show up if called
    assert dispatcher.dispatch_batch(NOW + timedelta(minutes=5)).failed == 1
    message = row(db_session, later)
    assert message.status is OutboxStatus.FAILED and message.attempts == 0 and message.last_errcode is None
    assert "未关注" in message.last_error
    assert channels.alert_counts(store.redis) == {}


def test_an_invalid_openid_fails_that_message_only(dispatcher, db_session, store, build):
    stranger = follow(store, build.user())
    row_id = notice(db_session, stranger, NOW)
    store.add_fault(path=TEMPLATE_SEND, errcode=40003, count=1)  # an openid of another account
    dispatcher.dispatch_batch(NOW)
    message = row(db_session, row_id)
    assert message.status is OutboxStatus.FAILED and message.last_errcode == 40003
    assert db_session.get(User, stranger.id).subscribed is True


def test_bad_template_data_fails_and_alerts_the_operator(dispatcher, db_session, store, worker, caplog):
    row_id = notice(db_session, worker, NOW)
    store.add_fault(path=TEMPLATE_SEND, errcode=47003, count=1)
    with caplog.at_level(logging.ERROR, logger="app.notifications.channels"):
        dispatcher.dispatch_batch(NOW)
    message = row(db_session, row_id)
    assert message.status is OutboxStatus.FAILED and message.last_errcode == 47003
    [alert] = channels.recent_alerts(store.redis)
    assert alert["reason"] == "bad_request" and alert["message_id"] == row_id and alert["errcode"] == 47003
    assert channels.alert_counts(store.redis) == {"bad_request": 1}
    assert any("bad_request" in record.getMessage() for record in caplog.records)


def test_a_kind_without_template_fails_and_alerts(app, db_session, store, worker):
    dispatcher = make_dispatcher(app, template_id=lambda kind: None)
    row_id = notice(db_session, worker, NOW)
    dispatcher.dispatch_batch(NOW)
    message = row(db_session, row_id)
    assert message.status is OutboxStatus.FAILED and "WECHAT_TEMPLATE_HAZARD_ASSIGNED" in message.last_error
    assert channels.alert_counts(store.redis) == {"template_not_configured": 1}
    assert sent_to(store, worker.openid) == []


# --- quotas ----------------------------------------------------------------------------------


def test_a_daily_quota_answer_pauses_the_channel_without_using_an_attempt(dispatcher, db_session, store, build):
    users = [follow(store, build.user()) for _ in range(2)]
    # Major hazards, so that the quiet hours around midnight do not hold them as well.
    first, second = (notice(db_session, user, NOW, level="major") for user in users)
    dispatcher.batch_size = 1
    store.add_fault(path=TEMPLATE_SEND, errcode=45009, count=1)
    dispatcher.dispatch_batch(NOW)
    midnight = datetime(2026, 11, 28, 16, 0, tzinfo=UTC)  # 00:00 on the 29th in Beijing
    message = row(db_session, first)
    assert message.status is OutboxStatus.QUEUED and message.attempts == 0 and message.last_errcode == 45009
    assert midnight <= message.next_attempt_at <= midnight + timedelta(seconds=5)
    # Every dispatcher now leaves the channel alone until then; nothing else is sent.
    dispatcher.dispatch_batch(NOW + timedelta(minutes=1))
    waiting = row(db_session, second)
    assert waiting.status is OutboxStatus.QUEUED and waiting.attempts == 0 and waiting.next_attempt_at >= midnight
    assert sent_to(store, users[1].openid) == []
    drain_over(dispatcher, midnight + timedelta(seconds=6), timedelta(minutes=1), rounds=1)
    assert {row(db_session, i).status for i in (first, second)} == {OutboxStatus.SENT}


def test_the_account_quota_is_shared_and_holds_back_what_exceeds_it(app, db_session, store, worker, redis):
    uri = app.config["SETTINGS"].REDIS_URL or "memory://"
    quota = SendQuota(uri, {Channel.TEMPLATE: "2/minute"}, identity="quota-test")
    quota.reset()
    ids = [notice(db_session, worker, NOW) for _ in range(3)]
    stats = make_dispatcher(app, quota=quota).dispatch_batch(NOW)
    assert (stats.sent, stats.deferred) == (2, 1)
    held_back = row(db_session, ids[2])
    assert held_back.status is OutboxStatus.QUEUED and held_back.attempts == 0
    assert held_back.next_attempt_at > NOW
    if uri != "memory://":
        # A second dispatcher (another process) counts against the same Redis window.
        other = SendQuota(uri, {Channel.TEMPLATE: "2/minute"}, identity="quota-test")
        assert other.acquire(Channel.TEMPLATE) is not None
    quota.reset()


# --- crashes ---------------------------------------------------------------------------------


def test_a_crash_between_send_and_record_resends_once_and_shows_it(app, db_session, store, worker, monkeypatch):
    row_id = notice(db_session, worker, NOW)
    crashing = make_dispatcher(app, name="crashing")

    def crash(*_args, **_kwargs):
        raise RuntimeError("killed between send and record")

    monkeypatch.setattr(crashing, "_record", crash)
    with pytest.raises(RuntimeError):
        crashing.dispatch_batch(NOW)
    assert len(sent_to(store, worker.openid)) == 1
    claimed = row(db_session, row_id)
    assert claimed.status is OutboxStatus.QUEUED and claimed.claimed_by == "crashing"
    assert claimed.claimed_until == claimed.next_attempt_at == NOW + CLAIM_LEASE
    survivor = make_dispatcher(app, name="survivor")
    # While the lease runs, nobody else touches the row.
    assert survivor.dispatch_batch(NOW + CLAIM_LEASE - timedelta(seconds=1)).claimed == 0
    stats = survivor.dispatch_batch(NOW + CLAIM_LEASE)
    assert (stats.sent, stats.possible_duplicates) == (1, 1)
    message = row(db_session, row_id)
    assert message.status is OutboxStatus.SENT and message.attempts == 2
    assert "crashing" in message.last_error and "重复" in message.last_error
    bodies = sent_to(store, worker.openid)
    assert len(bodies) == 2, "at most one duplicate"
    assert {body["client_msg_id"] for body in bodies} == {f"ancha-outbox-{row_id}"}, "WeChat can drop it"
    assert channels.alert_counts(store.redis) == {"possible_duplicate": 1}
    assert survivor.dispatch_batch(NOW + CLAIM_LEASE * 3).claimed == 0
    assert len(sent_to(store, worker.openid)) == 2


def test_a_crashed_dispatchers_rows_wait_a_minute_not_the_slowest_batch_imaginable():
    # A live dispatcher renews its claims (below), so the lease only has to cover a crash.
    assert CLAIM_LEASE <= timedelta(minutes=1) and CLAIM_HEARTBEAT * 3 <= CLAIM_LEASE


def test_a_slow_batch_renews_its_claims_and_keeps_every_row(app, db_session, store, worker, monkeypatch):
    ids = [notice(db_session, worker, NOW) for _ in range(4)]
    clock = [0.0]
    slow = make_dispatcher(app, name="slow", timer=lambda: clock[0])
    quick = make_dispatcher(app, name="quick")
    send, claimed_by_quick = slow._send, []

    def taking_forty_seconds(job):
        # Four sends of 40 s: the batch runs 160 s, far past one 60 s lease. Meanwhile another
        # dispatcher looks for due rows at every step and must find none of the batch.
        clock[0] += 40
        claimed_by_quick.append(quick.dispatch_batch(NOW + timedelta(seconds=clock[0])).claimed)
        return send(job)

    monkeypatch.setattr(slow, "_send", taking_forty_seconds)
    stats = slow.dispatch_batch(NOW)
    assert claimed_by_quick == [0, 0, 0, 0]
    assert (stats.sent, stats.lost_claims, stats.claim_renewals) == (4, 0, 4)
    assert [row(db_session, i).status for i in ids] == [OutboxStatus.SENT] * 4
    assert len(sent_to(store, worker.openid)) == 4, "each once"


def test_a_send_stuck_on_the_pool_still_lets_the_claims_be_renewed(app, db_session, store, worker, monkeypatch):
    import time

    notice(db_session, worker, NOW)
    notice(db_session, worker, NOW)
    pooled = make_dispatcher(
        app, concurrency=2, heartbeat=timedelta(milliseconds=40), lease=timedelta(milliseconds=200)
    )
    send = pooled._send

    def stuck(job):
        time.sleep(0.4)  # a send hanging on the network; the batch thread must keep renewing
        return send(job)

    monkeypatch.setattr(pooled, "_send", stuck)
    stats = pooled.dispatch_batch(NOW)
    pooled.close()
    assert stats.sent == 2 and stats.claim_renewals >= 4


def test_a_result_recorded_after_the_lease_ran_out_yields_to_the_newer_claim(app, db_session, store, worker,
                                                                             monkeypatch):
    row_id = notice(db_session, worker, NOW)
    slow, quick = make_dispatcher(app, name="slow"), make_dispatcher(app, name="quick")
    send = slow._send

    def stalled(job):
        outcome = send(job)
        # While "slow" hung after sending, its lease ran out and "quick" took the row over.
        assert quick.dispatch_batch(NOW + CLAIM_LEASE).sent == 1
        return outcome

    monkeypatch.setattr(slow, "_send", stalled)
    stats = slow.dispatch_batch(NOW)
    assert (stats.sent, stats.lost_claims) == (1, 1)
    message = row(db_session, row_id)
    bodies = sent_to(store, worker.openid)
    assert message.status is OutboxStatus.SENT and message.attempts == 2
    assert message.wx_msgid == bodies[-1]["msgid"], "the newer claim's result stands"
    assert "slow" in message.last_error and len(bodies) == 2


def test_a_failure_before_any_send_gives_the_rows_back_at_once(app, db_session, store, worker):
    import redis as redis_lib

    class BrokenQuota:
        def acquire(self, channel, count=1):
            raise redis_lib.ConnectionError("redis is down")

    row_id = notice(db_session, worker, NOW)
    with pytest.raises(redis_lib.ConnectionError):
        make_dispatcher(app, quota=BrokenQuota()).dispatch_batch(NOW)
    message = row(db_session, row_id)
    assert message.status is OutboxStatus.QUEUED and message.attempts == 0
    assert message.claimed_by is None and message.next_attempt_at == NOW
    assert sent_to(store, worker.openid) == []
    stats = make_dispatcher(app).dispatch_batch(NOW)
    assert (stats.sent, stats.possible_duplicates) == (1, 0)


def test_wechat_refusing_a_repeated_client_msg_id_counts_as_sent(dispatcher, db_session, store, worker):
    row_id = notice(db_session, worker, NOW)
    store.add_fault(path=TEMPLATE_SEND, errcode=45065, count=1)
    dispatcher.dispatch_batch(NOW)
    message = row(db_session, row_id)
    assert message.status is OutboxStatus.SENT and message.wx_msgid is None and "45065" in message.last_error


# --- quiet hours and digests -----------------------------------------------------------------

NIGHT = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)  # 23:00 in Beijing
MORNING = datetime(2026, 11, 28, 23, 0, tzinfo=UTC)  # 07:00 on the 29th


def test_quiet_hours_hold_ordinary_notices_and_release_them_after(dispatcher, db_session, store, worker):
    ordinary = notice(db_session, worker, NIGHT)
    major = notice(db_session, worker, NIGHT, kind="hazard_assigned", level="major")
    stats = dispatcher.dispatch_batch(NIGHT)
    assert (stats.held, stats.sent) == (1, 1)
    assert row(db_session, major).status is OutboxStatus.SENT, "a major hazard is never held"
    held = row(db_session, ordinary)
    assert held.status is OutboxStatus.QUEUED and held.attempts == 0
    assert held.hold_until == held.next_attempt_at == MORNING
    assert dispatcher.dispatch_batch(MORNING - timedelta(minutes=1)).claimed == 0
    assert dispatcher.dispatch_batch(MORNING).sent == 1
    assert row(db_session, ordinary).status is OutboxStatus.SENT
    assert len(sent_to(store, worker.openid)) == 2


def test_own_quiet_hours_and_none(dispatcher, db_session, store, build):
    from datetime import time

    owl = follow(store, build.user())
    db_session.add(NotificationPreference(user_id=owl.id, quiet_start=None, quiet_end=None, updated_at=NOW))
    lunch = follow(store, build.user())
    db_session.add(NotificationPreference(user_id=lunch.id, quiet_start=time(12), quiet_end=time(14), updated_at=NOW))
    db_session.flush()
    at_night = notice(db_session, owl, NIGHT)
    at_noon = notice(db_session, lunch, NIGHT)
    dispatcher.dispatch_batch(NIGHT)
    assert row(db_session, at_night).status is OutboxStatus.SENT
    assert row(db_session, at_noon).status is OutboxStatus.SENT
    noon = datetime(2026, 11, 29, 5, 0, tzinfo=UTC)  # 13:00 in Beijing
    later = notice(db_session, lunch, noon)
    dispatcher.dispatch_batch(noon)
    assert row(db_session, later).hold_until == datetime(2026, 11, 29, 6, 0, tzinfo=UTC)


def test_digest_only_managers_get_one_digest_instead_of_each_notice(dispatcher, db_session, store, build):
    from app.accounts.domain import Role

    enterprise = build.enterprise()
    manager = follow(store, build.member(enterprise, Role.MANAGER))
    db_session.add(NotificationPreference(user_id=manager.id, digest_only=True, updated_at=NOW))
    db_session.flush()
    ordinary = [notice(db_session, manager, NOW) for _ in range(2)]
    major = notice(db_session, manager, NOW, kind="major_hazard_registered", level="major")
    stats = dispatcher.dispatch_batch(NOW)
    assert (stats.folded, stats.sent) == (2, 1)
    assert {row(db_session, i).status for i in ordinary} == {OutboxStatus.DIGESTED}
    assert row(db_session, ordinary[0]).attempts == 0
    assert row(db_session, major).status is OutboxStatus.SENT
    evening = NOW + timedelta(hours=10)  # 20:00 Beijing, the same local day
    assert build_daily_digests(db_session, evening) == 1
    assert build_daily_digests(db_session, evening + timedelta(hours=1)) == 0, "once per local day"
    digest = db_session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "daily_digest"))
    assert digest.dedupe_key == f"digest:{manager.id}:2026-11-28"
    assert digest.payload["folded_notices"] == 2 and digest.urgent is False
    assert dispatcher.dispatch_batch(evening).sent == 1, "the digest itself is never folded"
    templates = sent_to(store, manager.openid, "template")
    assert templates[-1]["data"]["thing5"] == {"value": "已汇总通知2条"}


# --- customer-service messages ---------------------------------------------------------------


def test_inside_the_window_a_customer_service_text_is_used(dispatcher, db_session, store, worker, redis):
    note_interaction(redis, worker.openid, "text", "", NOW - timedelta(hours=47))
    row_id = notice(db_session, worker, NOW, kind="hazard_verified")
    dispatcher.dispatch_batch(NOW)
    message = row(db_session, row_id)
    assert message.status is OutboxStatus.SENT and message.channel is Channel.CUSTOM
    assert message.finished_at == NOW, "customer-service messages get no delivery report"
    [body] = sent_to(store, worker.openid, "custom")
    assert body["msgtype"] == "text" and body["text"]["content"].startswith("【隐患已复查销号】")


def test_outside_the_window_the_template_is_used(dispatcher, db_session, store, worker, redis):
    note_interaction(redis, worker.openid, "text", "", NOW - timedelta(hours=49))
    note_interaction(redis, worker.openid, "event", "scan", NOW - timedelta(minutes=2))
    row_id = notice(db_session, worker, NOW, kind="hazard_verified")
    dispatcher.dispatch_batch(NOW)
    assert row(db_session, row_id).channel is Channel.TEMPLATE
    assert [m["kind"] for m in store.messages(worker.openid)] == ["template"]


def test_a_closed_window_answer_falls_back_to_the_template_at_once(dispatcher, db_session, store, worker, redis):
    note_interaction(redis, worker.openid, "text", "", NOW)
    store.add_fault(path=CUSTOM_SEND, errcode=45047, count=1)
    row_id = notice(db_session, worker, NOW, kind="hazard_rejected")
    dispatcher.dispatch_batch(NOW)
    message = row(db_session, row_id)
    assert message.status is OutboxStatus.SENT and message.channel is Channel.TEMPLATE and message.attempts == 1
    assert [m["kind"] for m in store.messages(worker.openid)] == ["template"]


# --- delivery reports ------------------------------------------------------------------------


def job_finished(db_session, redis, openid: str, msg_id: int, status: str) -> None:
    """WeChat's TEMPLATESENDJOBFINISH for `msg_id`, through the callback's router."""
    fields = {"ToUserName": "gh_ancha", "FromUserName": openid, "CreateTime": "1764295300",
              "MsgType": "event", "Event": "TEMPLATESENDJOBFINISH", "MsgID": str(msg_id), "Status": status}
    xml = "<xml>" + "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in fields.items()) + "</xml>"
    ctx = HandlerContext(open_session=lambda: db_session, redis=redis, now=NOW + timedelta(seconds=5), base_url="http://ancha.test",
                         inbound=parse_inbound(xml))
    assert not router.dispatch(ctx).failed
    db_session.flush()


@pytest.mark.parametrize(
    ("report", "status"),
    [("success", OutboxStatus.DELIVERED), ("failed:user block", OutboxStatus.FAILED),
     ("failed: system failed", OutboxStatus.FAILED)],
)
def test_templatesendjobfinish_updates_the_row(dispatcher, db_session, store, worker, redis, report, status):
    row_id = notice(db_session, worker, NOW)
    dispatcher.dispatch_batch(NOW)
    msgid = row(db_session, row_id).wx_msgid
    job_finished(db_session, redis, worker.openid, msgid, report)
    message = row(db_session, row_id)
    assert message.status is status and message.finished_at == NOW + timedelta(seconds=5)
    if status is OutboxStatus.FAILED:
        assert report in message.last_error
    assert records.template_job(redis, str(msgid))["status"] == report
    # A replayed report changes nothing more.
    job_finished(db_session, redis, worker.openid, msgid, "success")
    assert row(db_session, row_id).status is status


def test_a_report_that_arrives_before_the_row_is_recorded_is_not_lost(dispatcher, db_session, store, worker, redis):
    row_id = notice(db_session, worker, NOW)
    # The fake API numbers messages from its counter: the report is for the next one.
    next_msgid = int(redis.get("ancha:sandbox:msgid") or 0) + 1 + 1_000_000_000
    records.record_template_job(redis, str(next_msgid), "success", worker.openid, NOW)
    dispatcher.dispatch_batch(NOW)
    message = row(db_session, row_id)
    assert message.wx_msgid == next_msgid and message.status is OutboxStatus.DELIVERED


# --- the command ------------------------------------------------------------------------------


def test_notifications_dispatch_once_drains_and_prints_the_counts(app, db_session, store, worker):
    import json

    # The command runs on the wall clock: major hazards, so that quiet hours never hold them.
    ids = [notice(db_session, worker, NOW - timedelta(minutes=1), level="major") for _ in range(3)]
    result = app.test_cli_runner().invoke(args=["notifications", "dispatch", "--once", "--batch-size", "2"])
    assert result.exit_code == 0, result.output
    counts = json.loads(result.output.strip().splitlines()[-1])
    assert counts["claimed"] == counts["sent"] == 3, counts
    assert {row(db_session, i).status for i in ids} == {OutboxStatus.SENT}


def test_enqueue_marks_major_notices_urgent(db_session, worker):
    general = notice(db_session, worker, NOW)
    major = notice(db_session, worker, NOW, level="major")
    registered = enqueue(db_session, kind="major_hazard_registered", recipient_user_id=worker.id,
                         payload=hazard_payload(), dedupe_key="urgent-by-kind", now=NOW)
    assert [row(db_session, i).urgent for i in (general, major, registered)] == [False, True, True]
    with pytest.raises(ValueError, match="unknown notification kind"):
        enqueue(db_session, kind="hazard_exploded", recipient_user_id=worker.id, payload={}, dedupe_key="x", now=NOW)



def test_the_http_connection_pool_fits_the_concurrency(app, redis):
    from requests.adapters import HTTPAdapter

    from app.notifications.dispatcher import fit_connection_pool
    from app.wechat.client import WeChatAPIClient, get_wechat_client

    remote = WeChatAPIClient("wx-pool-test", "secret", base_url="http://127.0.0.1:9/sandbox/wx", redis=redis)
    fit_connection_pool(remote, 32)
    adapter = remote._http.get_adapter("http://127.0.0.1:9/sandbox/wx/cgi-bin/message/template/send")
    assert isinstance(adapter, HTTPAdapter) and adapter._pool_maxsize == 32
    in_process = get_wechat_client(app)  # the test app's sandbox is served in-process
    before = in_process._http.get_adapter(f"{in_process.base_url}/")
    fit_connection_pool(in_process, 32)
    assert in_process._http.get_adapter(f"{in_process.base_url}/") is before
