"""General tips as mass messages (群发) by town tag. Take (session, now, …) for the jobs,
flush, never commit.

- Every follower carries the WeChat tag of one town: their *home town*, the town of the
  enterprise of their first active membership (lowest id), so a tag send reaches each
  person once even when they work in enterprises of two towns. `sync_town_tag` keeps a
  town's tag in step with the members (tags/create once, then batchtagging/batchuntagging
  the difference, 50 openids per call) and remembers what it set in `tip_tag_members`.
- At release (`fan_out_mass`, called by `service.release_broadcast`) the broadcast's
  recipients are the reachable members whose home town is one of its towns (all towns when
  none is chosen), minus those who already had 4 mass messages this calendar month
  (Asia/Shanghai) — WeChat would filter them anyway; they get no receipt and are counted in
  `over_quota_count`. Each recipient's monthly count goes up by one, and one pending
  `TipMassSend` is written per town.
- The send job (`send_mass`) syncs the town's tag and calls message/mass/sendall with a
  `clientmsgid` of the row, so a retried job cannot send twice; WeChat's MASSSENDJOBFINISH
  (`record_mass_result`, from the callback) brings the totals.

WeChat is called only from the jobs, never inside a request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, String, delete, func, literal, select, update
from sqlalchemy.orm import Session

from app.database import UTCDateTime, insert_ignoring_conflicts
from app.enterprises.models import Town
from app.tips.domain import (
    MASS_PER_FOLLOWER_PER_MONTH,
    MAX_MASS_ATTEMPTS,
    Audience,
    MassStatus,
    mass_client_msg_id,
    mass_finish_status,
    mass_text,
    quota_month,
    tip_path,
    town_tag_name,
)
from app.tips.models import TipBroadcast, TipMassQuota, TipMassSend, TipReceipt, TipTagMember, TipTownTag
from app.tips.queries import home_town_of, mass_candidates, quota_used
from app.wechat import mass as wx_mass
from app.wechat.client import DuplicateRequest, WeChatAPIError, get_wechat_client

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MassFanOut:
    recipients: int
    over_quota: int
    towns: int


def fan_out_mass(session: Session, broadcast: TipBroadcast, now: datetime) -> MassFanOut:
    """Receipts, monthly counts and one pending mass send per town for a mass broadcast
    being released (set-based; re-running writes nothing new)."""
    audience = Audience.from_json(broadcast.audience)
    month = quota_month(now)
    candidates = mass_candidates(audience).subquery()
    used = quota_used(candidates.c.user_id, month)
    within = used < MASS_PER_FOLLOWER_PER_MONTH
    # One pass for the numbers (per town: within the quota; over it), one for the receipts.
    per_town = session.execute(
        select(candidates.c.town_id, func.count().filter(within), func.count().filter(~within))
        .group_by(candidates.c.town_id)
        .order_by(candidates.c.town_id)
    ).all()
    over = sum(n for _, _, n in per_town)
    written = session.execute(
        insert_ignoring_conflicts(session, TipReceipt)
        .from_select(
            ["broadcast_id", "user_id", "created_at"],
            select(literal(broadcast.id, Integer), candidates.c.user_id, literal(now, UTCDateTime())).where(within),
        )
        .on_conflict_do_nothing(index_elements=["broadcast_id", "user_id"])
        .execution_options(preserve_rowcount=True)
    ).rowcount
    if written:
        # One more mass message this month for each recipient: make sure a row exists, then
        # count. (A re-run writes no receipts and so counts nobody twice.)
        session.execute(
            insert_ignoring_conflicts(session, TipMassQuota)
            .from_select(
                ["user_id", "month", "used"],
                select(TipReceipt.user_id, literal(month, String), literal(0, Integer)).where(
                    TipReceipt.broadcast_id == broadcast.id
                ),
            )
            .on_conflict_do_nothing(index_elements=["user_id", "month"])
        )
        session.execute(
            update(TipMassQuota)
            .where(
                TipMassQuota.month == month,
                TipMassQuota.user_id.in_(select(TipReceipt.user_id).where(TipReceipt.broadcast_id == broadcast.id)),
            )
            .values(used=TipMassQuota.used + 1)
            .execution_options(synchronize_session=False)
        )
    for town_id, count, _over in per_town:
        if not count:
            continue
        session.execute(
            insert_ignoring_conflicts(session, TipMassSend)
            .values(
                broadcast_id=broadcast.id,
                town_id=town_id,
                status=MassStatus.PENDING.value,
                recipients=count,
                attempts=0,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["broadcast_id", "town_id"])
        )
    broadcast.over_quota_count = over
    session.flush()
    return MassFanOut(sum(c for _, c, _ in per_town), over, sum(1 for _, c, _ in per_town if c))


# --- tags ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TagSync:
    tag_id: int
    added: int
    removed: int
    calls: int


@dataclass(frozen=True)
class _TagPlan:
    """What a town's tag sync needs from the database, as plain values."""

    town_id: int
    name: str
    tag_id: int | None  # None: the town has no tag yet
    desired: dict[int, str]  # user id → openid of those whose home town it is
    current: dict[int, tuple[int, str]]  # user id → (tag id, openid) as last set


