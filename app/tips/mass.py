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
from dataclasses import dataclass
from datetime import datetime
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
    over = session.scalar(select(func.count()).select_from(candidates).where(~within)) or 0
    written = session.execute(
        insert_ignoring_conflicts(session, TipReceipt)
        .from_select(
            ["broadcast_id", "user_id", "created_at"],
            select(literal(broadcast.id, Integer), candidates.c.user_id, literal(now, UTCDateTime())).where(within),
        )
        .on_conflict_do_nothing(index_elements=["broadcast_id", "user_id"])
        .execution_options(preserve_rowcount=True)
    ).rowcount
    mine = select(TipReceipt.user_id).where(TipReceipt.broadcast_id == broadcast.id)
    if written:
        # One more mass message this month for each new recipient: make sure a row exists,
        # then count. (A re-run writes no receipts and so counts nobody twice.)
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
            .where(TipMassQuota.month == month, TipMassQuota.user_id.in_(mine), TipMassQuota.user_id.in_(
                select(candidates.c.user_id).where(within)
            ))
            .values(used=TipMassQuota.used + 1)
            .execution_options(synchronize_session=False)
        )
    per_town = session.execute(
        select(candidates.c.town_id, func.count())
        .where(candidates.c.user_id.in_(mine))
        .group_by(candidates.c.town_id)
        .order_by(candidates.c.town_id)
    ).all()
    for town_id, count in per_town:
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
    return MassFanOut(sum(c for _, c in per_town), over, len(per_town))


# --- tags ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TagSync:
    tag_id: int
    added: int
    removed: int
    calls: int


def _tag_of_town(session: Session, client: Any, town: Town, now: datetime) -> TipTownTag:
    tag = session.get(TipTownTag, town.id)
    if tag is None:
        name = town_tag_name(town.name)
        tag = TipTownTag(town_id=town.id, wx_tag_id=wx_mass.ensure_tag(client, name), name=name)
        session.add(tag)
        session.flush()
    return tag


def sync_town_tag(session: Session, town_id: int, now: datetime, client: Any | None = None) -> TagSync:
    """Make the town's WeChat tag carry exactly the reachable members whose home town it is:
    create the tag when missing, untag those who left (or moved to another town's tag),
    tag the newcomers — 50 openids per call. Raises WeChatAPIError (nothing recorded for
    the chunk that failed; the next run does it again)."""
    client = client or get_wechat_client()
    town = session.get(Town, town_id)
    if town is None:
        raise ValueError(f"unknown town {town_id}")
    tag = _tag_of_town(session, client, town, now)
    desired = dict(session.execute(home_town_of(town.id)).all())  # user id → openid
    current = {
        row.user_id: row
        for row in session.scalars(
            select(TipTagMember).where(
                (TipTagMember.town_id == town.id) | TipTagMember.user_id.in_(list(desired) or [-1])
            )
        )
    }
    calls = removed = added = 0
    # Off this tag (left, unsubscribed, moved) or still on another town's tag: untag first.
    stale: dict[int, list[TipTagMember]] = {}
    for user_id, row in current.items():
        if row.wx_tag_id != tag.wx_tag_id or user_id not in desired or row.openid != desired[user_id]:
            stale.setdefault(row.wx_tag_id, []).append(row)
    for old_tag, rows in stale.items():
        calls += wx_mass.tag_openids(client, old_tag, [r.openid for r in rows], add=False)
        session.execute(delete(TipTagMember).where(TipTagMember.user_id.in_([r.user_id for r in rows])))
        removed += len(rows)
        for r in rows:
            current.pop(r.user_id, None)
    newcomers = [(user_id, openid) for user_id, openid in desired.items() if user_id not in current]
    if newcomers:
        calls += wx_mass.tag_openids(client, tag.wx_tag_id, [openid for _, openid in newcomers])
        session.add_all(
            TipTagMember(user_id=u, openid=o, town_id=town.id, wx_tag_id=tag.wx_tag_id, tagged_at=now)
            for u, o in newcomers
        )
        added = len(newcomers)
    tag.synced_at = now
    session.flush()
    return TagSync(tag.wx_tag_id, added, removed, calls)


def sync_all_tags(session: Session, now: datetime) -> dict[str, int]:
    """The hourly job: every town's tag in step. A town whose sync fails is logged and
    left for the next run."""
    totals = {"towns": 0, "added": 0, "removed": 0, "failed": 0}
    for town_id in session.scalars(select(Town.id).order_by(Town.id)):
        try:
            result = sync_town_tag(session, town_id, now)
        except WeChatAPIError as exc:
            log.warning("tag of town %s not synced: %s", town_id, exc)
            totals["failed"] += 1
            continue
        totals["towns"] += 1
        totals["added"] += result.added
        totals["removed"] += result.removed
    return totals


# --- sending ------------------------------------------------------------------------------


def pending_mass_ids(session: Session, now: datetime) -> list[int]:
    """Mass sends waiting for the send job, oldest first."""
    return list(
        session.scalars(
            select(TipMassSend.id).where(TipMassSend.status == MassStatus.PENDING).order_by(TipMassSend.id)
        )
    )


def send_mass(session: Session, mass_send_id: int, now: datetime, client: Any | None = None) -> MassStatus | None:
    """Submit one pending mass send: sync the town's tag, then sendall a text message (title,
    summary, link to the article) with the row's clientmsgid. A refusal is kept as the
    error and retried by the next run, up to MAX_MASS_ATTEMPTS, then the send is failed.
    Returns the new status, or None when the row is not pending (already done)."""
    row = session.scalar(
        select(TipMassSend)
        .where(TipMassSend.id == mass_send_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if row is None or row.status is not MassStatus.PENDING:
        return None
    from flask import current_app

    client = client or get_wechat_client()
    broadcast = session.get(TipBroadcast, row.broadcast_id)
    assert broadcast is not None  # foreign key
    tip = broadcast.tip
    base_url = current_app.config["SETTINGS"].PUBLIC_BASE_URL.rstrip("/")
    content = mass_text(tip.title, tip.summary, base_url + tip_path(tip.id))
    row.attempts += 1
    try:
        tag = sync_town_tag(session, row.town_id, now, client)
        row.wx_tag_id = tag.tag_id
        job = wx_mass.send_text_to_tag(client, tag.tag_id, content, mass_client_msg_id(row.id))
    except DuplicateRequest:
        # 45065: this clientmsgid went out before (an earlier attempt whose answer was lost).
        row.status = MassStatus.SUBMITTED
        row.submitted_at = now
        row.last_error = "微信提示该群发已提交过（clientmsgid 重复），未重复发送。"
    except WeChatAPIError as exc:
        row.last_error = f"群发失败：{exc}"[:2000]
        if row.attempts >= MAX_MASS_ATTEMPTS:
            row.status = MassStatus.FAILED
            row.finished_at = now
        log.warning("mass send %s (broadcast %s) failed: %s", row.id, row.broadcast_id, exc)
    else:
        row.status = MassStatus.SUBMITTED
        row.msg_id = job.msg_id
        row.msg_data_id = job.msg_data_id
        row.submitted_at = now
        row.last_error = None
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
