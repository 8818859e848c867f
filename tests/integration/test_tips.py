"""Safety tips on a real database: the library load, audience resolution, the fan-out into
the outbox (idempotent, set-based), counts, acknowledgement, the single reminder and the
seasonal calendar's monthly proposals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import event, func, select, update

from app.accounts.domain import Actor, BureauRole
from app.accounts.models import Membership, User
from app.clock import LOCAL_TZ
from app.errors import InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from app.notifications.domain import OutboxStatus
from app.notifications.models import OutboxMessage
from app.tips import queries, service
from app.tips.domain import Audience, BroadcastStatus, TipKind, check_audience_scope
from app.tips.models import Tip, TipBroadcast, TipBroadcastEvent, TipReceipt

NOW = datetime(2027, 6, 10, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai


def local(y, m, d, hh=10, mm=0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=LOCAL_TZ).astimezone(UTC)


class District:
    """Two towns; enterprises of several industries and topics; members in several roles,
    plus people a message cannot reach (no openid, unsubscribed, deactivated, former member)."""

    def __init__(self, build):
        self.build = build
        self.north, self.south = build.town(name="北镇"), build.town(name="南镇")
        self.food = build.enterprise(town=self.north, industry="light_industry", confined_space=True)
        self.mill = build.enterprise(town=self.north, industry="machinery", dust_explosion=True)
        self.shop = build.enterprise(town=self.south, industry="commerce", confined_space=True)
        self.cold = build.enterprise(town=self.south, industry="light_industry", ammonia_refrigeration=True)
        self.food_worker = build.member(self.food, "worker")
        self.food_officer = build.member(self.food, "safety_officer")
        self.mill_manager = build.member(self.mill, "manager")
        self.shop_admin = build.member(self.shop, "enterprise_admin")
        self.cold_worker = build.member(self.cold, "worker")
        # In two matching enterprises: still one message.
        build.member(self.shop, "worker", user=self.food_worker)
        # Unreachable.
        build.member(self.food, "worker", user=build.user(openid=None))
        build.member(self.food, "worker", user=build.user(subscribed=False))
        build.member(self.food, "worker", user=build.user(is_active=False))
        build.member(self.food, "worker", active=False)
        self.bureau_admin = build.bureau_user("bureau_admin")
        self.bureau_staff = build.bureau_user("bureau_staff", towns=[self.south])

    @property
    def everyone(self) -> set[int]:
        return {
            u.id
            for u in (
                self.food_worker,
                self.food_officer,
                self.mill_manager,
                self.shop_admin,
                self.cold_worker,
            )
        }


@pytest.fixture
def district(build) -> District:
    return District(build)


@pytest.fixture
def admin(build, district):
    return build.actor(district.bureau_admin)


def resolve(session, **audience) -> set[int]:
    """Ids the audience (as stored: towns, industries, topics, roles) reaches."""
    return set(session.scalars(queries.audience_user_ids(Audience.from_json(audience))))


def custom(send_at: datetime = NOW, **audience) -> dict:
    """Form data of a new custom tip, an acknowledgement task (one message per person; the
    mass-message path is tests/integration/test_tip_mass.py)."""
    return {
        "title": "节前安全检查",
        "body": "节前请组织一次全面安全检查。\n\n## 重点\n- 消防设施\n- 危化品库房",
        "send_at": send_at.isoformat(),
        "requires_ack": True,
        **audience,
    }


def outbox_rows(session, prefix: str) -> list[OutboxMessage]:
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.dedupe_key.startswith(prefix))
            .order_by(OutboxMessage.id)
        )
    )


def release(session, admin, now=NOW, **audience):
    broadcast = service.create_broadcast(session, admin, now, custom(now, **audience))
    result = service.release_broadcast(session, broadcast.id, now)
    return broadcast, result


# --- the library --------------------------------------------------------------------------------


def test_library_loads_every_tip_and_knowledge_entry_once(db_session):
    first = service.load_tip_library(db_session)
    assert len(first.created) == 40 and not first.updated and not first.retired
    codes = set(db_session.scalars(select(Tip.code)))
    assert {f"TIP-{n:02d}" for n in range(1, 29)} | {f"CSK-{n:02d}" for n in range(1, 13)} == codes
    again = service.load_tip_library(db_session)
    assert again.created == [] and again.updated == [] and len(again.unchanged) == 40
    assert db_session.scalar(select(func.count()).select_from(Tip)) == 40


def test_library_entries_match_domain_md(db_session):
    service.load_tip_library(db_session)
    tips = {t.code: t for t in db_session.scalars(select(Tip))}
    assert tips["TIP-07"].months == [6, 7, 8]
    assert "40℃" in tips["TIP-07"].body and "6 小时" in tips["TIP-07"].body
    assert tips["TIP-12"].audience == {
        "towns": [],
        "industries": ["commerce", "light_industry", "textile"],
        "topics": ["confined_space"],
        "roles": [],
    }
    assert "19.5%–23.5%" in tips["CSK-05"].body
    assert "先通风、再检测、后作业" in tips["TIP-05"].body and "严禁盲目施救" in tips["CSK-09"].body
    assert "先检查后开工" in tips["TIP-01"].body
    assert tips["TIP-24"].months == list(range(1, 13))
    assert tips["CSK-03"].kind is TipKind.KNOWLEDGE and tips["CSK-03"].months == [3]


def test_library_reload_updates_changed_and_retires_removed_entries(db_session, tmp_path: Path):
    service.load_tip_library(db_session)
    data = yaml.safe_load(service.DATA_FILE.read_text(encoding="utf-8"))
    data["tips"][0]["title"] = "节后复工复产：先检查、后开工"
    removed = data["tips"].pop()["code"]
    changed = tmp_path / "tips.yaml"
    changed.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    result = service.load_tip_library(db_session, changed)
    assert result.updated == ["TIP-01"] and result.retired == [removed] and not result.created
    retired = db_session.scalar(select(Tip).where(Tip.code == removed))
    assert retired.active is False
    assert db_session.scalar(select(Tip.title).where(Tip.code == "TIP-01")) == "节后复工复产：先检查、后开工"
    back = service.load_tip_library(db_session)  # the bundled file again
    assert back.updated == ["TIP-01", removed] and retired.active is True


def test_library_file_errors_name_the_entry(db_session, tmp_path: Path):
    data = yaml.safe_load(service.DATA_FILE.read_text(encoding="utf-8"))
    data["knowledge"][3]["months"] = [13]
    bad = tmp_path / "tips.yaml"
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ValueError, match="CSK-04: months"):
        service.load_tip_library(db_session, bad)


# --- audience -----------------------------------------------------------------------------------


def test_audience_everyone_reaches_every_reachable_member_once(db_session, district):
    assert resolve(db_session) == district.everyone


def test_audience_by_town_industry_topic_and_role(db_session, district):
    d = district
    assert resolve(db_session, towns=[d.south.id]) == {
        d.shop_admin.id,
        d.cold_worker.id,
        d.food_worker.id,  # also a worker of the shop
    }
    assert resolve(db_session, industries=["light_industry"]) == {
        d.food_worker.id,
        d.food_officer.id,
        d.cold_worker.id,
    }
    confined = resolve(db_session, topics=["confined_space"])
    assert confined == {d.food_worker.id, d.food_officer.id, d.shop_admin.id}
    # Any of the topics.
    assert resolve(db_session, topics=["dust_explosion", "ammonia_refrigeration"]) == {
        d.mill_manager.id,
        d.cold_worker.id,
    }
    # Dimensions combine with AND (TIP-12: confined space AND light industry/commerce/textile).
    assert resolve(
        db_session,
        topics=["confined_space"],
        industries=["commerce"],
    ) == {d.shop_admin.id, d.food_worker.id}
    assert resolve(db_session, roles=["worker"]) == {d.food_worker.id, d.cold_worker.id}
    assert resolve(db_session, towns=[d.north.id], roles=["safety_officer", "manager"]) == {
        d.food_officer.id,
        d.mill_manager.id,
    }
    assert resolve(db_session, towns=[d.north.id], topics=["ammonia_refrigeration"]) == set()


# --- broadcasts: the bureau ---------------------------------------------------------------------


def test_only_broadcasters_schedule_and_staff_stay_in_their_towns(db_session, build, district):
    staff = build.actor(district.bureau_staff)
    with pytest.raises(PermissionDenied):
        service.create_broadcast(db_session, staff, NOW, custom(towns=[district.south.id]))
    member = build.actor(district.food_officer)
    with pytest.raises(PermissionDenied):
        service.create_broadcast(db_session, member, NOW, custom())
    # Even with the action, a town-scoped actor may only address its towns.
    scoped = Actor(
        user_id=staff.user_id, bureau_role=BureauRole.STAFF, bureau_town_ids=frozenset({district.south.id})
    )
    check_audience_scope(scoped, Audience(town_ids=frozenset({district.south.id})))
    with pytest.raises(PermissionDenied):
        check_audience_scope(scoped, Audience())
    with pytest.raises(PermissionDenied):
        check_audience_scope(scoped, Audience(town_ids=frozenset({district.north.id, district.south.id})))


def test_create_refuses_bad_input(db_session, admin, district):
    with pytest.raises(ValidationFailed) as past:
        service.create_broadcast(db_session, admin, NOW, custom(NOW - timedelta(hours=1)))
    assert past.value.fields == {"send_at": "发送时间不能早于当前时间"}
    with pytest.raises(ValidationFailed) as neither:
        service.create_broadcast(db_session, admin, NOW, {"send_at": NOW.isoformat()})
    assert "tip_id" in neither.value.fields
    service.load_tip_library(db_session)
    tip_id = db_session.scalar(select(Tip.id).where(Tip.code == "TIP-07"))
    with pytest.raises(ValidationFailed):
        service.create_broadcast(db_session, admin, NOW, {**custom(), "tip_id": tip_id})
    with pytest.raises(ValidationFailed) as town:
        service.create_broadcast(db_session, admin, NOW, custom(towns=[987654]))
    assert town.value.fields == {"towns": "所选镇街不存在"}
    with pytest.raises(ValidationFailed) as topic:
        service.create_broadcast(db_session, admin, NOW, custom(topics=["volcano"]))
    assert "topics.0" in topic.value.fields


def test_a_library_tip_is_scheduled_in_local_time(db_session, admin, district):
    service.load_tip_library(db_session)
    tip_id = db_session.scalar(select(Tip.id).where(Tip.code == "TIP-11"))
    broadcast = service.create_broadcast(
        db_session,
        admin,
        NOW,
        {"tip_id": tip_id, "topics": ["confined_space"], "send_at": "2027-06-11T09:30"},
    )
    assert broadcast.status is BroadcastStatus.SCHEDULED
    assert broadcast.send_at == local(2027, 6, 11, 9, 30)
    assert broadcast.tip.code == "TIP-11" and broadcast.created_by_id == admin.user_id
    events = db_session.scalars(
        select(TipBroadcastEvent).where(TipBroadcastEvent.broadcast_id == broadcast.id)
    ).all()
    assert [(e.action, e.from_status, e.to_status) for e in events] == [
        ("create", None, BroadcastStatus.SCHEDULED)
    ]


# --- the fan-out --------------------------------------------------------------------------------


def test_release_writes_one_receipt_and_one_outbox_row_per_recipient(db_session, admin, district):
    broadcast, result = release(db_session, admin, topics=["confined_space"])
    recipients = {district.food_worker.id, district.food_officer.id, district.shop_admin.id}
    assert result.recipients == 3 and result.enqueued == 3
    rows = outbox_rows(db_session, f"tip:{broadcast.id}:")
    assert {r.recipient_user_id for r in rows} == recipients
    assert {r.dedupe_key for r in rows} == {f"tip:{broadcast.id}:{uid}" for uid in recipients}
    row = rows[0]
    assert row.kind == "tip_broadcast" and row.status is OutboxStatus.QUEUED and row.urgent is False
    assert row.attempts == 0 and row.next_attempt_at == NOW and row.created_at == NOW
    assert row.payload == {
        "broadcast_id": broadcast.id,
        "tip_id": broadcast.tip_id,
        "tip_code": None,
        "title": "节前安全检查",
        "summary": "节前请组织一次全面安全检查。",
        "at": NOW.isoformat(),
        "path": f"/h5/tips/{broadcast.tip_id}",
    }
    receipts = db_session.scalars(select(TipReceipt).where(TipReceipt.broadcast_id == broadcast.id)).all()
    assert {r.user_id for r in receipts} == recipients and all(r.created_at == NOW for r in receipts)
    db_session.refresh(broadcast)
    assert broadcast.status is BroadcastStatus.RELEASED
    assert broadcast.released_at == NOW and broadcast.recipient_count == 3


def test_release_is_idempotent(db_session, admin, district):
    broadcast, first = release(db_session, admin)
    assert first.enqueued == 5
    before = db_session.scalar(select(func.count()).select_from(OutboxMessage))
    # Running the job again: the broadcast is released, nothing is written.
    assert service.release_broadcast(db_session, broadcast.id, NOW + timedelta(minutes=1)) is None
    # Even forced back to scheduled (a run that died after writing), the keys hold.
    db_session.execute(
        update(TipBroadcast).where(TipBroadcast.id == broadcast.id).values(status=BroadcastStatus.SCHEDULED)
    )
    again = service.release_broadcast(db_session, broadcast.id, NOW + timedelta(minutes=2))
    assert again.recipients == 5 and again.enqueued == 0
    assert db_session.scalar(select(func.count()).select_from(OutboxMessage)) == before
    assert db_session.scalar(select(func.count()).select_from(TipReceipt)) == 5


def test_only_due_scheduled_broadcasts_are_released(db_session, admin, district):
    later = service.create_broadcast(db_session, admin, NOW, custom(NOW + timedelta(hours=2)))
    cancelled = service.create_broadcast(db_session, admin, NOW, custom(NOW))
    service.cancel_broadcast(db_session, admin, NOW, cancelled.id, "内容有误")
    due = service.create_broadcast(db_session, admin, NOW, custom(NOW))
    assert service.due_broadcast_ids(db_session, NOW) == [due.id]
    assert service.release_broadcast(db_session, later.id, NOW) is None
    assert service.release_broadcast(db_session, cancelled.id, NOW) is None
    assert service.due_broadcast_ids(db_session, NOW + timedelta(hours=2)) == [
        due.id,
        later.id,
    ]  # by send time
    with pytest.raises(InvalidTransition, match="已取消"):
        service.schedule_broadcast(db_session, admin, NOW, cancelled.id, {"send_at": NOW.isoformat()})
    assert db_session.scalar(select(func.count()).select_from(TipReceipt)) == 0


def test_an_audience_nobody_matches_releases_to_nobody(db_session, admin, district):
    broadcast, result = release(db_session, admin, topics=["metallurgical_gas"])
    assert (result.recipients, result.enqueued) == (0, 0)
    assert broadcast.status is BroadcastStatus.RELEASED and broadcast.recipient_count == 0


# --- counts, reading, acknowledging -------------------------------------------------------------


def test_counts_follow_outbox_statuses_reads_and_acknowledgements(db_session, build, admin, district):
    d = district
    broadcast, _ = release(db_session, admin)
    keyed = {r.recipient_user_id: r for r in outbox_rows(db_session, f"tip:{broadcast.id}:")}
    keyed[d.food_worker.id].status = OutboxStatus.DELIVERED
    keyed[d.food_officer.id].status = OutboxStatus.SENT
    keyed[d.mill_manager.id].status = OutboxStatus.DEAD
    keyed[d.shop_admin.id].status = OutboxStatus.DIGESTED
    db_session.flush()
    later = NOW + timedelta(hours=1)
    service.open_tip(db_session, build.actor(d.food_worker), later, broadcast.tip_id)
    service.open_tip(db_session, build.actor(d.food_officer), later, broadcast.tip_id)
    service.acknowledge_tip(db_session, build.actor(d.food_officer), later, broadcast.tip_id)
    service.acknowledge_tip(
        db_session, build.actor(d.cold_worker), later, broadcast.tip_id
    )  # without opening
    counts = queries.broadcast_counts(db_session, [broadcast.id])[broadcast.id]
    assert counts == queries.BroadcastCounts(
        recipients=5, queued=1, sent=2, delivered=1, failed=1, digested=1, read=3, acknowledged=2, reminded=0
    )


def test_acknowledgement_is_recorded_once(db_session, build, admin, district):
    broadcast, _ = release(db_session, admin)
    worker = build.actor(district.food_worker)
    first_read = NOW + timedelta(minutes=5)
    reading = service.open_tip(db_session, worker, first_read, broadcast.tip_id)
    assert reading.received and reading.awaiting_acknowledgement and reading.read_at == first_read
    assert service.acknowledge_tip(db_session, worker, NOW + timedelta(minutes=6), broadcast.tip_id) == 1
    assert service.acknowledge_tip(db_session, worker, NOW + timedelta(minutes=9), broadcast.tip_id) == 0
    reading = service.open_tip(db_session, worker, NOW + timedelta(minutes=10), broadcast.tip_id)
    assert not reading.awaiting_acknowledgement
    assert reading.acknowledged_at == NOW + timedelta(minutes=6) and reading.read_at == first_read


def test_custom_tips_are_only_for_their_recipients(db_session, build, admin, district):
    broadcast, _ = release(db_session, admin, topics=["ammonia_refrigeration"])
    outsider = build.actor(district.mill_manager)
    with pytest.raises(NotFound):
        service.open_tip(db_session, outsider, NOW, broadcast.tip_id)
    with pytest.raises(NotFound):
        service.acknowledge_tip(db_session, outsider, NOW, broadcast.tip_id)
    # A library tip is readable by any member, but there is nothing for them to acknowledge.
    service.load_tip_library(db_session)
    tip_id = db_session.scalar(select(Tip.id).where(Tip.code == "CSK-01"))
    reading = service.open_tip(db_session, outsider, NOW, tip_id)
    assert not reading.received and not reading.awaiting_acknowledgement
    with pytest.raises(NotFound, match="无需确认"):
        service.acknowledge_tip(db_session, outsider, NOW, tip_id)


def test_a_tip_received_twice_needs_a_new_acknowledgement(db_session, build, admin, district):
    service.load_tip_library(db_session)
    tip_id = db_session.scalar(select(Tip.id).where(Tip.code == "TIP-24"))
    worker = build.actor(district.food_worker)
    june = service.create_broadcast(
        db_session, admin, NOW, {"tip_id": tip_id, "topics": ["confined_space"], "send_at": NOW.isoformat()}
    )
    service.release_broadcast(db_session, june.id, NOW)
    assert service.acknowledge_tip(db_session, worker, NOW, tip_id) == 1
    july_time = local(2027, 7, 3, 9, 30)
    july = service.create_broadcast(
        db_session,
        admin,
        july_time,
        {"tip_id": tip_id, "topics": ["confined_space"], "send_at": july_time.isoformat()},
    )
    service.release_broadcast(db_session, july.id, july_time)
    assert service.open_tip(db_session, worker, july_time, tip_id).awaiting_acknowledgement
    assert service.acknowledge_tip(db_session, worker, july_time, tip_id) == 1
    listed = queries.received_tips(db_session, worker.user_id)
    assert [r.broadcast_id for r in listed] == [july.id, june.id]
    assert all(r.acknowledged_at is not None for r in listed)


# --- the reminder -------------------------------------------------------------------------------


def test_one_reminder_per_non_acknowledger(db_session, build, admin, district):
    d = district
    broadcast, _ = release(db_session, admin)
    service.acknowledge_tip(db_session, build.actor(d.food_worker), NOW, broadcast.tip_id)
    d.cold_worker.subscribed = False  # unfollowed since: cannot be reached any more
    db_session.flush()
    later = NOW + timedelta(days=1)
    assert service.send_reminders(db_session, admin, later, broadcast.id) == 3
    rows = outbox_rows(db_session, f"tip-reminder:{broadcast.id}:")
    assert {r.recipient_user_id for r in rows} == {d.food_officer.id, d.mill_manager.id, d.shop_admin.id}
    assert rows[0].kind == "tip_broadcast" and rows[0].payload["reminder"] is True
    assert rows[0].payload["summary"] == "请阅读后点击“我已阅读并知晓”"
    assert rows[0].payload["at"] == NOW.isoformat()
    # Pressed again (even after someone new became reachable): nobody is reminded twice.
    assert service.send_reminders(db_session, admin, later + timedelta(hours=1), broadcast.id) == 0
    assert len(outbox_rows(db_session, f"tip-reminder:{broadcast.id}:")) == 3
    counts = queries.broadcast_counts(db_session, [broadcast.id])[broadcast.id]
    assert counts.reminded == 3 and counts.recipients == 5
    reminded_at = set(
        db_session.scalars(
            select(TipReceipt.reminded_at).where(
                TipReceipt.broadcast_id == broadcast.id, TipReceipt.reminded_at.is_not(None)
            )
        )
    )
    assert reminded_at == {later}
    events = db_session.scalars(
        select(TipBroadcastEvent.action).where(TipBroadcastEvent.broadcast_id == broadcast.id)
    ).all()
    assert events.count("remind") == 1


def test_no_reminder_before_release_or_without_permission(db_session, build, admin, district):
    scheduled = service.create_broadcast(db_session, admin, NOW, custom(NOW + timedelta(hours=1)))
    with pytest.raises(InvalidTransition):
        service.send_reminders(db_session, admin, NOW, scheduled.id)
    with pytest.raises(PermissionDenied):
        service.send_reminders(db_session, build.actor(district.bureau_staff), NOW, scheduled.id)


# --- the seasonal calendar -----------------------------------------------------------------------


def test_monthly_proposals_are_drafts_of_the_month_and_idempotent(db_session, admin, district):
    service.load_tip_library(db_session)
    june_first = local(2027, 6, 1, 8, 0)
    created = service.propose_monthly_tips(db_session, june_first)
    drafts = db_session.scalars(select(TipBroadcast).where(TipBroadcast.id.in_(created))).all()
    codes = sorted(b.tip.code for b in drafts)
    assert codes == sorted(
        ["TIP-06", "TIP-07", "TIP-08", "TIP-09", "TIP-10", "TIP-11", "TIP-12", "TIP-13", "TIP-14", "TIP-15"]
        + ["TIP-24", "TIP-25", "CSK-06"]
    )
    assert {b.status for b in drafts} == {BroadcastStatus.DRAFT}
    assert {b.proposed_month for b in drafts} == {"2027-06"}
    assert {b.send_at for b in drafts} == {local(2027, 6, 3, 9, 30)}
    tip12 = next(b for b in drafts if b.tip.code == "TIP-12")
    assert tip12.audience == tip12.tip.audience
    # Nothing is sent before the bureau approves.
    assert service.due_broadcast_ids(db_session, local(2027, 6, 4)) == []
    # Again, later that month, after the bureau turned one down: nothing new.
    service.cancel_broadcast(db_session, admin, june_first, tip12.id)
    assert service.propose_monthly_tips(db_session, june_first) == []
    assert service.propose_monthly_tips(db_session, local(2027, 6, 5, 11)) == []
    assert db_session.scalar(select(func.count()).select_from(TipBroadcast)) == 13
    # The next month proposes its own tips.
    july = service.propose_monthly_tips(db_session, local(2027, 7, 1, 8, 0))
    july_codes = db_session.scalars(
        select(Tip.code).join(TipBroadcast).where(TipBroadcast.id.in_(july))
    ).all()
    assert "TIP-28" in july_codes and "CSK-07" in july_codes and "TIP-06" not in july_codes
    assert len(july) == 12 and db_session.scalar(select(func.count()).select_from(TipBroadcast)) == 25


def test_late_proposals_suggest_the_next_morning_and_retired_tips_are_not_proposed(db_session):
    service.load_tip_library(db_session)
    db_session.execute(update(Tip).where(Tip.code == "TIP-24").values(active=False))
    late = local(2027, 1, 5, 14, 0)
    created = service.propose_monthly_tips(db_session, late)
    drafts = db_session.scalars(select(TipBroadcast).where(TipBroadcast.id.in_(created))).all()
    assert "TIP-24" not in {b.tip.code for b in drafts}
    assert {b.send_at for b in drafts} == {local(2027, 1, 6, 9, 30)}


def test_approving_a_draft_schedules_it_and_the_job_releases_it(db_session, admin, district):
    service.load_tip_library(db_session)
    created = service.propose_monthly_tips(db_session, local(2027, 6, 1, 8, 0))
    draft = db_session.scalar(
        select(TipBroadcast).join(Tip).where(TipBroadcast.id.in_(created), Tip.code == "TIP-13")
    )
    approved_at = local(2027, 6, 2, 9, 0)
    service.schedule_broadcast(
        db_session,
        admin,
        approved_at,
        draft.id,
        {"topics": ["ammonia_refrigeration"], "towns": [district.south.id], "send_at": "2027-06-03T09:30"},
    )
    assert draft.status is BroadcastStatus.SCHEDULED
    assert service.due_broadcast_ids(db_session, local(2027, 6, 3, 9, 29)) == []
    result = service.release_broadcast(db_session, draft.id, local(2027, 6, 3, 9, 30))
    assert result.recipients == 1
    assert [r.recipient_user_id for r in outbox_rows(db_session, f"tip:{draft.id}:")] == [
        district.cold_worker.id
    ]
    history = db_session.scalars(
        select(TipBroadcastEvent)
        .where(TipBroadcastEvent.broadcast_id == draft.id)
        .order_by(TipBroadcastEvent.id)
    ).all()
    assert [(e.action, e.actor_id) for e in history] == [
        ("propose", None),
        ("schedule", admin.user_id),
        ("release", None),
    ]
    assert history[-1].data == {"recipients": 1, "enqueued": 1, "delivery": "task"}


@pytest.mark.postgres_only
def test_fan_out_of_ten_thousand_recipients_is_set_based(db_session, build, admin):
    """10 000 members: two statements, not a round trip each (bench/fanout.py measures 100 000)."""
    town = build.town()
    enterprise = build.enterprise(town=town)
    users = [
        {
            "display_name": f"工人{n}",
            "phone": "",
            "openid": f"o-fan-{n:08d}",
            "subscribed": True,
            "is_active": True,
        }
        for n in range(10_000)
    ]
    db_session.execute(User.__table__.insert(), users)
    ids = db_session.scalars(select(User.id).where(User.openid.startswith("o-fan-"))).all()
    db_session.execute(
        Membership.__table__.insert(),
        [{"user_id": uid, "enterprise_id": enterprise.id, "role": "worker", "active": True} for uid in ids],
    )
    broadcast = service.create_broadcast(db_session, admin, NOW, custom(NOW, towns=[town.id]))
    statements: list[str] = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(db_session.get_bind(), "before_cursor_execute", listener)
    try:
        result = service.release_broadcast(db_session, broadcast.id, NOW)
    finally:
        event.remove(db_session.get_bind(), "before_cursor_execute", listener)
    assert result.recipients == 10_000 and result.enqueued == 10_000
    assert len(statements) < 15