def _reading() -> Session:
    """A session of its own for what a job reads before it calls WeChat, closed before the
    call: no transaction of ours stays open while WeChat answers. (On SQLite every
    transaction holds the write lock — BEGIN IMMEDIATE — and the sandbox's in-process fake
    WeChat reads the database.) The job's own session writes only after the calls."""
    from app.extensions import db

    return db.new_session()


def _tag_plan(reader: Session, town_id: int) -> _TagPlan:
    town = reader.get(Town, town_id)
    if town is None:
        raise ValueError(f"unknown town {town_id}")
    tag = reader.get(TipTownTag, town.id)
    desired = {int(u): str(o) for u, o in reader.execute(home_town_of(town.id)).all()}
    current = {
        row.user_id: (row.wx_tag_id, row.openid)
        for row in reader.scalars(
            select(TipTagMember).where(
                (TipTagMember.town_id == town.id) | TipTagMember.user_id.in_(list(desired) or [-1])
            )
        )
    }
    return _TagPlan(town.id, town_tag_name(town.name), tag.wx_tag_id if tag else None, desired, current)


def _tag_calls(client: Any, plan: _TagPlan, now: datetime) -> tuple[TagSync, Callable[[Session], None]]:
    """The WeChat half of a town's tag sync: create the tag when missing, untag those who
    left (or moved to another town's tag), tag the newcomers, 50 openids per call. Returns
    the outcome and the writes that record it, for the job's session after the calls."""
    tag_id = plan.tag_id if plan.tag_id is not None else wx_mass.ensure_tag(client, plan.name)
    stale: dict[int, list[tuple[int, str]]] = {}
    for user_id, (wx_tag, openid) in plan.current.items():
        if wx_tag != tag_id or plan.desired.get(user_id) != openid:
            stale.setdefault(wx_tag, []).append((user_id, openid))
    gone = {user_id for rows in stale.values() for user_id, _ in rows}
    newcomers = [(u, o) for u, o in plan.desired.items() if u not in plan.current or u in gone]
    calls = 0
    for old_tag, rows in stale.items():
        calls += wx_mass.tag_openids(client, old_tag, [openid for _, openid in rows], add=False)
    if newcomers:
        calls += wx_mass.tag_openids(client, tag_id, [openid for _, openid in newcomers])

    def record(session: Session) -> None:
        row = session.get(TipTownTag, plan.town_id)
        if row is None:
            row = TipTownTag(town_id=plan.town_id, wx_tag_id=tag_id, name=plan.name)
            session.add(row)
        if gone:
            session.execute(delete(TipTagMember).where(TipTagMember.user_id.in_(sorted(gone))))
        session.add_all(
            TipTagMember(user_id=u, openid=o, town_id=plan.town_id, wx_tag_id=tag_id, tagged_at=now)
            for u, o in newcomers
        )
        row.synced_at = now
        session.flush()

    return TagSync(tag_id, len(newcomers), len(gone - set(plan.desired)), calls), record


def sync_town_tag(session: Session, town_id: int, now: datetime, client: Any | None = None) -> TagSync:
    """Make the town's WeChat tag carry exactly the reachable members whose home town it is,
    then record what was set. Raises WeChatAPIError (nothing written; the next run does it
    again — tagging is idempotent at WeChat)."""
    with _reading() as reader:
        plan = _tag_plan(reader, town_id)
    result, record = _tag_calls(client or get_wechat_client(), plan, now)
    record(session)
    return result


def sync_all_tags(session: Session, now: datetime) -> dict[str, int]:
    """The hourly job: every town's tag in step, written once all calls are done. A town
    whose sync fails is logged and left for the next run."""
    client = get_wechat_client()
    totals = {"towns": 0, "added": 0, "removed": 0, "failed": 0}
    records: list[Callable[[Session], None]] = []
    with _reading() as reader:
        plans = [_tag_plan(reader, town_id) for town_id in reader.scalars(select(Town.id).order_by(Town.id))]
    for plan in plans:
        try:
            result, record = _tag_calls(client, plan, now)
        except WeChatAPIError as exc:
            log.warning("tag of town %s not synced: %s", plan.town_id, exc)
            totals["failed"] += 1
            continue
        records.append(record)
        totals["towns"] += 1
        totals["added"] += result.added
        totals["removed"] += result.removed
    for record in records:
        record(session)
    return totals


# --- sending ------------------------------------------------------------------------------


# How long a submitted send may wait for its MASSSENDJOBFINISH (kept in Redis as long).
REPORT_WAIT = timedelta(seconds=wx_mass.MASS_REPORT_TTL_SECONDS)


def pending_mass_ids(session: Session, now: datetime) -> list[int]:
    """The send job's items, oldest first: mass sends waiting to be submitted, and submitted
    ones still without their report (a report that came before the msg_id was recorded
    waits in Redis)."""
    return list(
        session.scalars(
            select(TipMassSend.id)
            .where(
                (TipMassSend.status == MassStatus.PENDING)
                | (
                    (TipMassSend.status == MassStatus.SUBMITTED)
                    & TipMassSend.msg_id.is_not(None)
                    & (TipMassSend.submitted_at > now - REPORT_WAIT)
                )
            )
            .order_by(TipMassSend.id)
        )
    )


