"""General tips as mass messages by town tag, on a real database against the sandbox's fake
WeChat API (in-process): the fan-out with the monthly quota (Asia/Shanghai months), the town
tags kept in step 50 openids per call, sendall with its clientmsgid, the MASSSENDJOBFINISH
posted back to the callback, and what the followers' chats show."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.clock import LOCAL_TZ
from app.errors import InvalidTransition, ValidationFailed
from app.notifications.models import OutboxMessage
from app.sandbox.reports import mass_report_fields, post_mass_report
from app.tips import mass, queries, service
from app.tips.domain import MassStatus
from app.tips.models import TipBroadcast, TipMassQuota, TipMassSend, TipReceipt, TipTagMember, TipTownTag
from app.wechat import mass as wx_mass
from app.wechat.client import get_wechat_client
from tests.fixtures.outbox import follow, sandbox_store

NOW = datetime(2027, 6, 10, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai


def local(y, m, d, hh=10, mm=0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=LOCAL_TZ).astimezone(UTC)


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield


@pytest.fixture
def store(redis):
    return sandbox_store(redis)


class Towns:
    def __init__(self, build, store):
        self.north, self.south = build.town(name="北镇"), build.town(name="南镇")
        self.mill = build.enterprise(town=self.north)
        self.shop = build.enterprise(town=self.south)
        self.north_people = [follow(store, build.member(self.mill, "worker")) for _ in range(3)]
        self.south_people = [follow(store, build.member(self.shop, "worker")) for _ in range(2)]
        # Works in both towns: carries the tag of the first (north), so one message.
        self.both = follow(store, build.member(self.mill, "manager"))
        build.member(self.shop, "manager", user=self.both)
        self.admin = build.actor(build.bureau_user("bureau_admin"))


@pytest.fixture
def towns(build, store):
    return Towns(build, store)


def general(towns_: list[int], send_at: datetime = NOW) -> dict:
    return {"title": "汛期安全提示", "body": "汛期来临，请检查排水设施。", "send_at": send_at.isoformat(), "towns": towns_}


def release_mass(db_session, t: Towns, towns_: list[int], now: datetime = NOW) -> TipBroadcast:
    broadcast = service.create_broadcast(db_session, t.admin, now, general(towns_, now))
    assert broadcast.requires_ack is False, "a general tip to towns is a mass message by default"
    service.release_broadcast(db_session, broadcast.id, now)
    db_session.flush()
    return broadcast


def sends_of(db_session, broadcast) -> list[TipMassSend]:
    db_session.expire_all()
    return list(db_session.scalars(select(TipMassSend).where(TipMassSend.broadcast_id == broadcast.id).order_by(TipMassSend.town_id)))


def test_a_general_tip_fans_out_per_town_without_outbox_rows(db_session, towns):
    t = towns
    broadcast = release_mass(db_session, t, [t.north.id, t.south.id])
    receipts = set(db_session.scalars(select(TipReceipt.user_id).where(TipReceipt.broadcast_id == broadcast.id)))
    assert receipts == {u.id for u in t.north_people + t.south_people + [t.both]}
    assert db_session.scalar(select(func.count()).select_from(OutboxMessage)) == 0, "no template per person"
    north, south = sends_of(db_session, broadcast)
    assert (north.town_id, north.recipients, north.status) == (t.north.id, 4, MassStatus.PENDING)
    assert (south.town_id, south.recipients) == (t.south.id, 2)
    assert broadcast.recipient_count == 6 and broadcast.over_quota_count == 0


def test_the_quota_counts_per_shanghai_month_and_excludes_the_fifth(db_session, towns):
    t = towns
    # 30 June 23:30 in Shanghai is still June (15:30 UTC); 1 July 00:30 is July (16:30 UTC on 30 June).
    june_late = local(2027, 6, 30, 23, 30)
    july_early = local(2027, 7, 1, 0, 30)
    assert june_late.day == 30 and july_early.day == 30 and july_early.month == 6  # both 30 June in UTC
    for n in range(4):
        release_mass(db_session, t, [t.south.id], june_late - timedelta(days=n))
    used = dict(db_session.execute(select(TipMassQuota.user_id, TipMassQuota.used).where(TipMassQuota.month == "2027-06")).all())
    assert used == {u.id: 4 for u in t.south_people}
    preview = queries.quota_preview(db_session, queries.Audience(town_ids=frozenset({t.south.id})), june_late)
    assert (preview.recipients, preview.over) == (2, 2) and "已达微信上限" in preview.message
    fifth = release_mass(db_session, t, [t.south.id], june_late)
    assert fifth.recipient_count == 0 and fifth.over_quota_count == 2
    assert sends_of(db_session, fifth) == [], "nobody left to send to"
    # The next Shanghai month starts the count again, though it is the same UTC day.
    assert queries.quota_preview(db_session, queries.Audience(town_ids=frozenset({t.south.id})), july_early).over == 0
    july = release_mass(db_session, t, [t.south.id], july_early)
    assert july.recipient_count == 2 and july.over_quota_count == 0
    assert db_session.scalar(select(func.sum(TipMassQuota.used)).where(TipMassQuota.month == "2027-07")) == 2


def test_release_twice_counts_nobody_twice(db_session, towns):
    t = towns
    broadcast = release_mass(db_session, t, [t.north.id])
    broadcast.status = "scheduled"
    db_session.flush()
    service.release_broadcast(db_session, broadcast.id, NOW + timedelta(minutes=1))
    assert set(db_session.scalars(select(TipMassQuota.used))) == {1}
    assert len(sends_of(db_session, broadcast)) == 1


def test_mass_audience_is_towns_only_and_tasks_take_any_cut(db_session, towns):
    t = towns
    data = {**general([t.north.id]), "roles": ["manager"], "requires_ack": False}
    with pytest.raises(ValidationFailed) as refused:
        service.create_broadcast(db_session, t.admin, NOW, data)
    assert "群发消息按镇街标签发送" in refused.value.message
    task = service.create_broadcast(db_session, t.admin, NOW, {**data, "requires_ack": True})
    result = service.release_broadcast(db_session, task.id, NOW)
    assert result.enqueued == 1, "a task notice to the one manager"
    # Without a choice, a cut by role is a task by default.
    assert service.create_broadcast(db_session, t.admin, NOW, {**data, "requires_ack": None}).requires_ack


def test_no_reminder_for_a_mass_broadcast(db_session, towns):
    t = towns
    broadcast = release_mass(db_session, t, [t.north.id])
    with pytest.raises(InvalidTransition):
        service.send_reminders(db_session, t.admin, NOW + timedelta(days=1), broadcast.id)


def test_batchtagging_goes_50_openids_per_call(app, ctx, db_session, build, store):
    town = build.town(name="西镇")
    enterprise = build.enterprise(town=town)
    people = [follow(store, build.member(enterprise, "worker")) for _ in range(120)]
    client = get_wechat_client(app)
    calls: list[int] = []
    real_post = client.post

    def counting_post(path, **kwargs):
        if path.startswith("tags/members/"):
            calls.append(len(kwargs["data"]["openid_list"]))
        return real_post(path, **kwargs)

    client.post = counting_post
    try:
        result = mass.sync_town_tag(db_session, town.id, NOW, client)
        assert calls == [50, 50, 20] and result.added == 120 and result.calls == 3
        tag = db_session.get(TipTownTag, town.id)
        assert tag.name == "安查·西镇" and tag.wx_tag_id == result.tag_id
        assert all(result.tag_id in store.get_user(p.openid)["tagid_list"] for p in people)
        # In step: a second sync calls nothing; a member who leaves is untagged.
        calls.clear()
        assert mass.sync_town_tag(db_session, town.id, NOW, client).calls == 0 and calls == []
        people[0].subscribed = False
        db_session.flush()
        again = mass.sync_town_tag(db_session, town.id, NOW, client)
        assert (again.removed, calls) == (1, [1])
        assert result.tag_id not in store.get_user(people[0].openid)["tagid_list"]
        assert db_session.get(TipTagMember, people[0].id) is None
    finally:
        del client.post
    assert list(wx_mass.openid_chunks([str(n) for n in range(101)])) [2] == ["100"]


def test_send_job_mass_sends_by_tag_and_the_report_comes_back(app, ctx, db_session, towns, store):
    t = towns
    broadcast = release_mass(db_session, t, [t.north.id, t.south.id])
    ids = mass.pending_mass_ids(db_session, NOW)
    assert len(ids) == 2
    for mass_id in ids:
        assert mass.send_mass(db_session, mass_id, NOW) is MassStatus.SUBMITTED
    assert mass.send_mass(db_session, ids[0], NOW) is None, "submitted once"
    north, south = sends_of(db_session, broadcast)
    assert north.msg_id and north.msg_data_id and north.wx_tag_id
    # Each follower got exactly one mass text, with the link to the article.
    for person in t.north_people + t.south_people + [t.both]:
        [message] = store.messages(person.openid)
        assert message["kind"] == "mass" and message["body"]["msgtype"] == "text"
        assert "汛期安全提示" in message["body"]["text"]["content"]
        assert f'http://ancha.test/h5/tips/{broadcast.tip_id}' in message["body"]["text"]["content"]
    job = store.mass_job(north.msg_id)
    fields = mass_report_fields("wx5a4d0c0ffee5a4d0", job, now=0)
    assert fields["Event"] == "MASSSENDJOBFINISH" and fields["FromUserName"] == "mphelper"
    assert (fields["MsgID"], fields["TotalCount"], fields["FilterCount"], fields["SentCount"], fields["ErrorCount"]) == (
        north.msg_id, 4, 4, 4, 0
    )
    # Counts before and after the report.
    counts = queries.broadcast_counts(db_session, [broadcast.id])[broadcast.id]
    assert (counts.recipients, counts.mass_sent, counts.delivered) == (6, 0, 0)
    delivery = post_mass_report(app, store, north.msg_id)
    assert delivery.status == 200 and delivery.failure is None
    # The callback got WeChat's XML: the event, numbers bare, the status as documented.
    assert "<Event><![CDATA[MASSSENDJOBFINISH]]></Event>" in delivery.xml
    assert f"<MsgID>{north.msg_id}</MsgID>" in delivery.xml and "<SentCount>4</SentCount>" in delivery.xml
    assert "<Status><![CDATA[send success]]></Status>" in delivery.xml
    db_session.expire_all()
    north, south = sends_of(db_session, broadcast)
    assert north.status is MassStatus.FINISHED and (north.sent_count, north.error_count) == (4, 0)
    assert north.report == "send success"
    counts = queries.broadcast_counts(db_session, [broadcast.id])[broadcast.id]
    assert (counts.mass_sent, counts.delivered, counts.failed) == (4, 4, 0)
    # A replayed report changes nothing.
    assert not mass.record_mass_result(db_session, {"MsgID": str(north.msg_id), "Status": "sendfail"}, NOW)


def test_a_failed_report_and_a_lost_answer(app, ctx, db_session, towns, store):
    t = towns
    broadcast = release_mass(db_session, t, [t.south.id])
    [mass_id] = mass.pending_mass_ids(db_session, NOW)
    store.add_fault(path="cgi-bin/message/mass/sendall", errcode=-1, count=1)
    assert mass.send_mass(db_session, mass_id, NOW) is MassStatus.PENDING
    [row] = sends_of(db_session, broadcast)
    assert row.attempts == 1 and "群发失败" in row.last_error
    assert mass.send_mass(db_session, mass_id, NOW + timedelta(minutes=1)) is MassStatus.SUBMITTED
    [row] = sends_of(db_session, broadcast)
    assert mass.record_mass_result(
        db_session,
        {"MsgID": str(row.msg_id), "Status": "err(30003)", "TotalCount": "2", "FilterCount": "2", "SentCount": "0", "ErrorCount": "2"},
        NOW,
    )
    [row] = sends_of(db_session, broadcast)
    assert row.status is MassStatus.FAILED
    counts = queries.broadcast_counts(db_session, [broadcast.id])[broadcast.id]
    assert (counts.mass_sent, counts.failed) == (0, 2)


def test_a_report_that_comes_before_the_msg_id_is_recorded_is_not_lost(app, ctx, db_session, towns, store, redis):
    t = towns
    broadcast = release_mass(db_session, t, [t.north.id])
    [mass_id] = mass.pending_mass_ids(db_session, NOW)
    # The fake numbers its messages from a counter: the report is for the next one, and it
    # reaches the callback (kept in Redis) before the send job has recorded that msg_id.
    next_msg_id = int(redis.get("ancha:sandbox:msgid") or 0) + 1 + 1_000_000_000
    report = {"MsgID": str(next_msg_id), "Status": "send success", "TotalCount": "4", "FilterCount": "4",
              "SentCount": "4", "ErrorCount": "0"}
    wx_mass.remember_mass_report(redis, report)
    assert not mass.record_mass_result(db_session, report, NOW), "no row has that msg_id yet"
    assert mass.send_mass(db_session, mass_id, NOW) is MassStatus.SUBMITTED
    assert mass.pending_mass_ids(db_session, NOW + timedelta(minutes=1)) == [mass_id], "still waiting for its report"
    assert mass.send_mass(db_session, mass_id, NOW + timedelta(minutes=1)) is MassStatus.FINISHED
    [row] = sends_of(db_session, broadcast)
    assert row.msg_id == next_msg_id and row.sent_count == 4
    assert mass.pending_mass_ids(db_session, NOW + timedelta(minutes=2)) == []
    assert mass.send_mass(db_session, mass_id, NOW + timedelta(minutes=2)) is None
