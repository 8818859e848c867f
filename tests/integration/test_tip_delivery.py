"""已送达 of a tip broadcast follows what the dispatcher did with its outbox rows: template
messages once WeChat's delivery report says success, customer-service messages (tips go out
in the recipient's service window first) as soon as WeChat accepted them — they never get a
report, and counting only the `delivered` status left 已送达 at 0 for them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.notifications.channels import note_interaction
from app.notifications.domain import Channel, OutboxStatus
from app.notifications.models import OutboxMessage
from app.tips import queries, service
from tests.fixtures.builders import NOW
from tests.fixtures.outbox import follow, make_dispatcher, sandbox_store
from tests.integration.test_dispatcher import job_finished


def _released(db_session, build, redis, *, window_open: bool):
    store = sandbox_store(redis)
    enterprise = build.enterprise(town=build.town(name="北镇"))
    users = [follow(store, build.member(enterprise, "worker")) for _ in range(3)]
    if window_open:
        for user in users:
            note_interaction(redis, user.openid, "text", "", NOW - timedelta(hours=1))
    admin = build.actor(build.bureau_user("bureau_admin"))
    data = {"title": "有限空间作业审批", "body": "请学习。", "send_at": NOW.isoformat(), "requires_ack": True}
    broadcast = service.create_broadcast(db_session, admin, NOW, data)
    service.release_broadcast(db_session, broadcast.id, NOW)
    db_session.flush()
    return broadcast, users


def test_customer_service_tips_count_as_delivered(app, db_session, build, redis):
    broadcast, users = _released(db_session, build, redis, window_open=True)
    dispatcher = make_dispatcher(app)
    try:
        assert dispatcher.dispatch_batch(NOW).sent == 3
    finally:
        dispatcher.close()
    db_session.expire_all()
    rows = list(db_session.scalars(select(OutboxMessage).where(OutboxMessage.dedupe_key.startswith(f"tip:{broadcast.id}:"))))
    assert {(r.status, r.channel) for r in rows} == {(OutboxStatus.SENT, Channel.CUSTOM)}
    counts = queries.broadcast_counts(db_session, [broadcast.id])[broadcast.id]
    assert (counts.recipients, counts.sent, counts.delivered) == (3, 3, 3)


def test_template_tips_count_as_delivered_once_reported(app, db_session, build, redis):
    broadcast, users = _released(db_session, build, redis, window_open=False)
    dispatcher = make_dispatcher(app)
    try:
        dispatcher.dispatch_batch(NOW)
    finally:
        dispatcher.close()
    db_session.expire_all()
    rows = list(db_session.scalars(select(OutboxMessage).where(OutboxMessage.dedupe_key.startswith(f"tip:{broadcast.id}:"))))
    assert {r.channel for r in rows} == {Channel.TEMPLATE}
    counts = queries.broadcast_counts(db_session, [broadcast.id])[broadcast.id]
    assert (counts.sent, counts.delivered) == (3, 0), "no report yet: sent, not delivered"
    job_finished(db_session, redis, users[0].openid, rows[0].wx_msgid, "success")
    job_finished(db_session, redis, users[1].openid, rows[1].wx_msgid, "failed:user block")
    counts = queries.broadcast_counts(db_session, [broadcast.id])[broadcast.id]
    assert (counts.sent, counts.delivered, counts.failed) == (2, 1, 1)