def _late_report(session: Session, mass_send_id: int, now: datetime) -> MassStatus | None:
    """A submitted send: fold in its MASSSENDJOBFINISH if it arrived (and was kept) before
    the msg_id was recorded. None when there is nothing to do."""
    from app.extensions import redis_client

    row = session.get(TipMassSend, mass_send_id)
    if row is None or row.status is not MassStatus.SUBMITTED or row.msg_id is None:
        return None
    report = wx_mass.mass_report(redis_client(), row.msg_id)
    if report is None or not record_mass_result(session, report, now):
        return None
    session.refresh(row)
    return row.status


def send_mass(session: Session, mass_send_id: int, now: datetime, client: Any | None = None) -> MassStatus | None:
    """Submit one pending mass send: sync the town's tag, then sendall a text message (title,
    summary, link to the article) with the row's clientmsgid. A refusal is kept as the
    error and retried by the next run, up to MAX_MASS_ATTEMPTS, then the send is failed.
    Returns the new status, or None when the row is not pending (already done). A
    submitted send instead gets its MASSSENDJOBFINISH folded in when the report came
    before the msg_id was recorded (kept in Redis by the callback).
    Reads in a session of its own and writes in `session` after the calls (see _reading):
    pass a session that holds no transaction yet, as the job does."""
    from flask import current_app

    with _reading() as reader:
        pending = reader.scalar(
            select(TipMassSend).where(TipMassSend.id == mass_send_id, TipMassSend.status == MassStatus.PENDING)
        )
        if pending is not None:
            broadcast = reader.get(TipBroadcast, pending.broadcast_id)
            assert broadcast is not None  # foreign key
            tip = broadcast.tip
            base_url = current_app.config["SETTINGS"].PUBLIC_BASE_URL.rstrip("/")
            content = mass_text(tip.title, tip.summary, base_url + tip_path(tip.id))
            plan = _tag_plan(reader, pending.town_id)
    if pending is None:
        return _late_report(session, mass_send_id, now)
    client = client or get_wechat_client()
    record_tags: Callable[[Session], None] | None = None
    outcome: dict[str, Any]
    try:
        tag, record_tags = _tag_calls(client, plan, now)
        job = wx_mass.send_text_to_tag(client, tag.tag_id, content, mass_client_msg_id(mass_send_id))
    except DuplicateRequest:
        # 45065: this clientmsgid went out before (an earlier attempt whose answer was lost).
        outcome = {"status": MassStatus.SUBMITTED, "submitted_at": now,
                   "last_error": "微信提示该群发已提交过（clientmsgid 重复），未重复发送。"}
    except WeChatAPIError as exc:
        log.warning("mass send %s failed: %s", mass_send_id, exc)
        outcome = {"last_error": f"群发失败：{exc}"[:2000]}
    else:
        outcome = {"status": MassStatus.SUBMITTED, "wx_tag_id": tag.tag_id, "msg_id": job.msg_id,
                   "msg_data_id": job.msg_data_id, "submitted_at": now, "last_error": None}
    # The writes, after every call.
    if record_tags is not None:
        record_tags(session)  # WeChat carries the tags now, whatever became of the send
    row = session.scalar(
        select(TipMassSend)
        .where(TipMassSend.id == mass_send_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if row is None or row.status is not MassStatus.PENDING:
        return None  # another run got there first (its clientmsgid kept WeChat from sending twice)
    row.attempts += 1
    for name, value in outcome.items():
        setattr(row, name, value)
    if row.status is MassStatus.PENDING and row.attempts >= MAX_MASS_ATTEMPTS:
        row.status = MassStatus.FAILED
        row.finished_at = now
    session.flush()
    return row.status


def record_mass_result(session: Session, fields: dict[str, Any], now: datetime) -> bool:
    """Fold WeChat's MASSSENDJOBFINISH (MsgID, Status, TotalCount, FilterCount, SentCount,
    ErrorCount) into the mass send with that msg_id. True when a row changed; False for an
    unknown MsgID (a send made elsewhere, e.g. in the MP admin) or a replayed report."""
    try:
        msg_id = int(str(fields.get("MsgID", "")).strip())
    except ValueError:
        return False
    report = str(fields.get("Status") or "").strip()

    def number(name: str) -> int | None:
        try:
            return int(str(fields.get(name, "")).strip())
        except ValueError:
            return None

    result = session.execute(
        update(TipMassSend)
        .where(TipMassSend.msg_id == msg_id, TipMassSend.status == MassStatus.SUBMITTED)
        .values(
            status=mass_finish_status(report),
            report=report[:64],
            total_count=number("TotalCount"),
            filter_count=number("FilterCount"),
            sent_count=number("SentCount"),
            error_count=number("ErrorCount"),
            finished_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)
