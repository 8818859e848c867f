"""Use cases of safety tips. Take (session, actor, now, …) — or (session, now, …) for the
jobs — flush, never commit.

Library: load the data file idempotently. Broadcasts: the bureau creates, schedules (approves)
and cancels them; the seasonal calendar drafts each month's proposals; the release job fans a
due broadcast out — one receipt and one outbox message per recipient, set-based, keyed
`tip:<broadcast>:<user>` — and the bureau may remind those who have not acknowledged, once.
Members read and acknowledge on the H5 article page.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import JSON, Boolean, Integer, String, cast, func, literal, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from app.accounts.domain import Action, Actor, require
from app.database import UTCDateTime, insert_ignoring_conflicts
from app.enterprises.models import Town
from app.errors import InvalidTransition, NotFound, ValidationFailed
from app.library_load import LoadResult
from app.notifications.domain import OutboxStatus
from app.notifications.kinds import get_kind, is_urgent
from app.notifications.models import OutboxMessage
from app.tips.domain import (
    TIP_BROADCAST_KIND,
    Audience,
    BroadcastAction,
    BroadcastStatus,
    Delivery,
    TipKind,
    TipSpec,
    article_blocks,
    broadcast_key_prefix,
    broadcast_payload,
    broadcast_transition,
    check_audience_scope,
    check_mass_audience,
    check_send_at,
    default_requires_ack,
    delivery_for,
    parse_library,
    proposal_month,
    proposal_send_at,
    reminder_key_prefix,
    reminder_payload,
)
from app.tips.mass import fan_out_mass
from app.tips.models import Tip, TipBroadcast, TipBroadcastEvent, TipReceipt
from app.tips.queries import audience_user_ids, reachable_users
from app.tips.schemas import AudienceIn, BroadcastIn
from app.validation import parse

log = logging.getLogger(__name__)

DATA_FILE = Path(__file__).parent / "data" / "tips.yaml"
SUMMARY_FROM_BODY = 80  # characters of the first paragraph when a custom tip has no summary


# --- Library ------------------------------------------------------------------------------


def read_library(path: Path | None = None) -> list[TipSpec]:
    """Parse and validate the library file. Raises ValueError naming what is wrong."""
    with open(path or DATA_FILE, encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    if not isinstance(data, dict):
        raise ValueError("tip library: expected a mapping with `tips` and `knowledge`")
    return parse_library(data)


def load_tip_library(session: Session, path: Path | None = None) -> LoadResult:
    """Store the library entries of the data file, idempotently: a new code is created, a
    changed entry updated in place (broadcasts show the current text), an unchanged one left
    untouched, an entry no longer in the file retired (kept for past broadcasts, no longer
    proposed). Raises ValueError when the file is invalid."""
    specs = read_library(path)
    result = LoadResult()
    existing = {
        tip.code: tip
        for tip in session.scalars(
            select(Tip).where(Tip.code.is_not(None)).order_by(Tip.id).with_for_update()
        )
    }
    for position, spec in enumerate(specs):
        signature = spec.signature()
        tip = existing.get(spec.code)
        if tip is None:
            tip = Tip(code=spec.code, kind=spec.kind)
            session.add(tip)
            result.created.append(spec.code)
        elif tip.signature == signature and tip.active:
            tip.position = position  # the order alone is no change of content
            result.unchanged.append(spec.code)
            continue
        else:
            result.updated.append(spec.code)
        tip.kind = spec.kind
        tip.title = spec.title
        tip.summary = spec.summary
        tip.body = spec.body
        tip.months = list(spec.months)
        tip.audience = spec.audience.to_json()
        tip.signature = signature
        tip.position = position
        tip.active = True
    wanted = {spec.code for spec in specs}
    for code, tip in existing.items():
        if code not in wanted and tip.active:
            tip.active = False
            result.retired.append(code or "")
    session.flush()
    return result


# --- Broadcasts: the bureau ---------------------------------------------------------------


def _record(
    session: Session,
    broadcast: TipBroadcast,
    actor_id: int | None,
    now: datetime,
    action: BroadcastAction,
    from_status: BroadcastStatus | None,
    note: str = "",
    data: Mapping[str, Any] | None = None,
) -> None:
    session.add(
        TipBroadcastEvent(
            broadcast_id=broadcast.id,
            actor_id=actor_id,
            at=now,
            action=action,
            from_status=from_status,
            to_status=broadcast.status,
            note=note,
            data=dict(data or {}),
        )
    )


def _checked_audience(
    session: Session, actor: Actor, form: AudienceIn, now: datetime, requires_ack: bool
) -> Audience:
    audience = form.audience()
    check_audience_scope(actor, audience)
    if delivery_for(requires_ack) is Delivery.MASS:
        check_mass_audience(audience)
    if audience.town_ids:
        known = set(session.scalars(select(Town.id).where(Town.id.in_(sorted(audience.town_ids)))))
        if known != audience.town_ids:
            raise ValidationFailed.for_field("towns", "所选镇街不存在")
    check_send_at(form.send_at, now)
    return audience


def _summary_from(body: str) -> str:
    first = next((b.text for b in article_blocks(body) if b.kind == "paragraph"), body.strip())
    return first if len(first) <= SUMMARY_FROM_BODY else first[: SUMMARY_FROM_BODY - 1] + "…"


def create_broadcast(session: Session, actor: Actor, now: datetime, data: Mapping[str, Any]) -> TipBroadcast:
    """Schedule a broadcast of a library tip (`tip_id`) or of a new tip written now (title,
    optional summary, body) for an audience at `send_at`. Raises PermissionDenied without
    Action.BROADCAST_TIP or for towns outside the actor's scope, ValidationFailed on bad
    input (neither or both sources, unknown towns, a time in the past), NotFound for an
    unknown or retired library tip."""
    require(actor, Action.BROADCAST_TIP)
    form = parse(BroadcastIn, data)
    if form.tip_id is None and not (form.title and form.body):
        raise ValidationFailed(
            "请选择提示库中的条目，或填写新提示的标题和正文。",
            fields={"tip_id": "请选择提示库条目，或填写新提示"},
        )
    if form.tip_id is not None and (form.title or form.body):
        raise ValidationFailed(
            "选择了提示库条目时，不能再填写新提示的标题和正文。",
            fields={"tip_id": "只能二选一"},
        )
    if form.tip_id is not None:
        tip = session.get(Tip, form.tip_id)
        if tip is None or tip.kind is TipKind.CUSTOM or not tip.active:
            raise NotFound("提示库中没有该条目。")
        kind = tip.kind
    else:
        kind = TipKind.CUSTOM
    requires_ack = (
        form.requires_ack if form.requires_ack is not None else default_requires_ack(kind, form.audience())
    )
    audience = _checked_audience(session, actor, form, now, requires_ack)
    if form.tip_id is None:
        body = form.body or ""
        tip = Tip(
            kind=TipKind.CUSTOM,
            title=form.title or "",
            summary=form.summary or _summary_from(body),
            body=body,
            months=[],
            audience=audience.to_json(),
            created_by_id=actor.user_id,
        )
        session.add(tip)
        session.flush()
    broadcast = TipBroadcast(
        tip_id=tip.id,
        status=BroadcastStatus.SCHEDULED,
        audience=audience.to_json(),
        send_at=form.send_at,
        requires_ack=requires_ack,
        created_by_id=actor.user_id,
    )
    session.add(broadcast)
    session.flush()
    _record(session, broadcast, actor.user_id, now, BroadcastAction.CREATE, None)
    session.flush()
    return broadcast


def _locked_broadcast(session: Session, broadcast_id: int) -> TipBroadcast:
    broadcast = session.scalar(
        select(TipBroadcast)
        .where(TipBroadcast.id == broadcast_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if broadcast is None:
        raise NotFound("该推送不存在。")
    return broadcast


def get_broadcast(session: Session, actor: Actor, broadcast_id: int) -> TipBroadcast:
    """A broadcast for the console. Raises PermissionDenied without Action.BROADCAST_TIP,
    NotFound for an unknown id."""
    require(actor, Action.BROADCAST_TIP)
    broadcast = session.get(TipBroadcast, broadcast_id)
    if broadcast is None:
        raise NotFound("该推送不存在。")
    return broadcast


def schedule_broadcast(
    session: Session, actor: Actor, now: datetime, broadcast_id: int, data: Mapping[str, Any]
) -> TipBroadcast:
    """Approve a draft (or change a scheduled one): audience and send time as given.
    Raises PermissionDenied, NotFound, ValidationFailed as `create_broadcast`, and
    InvalidTransition once the broadcast was released or cancelled."""
    require(actor, Action.BROADCAST_TIP)
    form = parse(AudienceIn, data)
    broadcast = _locked_broadcast(session, broadcast_id)
    target = broadcast_transition(broadcast.status, BroadcastAction.SCHEDULE)
    requires_ack = (
        form.requires_ack
        if form.requires_ack is not None
        else default_requires_ack(broadcast.tip.kind, form.audience())
    )
    audience = _checked_audience(session, actor, form, now, requires_ack)
    before = broadcast.status
    broadcast.status = target
    broadcast.requires_ack = requires_ack
    broadcast.audience = audience.to_json()
    broadcast.send_at = form.send_at
    session.flush()
    _record(session, broadcast, actor.user_id, now, BroadcastAction.SCHEDULE, before)
    session.flush()
    return broadcast


def cancel_broadcast(
    session: Session, actor: Actor, now: datetime, broadcast_id: int, note: str = ""
) -> TipBroadcast:
    """Cancel a draft or scheduled broadcast (a cancelled proposal is not proposed again
    that month). Raises PermissionDenied, NotFound, InvalidTransition once released."""
    require(actor, Action.BROADCAST_TIP)
    broadcast = _locked_broadcast(session, broadcast_id)
    before = broadcast.status
    broadcast.status = broadcast_transition(before, BroadcastAction.CANCEL)
    session.flush()
    _record(session, broadcast, actor.user_id, now, BroadcastAction.CANCEL, before, note=note.strip()[:500])
    session.flush()
    return broadcast


# --- Broadcasts: the jobs -----------------------------------------------------------------


def propose_monthly_tips(session: Session, now: datetime) -> list[int]:
    """The seasonal calendar: one draft broadcast per active library tip whose months include
    the current month (Asia/Shanghai), with the tip's audience and the suggested send time.
    Idempotent per month — (tip, month) is unique and inserted with ON CONFLICT DO NOTHING —
    so running it again, late, or after the bureau cancelled a draft creates nothing.
    Returns the ids of the drafts created."""
    month_key = proposal_month(now)
    month = int(month_key[5:])
    send_at = proposal_send_at(now)
    created: list[int] = []
    tips = session.execute(
        select(Tip.id, Tip.months, Tip.audience, Tip.kind)
        .where(Tip.kind != TipKind.CUSTOM, Tip.active.is_(True))
        .order_by(Tip.position, Tip.id)
    ).all()
    for tip_id, months, audience, kind in tips:
        if month not in (months or ()):
            continue
        broadcast_id = session.execute(
            insert_ignoring_conflicts(session, TipBroadcast)
            .values(
                tip_id=tip_id,
                status=BroadcastStatus.DRAFT.value,
                audience=audience,
                send_at=send_at,
                proposed_month=month_key,
                requires_ack=default_requires_ack(TipKind(kind), Audience.from_json(audience)),
            )
            .on_conflict_do_nothing(index_elements=["tip_id", "proposed_month"])
            .returning(TipBroadcast.id)
        ).scalar_one_or_none()
        if broadcast_id is None:
            continue
        broadcast = session.get(TipBroadcast, broadcast_id)
        assert broadcast is not None  # just inserted in this transaction
        _record(session, broadcast, None, now, BroadcastAction.PROPOSE, None, note=f"{month_key} 季节日历")
        created.append(broadcast_id)
    session.flush()
    return created


def due_broadcast_ids(session: Session, now: datetime) -> list[int]:
    """Scheduled broadcasts whose send time has come, oldest first (the release job's items)."""
    return list(
        session.scalars(
            select(TipBroadcast.id)
            .where(TipBroadcast.status == BroadcastStatus.SCHEDULED, TipBroadcast.send_at <= now)
            .order_by(TipBroadcast.send_at, TipBroadcast.id)
        )
    )


@dataclass(frozen=True)
class ReleaseResult:
    broadcast_id: int
    recipients: int  # receipts of the broadcast
    enqueued: int  # outbox rows written by this call


def _enqueue_receipts(
    session: Session,
    *conditions: ColumnElement[bool],
    broadcast_id: int,
    kind: str,
    key_prefix: str,
    payload: dict[str, Any],
    now: datetime,
) -> int:
    """One outbox row per receipt of the broadcast matching `conditions`, in one INSERT …
    SELECT. Writes what `notifications.service.enqueue` writes for one recipient (queued, due
    now, urgency by the kind's rule, dedupe key `key_prefix + user id`) and, like it, skips
    keys that exist (ON CONFLICT DO NOTHING), so re-running writes nothing new. One statement
    instead of a round trip per recipient: 100 000 recipients in seconds. Returns the number
    of rows written. Raises KeyError for a kind the dispatcher does not know."""
    urgent = is_urgent(get_kind(kind), payload)
    source = select(
        literal(kind, String),
        TipReceipt.user_id,
        literal(payload, JSON),
        literal(key_prefix, String) + cast(TipReceipt.user_id, String),
        literal(OutboxStatus.QUEUED.value, String),
        literal(urgent, Boolean),
        literal(0, Integer),
        literal(now, UTCDateTime()),
        literal(now, UTCDateTime()),
    ).where(TipReceipt.broadcast_id == broadcast_id, *conditions)
    statement = (
        insert_ignoring_conflicts(session, OutboxMessage)
        .from_select(
            [
                "kind",
                "recipient_user_id",
                "payload",
                "dedupe_key",
                "status",
                "urgent",
                "attempts",
                "next_attempt_at",
                "created_at",
            ],
            source,
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .execution_options(preserve_rowcount=True)
    )
    return session.execute(statement).rowcount


def release_broadcast(session: Session, broadcast_id: int, now: datetime) -> ReleaseResult | None:
    """Fan a due scheduled broadcast out: resolve its audience to reachable members (active,
    bound openid, subscribed), write one receipt and one `tip_broadcast` outbox message per
    recipient (key `tip:<broadcast>:<user>`) in two set-based statements, and mark it
    released. Returns None, writing nothing, when the broadcast is not (or no longer) due:
    released, cancelled, rescheduled later, or unknown — so a repeated or late run is safe."""
    broadcast = session.scalar(
        select(TipBroadcast)
        .where(TipBroadcast.id == broadcast_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if broadcast is None or broadcast.status is not BroadcastStatus.SCHEDULED or broadcast.send_at > now:
        return None
    if delivery_for(broadcast.requires_ack) is Delivery.MASS:
        fan_out = fan_out_mass(session, broadcast, now)
        return _released(session, broadcast, now, fan_out.recipients, 0, over_quota=fan_out.over_quota)
    audience = Audience.from_json(broadcast.audience)
    recipients = audience_user_ids(audience).subquery()
    session.execute(
        insert_ignoring_conflicts(session, TipReceipt)
        .from_select(
            ["broadcast_id", "user_id", "created_at"],
            # SQLite needs a WHERE in INSERT … SELECT … ON CONFLICT (else ON parses as a join).
            select(literal(broadcast.id, Integer), recipients.c.id, literal(now, UTCDateTime())).where(
                recipients.c.id.is_not(None)
            ),
        )
        .on_conflict_do_nothing(index_elements=["broadcast_id", "user_id"])
    )
    tip = broadcast.tip
    payload = broadcast_payload(
        broadcast_id=broadcast.id,
        tip_id=tip.id,
        tip_code=tip.code,
        title=tip.title,
        summary=tip.summary,
        at=now,
    )
    enqueued = _enqueue_receipts(
        session,
        broadcast_id=broadcast.id,
        kind=TIP_BROADCAST_KIND,
        key_prefix=broadcast_key_prefix(broadcast.id),
        payload=payload,
        now=now,
    )
    total = session.scalar(
        select(func.count()).select_from(TipReceipt).where(TipReceipt.broadcast_id == broadcast.id)
    )
    return _released(session, broadcast, now, total or 0, enqueued)


def _released(
    session: Session, broadcast: TipBroadcast, now: datetime, total: int, enqueued: int, *, over_quota: int = 0
) -> ReleaseResult:
    broadcast.status = broadcast_transition(broadcast.status, BroadcastAction.RELEASE)
    broadcast.released_at = now
    broadcast.recipient_count = total
    session.flush()
    data = {"recipients": total, "enqueued": enqueued, "delivery": delivery_for(broadcast.requires_ack).value}
    if over_quota:
        data["over_quota"] = over_quota
    _record(session, broadcast, None, now, BroadcastAction.RELEASE, BroadcastStatus.SCHEDULED, data=data)
    session.flush()
    if not total:
        log.warning("tip broadcast %s released to nobody: its audience reaches no member", broadcast.id)
    return ReleaseResult(broadcast.id, total, enqueued)


def send_reminders(session: Session, actor: Actor, now: datetime, broadcast_id: int) -> int:
    """Remind, once, every recipient who has not acknowledged yet and can still be reached:
    one `tip_broadcast` message each asking for the acknowledgement (key
    `tip-reminder:<broadcast>:<user>`), and mark them
    reminded. Nobody is reminded twice: pressing again reminds nobody new. Returns how many
    were reminded. Raises PermissionDenied without Action.BROADCAST_TIP, NotFound,
    InvalidTransition before the broadcast was released."""
    require(actor, Action.BROADCAST_TIP)
    broadcast = _locked_broadcast(session, broadcast_id)
    broadcast_transition(broadcast.status, BroadcastAction.REMIND)
    if delivery_for(broadcast.requires_ack) is Delivery.MASS:
        raise InvalidTransition("群发的一般性提示不要求逐人确认，不发送提醒；需要确认的提示请以“需逐人确认”方式推送。")
    pending = (
        TipReceipt.acknowledged_at.is_(None),
        TipReceipt.reminded_at.is_(None),
        TipReceipt.user_id.in_(reachable_users()),
    )
    tip = broadcast.tip
    payload = reminder_payload(
        broadcast_payload(
            broadcast_id=broadcast.id,
            tip_id=tip.id,
            tip_code=tip.code,
            title=tip.title,
            summary=tip.summary,
            at=broadcast.released_at or now,
        )
    )
    # Messages first, then the marks, with the same condition: someone acknowledging in
    # between keeps an unused reminder row, never a second one (the key is unique).
    reminded = _enqueue_receipts(
        session,
        *pending,
        broadcast_id=broadcast.id,
        kind=TIP_BROADCAST_KIND,
        key_prefix=reminder_key_prefix(broadcast.id),
        payload=payload,
        now=now,
    )
    session.execute(
        update(TipReceipt)
        .where(TipReceipt.broadcast_id == broadcast.id, *pending)
        .values(reminded_at=now)
        .execution_options(synchronize_session=False)
    )
    if reminded:
        _record(
            session,
            broadcast,
            actor.user_id,
            now,
            BroadcastAction.REMIND,
            broadcast.status,
            data={"reminded": reminded},
        )
    session.flush()
    return reminded


# --- Members: reading and acknowledging ---------------------------------------------------


@dataclass(frozen=True)
class TipReading:
    """A tip as the member sees it: whether they received it and where they stand."""

    tip: Tip
    received: bool
    read_at: datetime | None  # first time they opened it (any broadcast of this tip)
    acknowledged_at: datetime | None  # latest acknowledgement, when nothing is pending
    awaiting_acknowledgement: bool  # a received broadcast of it is not acknowledged yet


def _own_receipts(tip_id: int, user_id: int):
    return (
        TipReceipt.user_id == user_id,
        TipReceipt.broadcast_id.in_(
            select(TipBroadcast.id).where(
                TipBroadcast.tip_id == tip_id, TipBroadcast.status == BroadcastStatus.RELEASED
            )
        ),
    )


def _reading(session: Session, tip: Tip, user_id: int) -> TipReading:
    row = session.execute(
        select(
            func.count(),
            func.min(TipReceipt.read_at),
            func.max(TipReceipt.acknowledged_at),
            func.count() - func.count(TipReceipt.acknowledged_at),
        ).where(*_own_receipts(tip.id, user_id))
    ).one()
    received, read_at, acknowledged_at, pending = row
    return TipReading(tip, bool(received), read_at, acknowledged_at, bool(pending))


def _visible_tip(session: Session, user_id: int, tip_id: int) -> Tip:
    tip = session.get(Tip, tip_id)
    if tip is not None and (tip.kind is not TipKind.CUSTOM and tip.active):
        return tip
    received = tip is not None and session.scalar(select(func.count()).where(*_own_receipts(tip_id, user_id)))
    if not received:
        raise NotFound("该安全提示不存在或未推送给您。")
    return tip  # type: ignore[return-value]  # received implies found


def open_tip(session: Session, actor: Actor, now: datetime, tip_id: int) -> TipReading:
    """The member opens the tip's article: every received, unread broadcast of it becomes
    read at `now` (the first opening counts). Library tips are readable by every member;
    custom ones only by their recipients. Raises NotFound otherwise."""
    tip = _visible_tip(session, actor.user_id, tip_id)
    session.execute(
        update(TipReceipt)
        .where(*_own_receipts(tip.id, actor.user_id), TipReceipt.read_at.is_(None))
        .values(read_at=now)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return _reading(session, tip, actor.user_id)


def acknowledge_tip(session: Session, actor: Actor, now: datetime, tip_id: int) -> int:
    """我已阅读并知晓: record the acknowledgement of every received broadcast of the tip not
    acknowledged yet (read too, if it was not). An acknowledgement is recorded once; a
    repeated press changes nothing and returns 0. Returns how many were recorded. Raises
    NotFound when the member never received the tip (there is nothing to acknowledge)."""
    tip = _visible_tip(session, actor.user_id, tip_id)
    if not session.scalar(select(func.count()).where(*_own_receipts(tip.id, actor.user_id))):
        raise NotFound("该安全提示未推送给您，无需确认。")
    stamp = literal(now, UTCDateTime())
    recorded = session.execute(
        update(TipReceipt)
        .where(*_own_receipts(tip.id, actor.user_id), TipReceipt.acknowledged_at.is_(None))
        .values(acknowledged_at=now, read_at=func.coalesce(TipReceipt.read_at, stamp))
        .execution_options(synchronize_session=False)
    ).rowcount
    session.flush()
    return recorded
