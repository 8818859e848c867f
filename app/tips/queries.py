"""Read side of safety tips: who an audience is, broadcast counts, the console lists and what
a member received."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, String, and_, case, cast, func, literal, or_, select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.sql.elements import ColumnElement

from app.accounts.domain import ROLE_LABELS, Actor
from app.accounts.models import Membership, User
from app.accounts.queries import visible_enterprises
from app.enterprises.models import Enterprise, Town
from app.notifications.domain import Channel, OutboxStatus
from app.notifications.models import OutboxMessage
from app.tips.domain import (
    BROADCAST_KEY,
    MASS_PER_FOLLOWER_PER_MONTH,
    Audience,
    BroadcastStatus,
    Delivery,
    MassStatus,
    RecipientState,
    TipKind,
    broadcast_key_prefix,
    delivery_for,
    quota_message,
    quota_month,
    recipient_state,
)
from app.tips.models import Tip, TipBroadcast, TipBroadcastEvent, TipMassQuota, TipMassSend, TipReceipt


def reachable_users() -> Select[tuple[int]]:
    """Ids of users a message can reach: active, bound to a WeChat openid, subscribed."""
    return select(User.id).where(
        User.is_active.is_(True), User.openid.is_not(None), User.subscribed.is_(True)
    )


def audience_user_ids(audience: Audience) -> Select[tuple[int]]:
    """SELECT of the ids of every reachable user holding an active membership in an
    enterprise (and role) the audience covers. Set-based: the fan-out inserts from it."""
    members = (
        select(Membership.user_id)
        .join(Enterprise, Enterprise.id == Membership.enterprise_id)
        .where(Membership.active.is_(True))
    )
    if audience.town_ids:
        members = members.where(Enterprise.town_id.in_(sorted(audience.town_ids)))
    if audience.industries:
        members = members.where(Enterprise.industry.in_(sorted(audience.industries)))
    if audience.topics:
        # Topic values are the names of the enterprise's flag columns.
        members = members.where(
            or_(*(getattr(Enterprise, t.value).is_(True) for t in sorted(audience.topics)))
        )
    if audience.roles:
        members = members.where(Membership.role.in_(sorted(audience.roles)))
    return reachable_users().where(User.id.in_(members))


def home_towns() -> Any:
    """(user_id, town_id): the town whose WeChat tag each member carries — the town of the
    enterprise of their first active membership (lowest id). One tag per person, so a mass
    send to several towns reaches each person once. Set-based (one grouped pass over the
    memberships), not a lookup per user."""
    first = (
        select(func.min(Membership.id)).where(Membership.active.is_(True)).group_by(Membership.user_id)
    )
    return (
        select(Membership.user_id, Enterprise.town_id)
        .join(Enterprise, Enterprise.id == Membership.enterprise_id)
        .where(Membership.id.in_(first))
        .subquery("home_towns")
    )


def mass_candidates(audience: Audience) -> Select[Any]:
    """(user_id, town_id) of everyone a mass broadcast to `audience` reaches by tag: the
    reachable members whose home town is one of its towns (any town when none is chosen).
    Mass broadcasts choose towns only (domain.check_mass_audience)."""
    home = home_towns()
    query = (
        select(User.id.label("user_id"), home.c.town_id.label("town_id"))
        .join(home, home.c.user_id == User.id)
        .where(User.is_active.is_(True), User.openid.is_not(None), User.subscribed.is_(True))
    )
    if audience.town_ids:
        query = query.where(home.c.town_id.in_(sorted(audience.town_ids)))
    return query


def home_town_of(town_id: int) -> Select[Any]:
    """(user id, openid) of the reachable members whose home town is `town_id`: who the
    town's WeChat tag should carry."""
    home = home_towns()
    return (
        select(User.id, User.openid)
        .join(home, home.c.user_id == User.id)
        .where(User.is_active.is_(True), User.openid.is_not(None), User.subscribed.is_(True), home.c.town_id == town_id)
    )


def quota_used(user_id: ColumnElement[int], month: str) -> ColumnElement[int]:
    """Mass messages `user_id` was sent in `month` ("2027-07"), 0 without a row."""
    return func.coalesce(
        select(TipMassQuota.used)
        .where(TipMassQuota.user_id == user_id, TipMassQuota.month == month)
        .scalar_subquery(),
        0,
    )


@dataclass(frozen=True)
class QuotaPreview:
    """Before a mass send: how many it would reach and how many of them already had their
    4 mass messages in the month it goes out."""

    month: str
    recipients: int
    over: int

    @property
    def message(self) -> str:
        return quota_message(self.over, self.recipients)


def quota_preview(session: Session, audience: Audience, at: datetime) -> QuotaPreview:
    month = quota_month(at)
    candidates = mass_candidates(audience).subquery()
    used = quota_used(candidates.c.user_id, month)
    total, over = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((used >= MASS_PER_FOLLOWER_PER_MONTH, 1), else_=0)), 0),
        ).select_from(candidates)
    ).one()
    return QuotaPreview(month, total or 0, over or 0)


def count_audience(session: Session, audience: Audience) -> int:
    """How many users the audience reaches now (the console's preview)."""
    return session.scalar(select(func.count()).select_from(audience_user_ids(audience).subquery())) or 0


@dataclass(frozen=True)
class BroadcastCounts:
    """Where a broadcast's messages stand. `sent` counts messages WeChat accepted (delivered
    ones included); `failed` those given up (refused, undeliverable or out of attempts);
    `digested` those folded into a digest-only recipient's daily digest; `read` = the H5
    article opened; `reminded` = the one reminder sent."""

    recipients: int = 0
    queued: int = 0
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    digested: int = 0
    read: int = 0
    acknowledged: int = 0
    reminded: int = 0
    # Mass broadcasts (WeChat reports totals per send, MASSSENDJOBFINISH): the sends (one per
    # town tag), those still waiting for the job or the report, what WeChat sent and failed;
    # `mass_sent` and `mass_errors` are also in `sent`/`delivered` and `failed`.
    mass_sends: int = 0
    mass_waiting: int = 0
    mass_sent: int = 0
    mass_errors: int = 0
    mass_filtered: int = 0  # followers of the tags WeChat left out (the monthly limit among them)


_COUNTED_AS = {
    OutboxStatus.QUEUED: ("queued",),
    OutboxStatus.SENT: ("sent",),
    OutboxStatus.DELIVERED: ("sent", "delivered"),
    OutboxStatus.FAILED: ("failed",),
    OutboxStatus.DEAD: ("failed",),
    OutboxStatus.DIGESTED: ("digested",),
}


def counted_as(status: OutboxStatus, channel: Channel | None) -> tuple[str, ...]:
    """The counters one outbox row adds to. A template message is delivered when WeChat's
    TEMPLATESENDJOBFINISH says so (status delivered). A customer-service message gets no
    report: WeChat accepting it (errcode 0) puts it in the chat, so its final `sent` is a
    delivery — counting only the `delivered` status left 已送达 at 0 for every tip that went
    out in the recipient's service window (tips are customer-service first)."""
    if status is OutboxStatus.SENT and channel is Channel.CUSTOM:
        return ("sent", "delivered")
    return _COUNTED_AS[status]


def broadcast_counts(session: Session, broadcast_ids: Iterable[int]) -> dict[int, BroadcastCounts]:
    """Counts for each broadcast, in two grouped queries (receipts, then the outbox statuses
    of the broadcast's messages, matched by their dedupe keys)."""
    ids = sorted(set(broadcast_ids))
    if not ids:
        return {}
    fields: dict[int, dict[str, int]] = {bid: {} for bid in ids}
    receipts = session.execute(
        select(
            TipReceipt.broadcast_id,
            func.count(),
            func.count(TipReceipt.read_at),
            func.count(TipReceipt.acknowledged_at),
            func.count(TipReceipt.reminded_at),
        )
        .where(TipReceipt.broadcast_id.in_(ids))
        .group_by(TipReceipt.broadcast_id)
    )
    for bid, recipients, read, acknowledged, reminded in receipts:
        fields[bid].update(recipients=recipients, read=read, acknowledged=acknowledged, reminded=reminded)
    # `tip:<broadcast>:<user>` built per receipt, so the join probes the unique dedupe_key index.
    prefix = (
        literal(f"{BROADCAST_KEY}:", String) + cast(TipReceipt.broadcast_id, String) + literal(":", String)
    )
    statuses = session.execute(
        select(TipReceipt.broadcast_id, OutboxMessage.status, OutboxMessage.channel, func.count())
        .join(OutboxMessage, OutboxMessage.dedupe_key == prefix + cast(TipReceipt.user_id, String))
        .where(TipReceipt.broadcast_id.in_(ids))
        .group_by(TipReceipt.broadcast_id, OutboxMessage.status, OutboxMessage.channel)
    )
    for bid, status, channel, count in statuses:
        for name in counted_as(OutboxStatus(status), Channel(channel) if channel else None):
            fields[bid][name] = fields[bid].get(name, 0) + count
    mass_rows = session.execute(
        select(
            TipMassSend.broadcast_id,
            func.count(),
            func.count().filter(TipMassSend.status.in_([MassStatus.PENDING, MassStatus.SUBMITTED])),
            func.coalesce(func.sum(TipMassSend.sent_count), 0),
            func.coalesce(func.sum(TipMassSend.error_count), 0),
            func.coalesce(func.sum(TipMassSend.total_count - TipMassSend.filter_count), 0),
        )
        .where(TipMassSend.broadcast_id.in_(ids))
        .group_by(TipMassSend.broadcast_id)
    )
    for bid, sends, waiting, sent, errors, filtered in mass_rows:
        row = fields[bid]
        row.update(mass_sends=sends, mass_waiting=waiting, mass_sent=sent, mass_errors=errors, mass_filtered=filtered)
        for name, value in (("sent", sent), ("delivered", sent), ("failed", errors)):
            row[name] = row.get(name, 0) + value
    return {bid: BroadcastCounts(**row) for bid, row in fields.items()}


@dataclass(frozen=True)
class BroadcastLists:
    drafts: list[TipBroadcast]
    scheduled: list[TipBroadcast]
    released: list[TipBroadcast]
    cancelled: list[TipBroadcast]


def list_broadcasts(
    session: Session, *, released_limit: int = 50, cancelled_limit: int = 20
) -> BroadcastLists:
    """The console's overview: drafts and scheduled ones by send time, the latest released
    and cancelled ones newest first."""

    def of(status: BroadcastStatus, *order, limit: int | None = None) -> list[TipBroadcast]:
        query = (
            select(TipBroadcast)
            .where(TipBroadcast.status == status)
            .options(selectinload(TipBroadcast.tip))
            .order_by(*order)
        )
        if limit is not None:
            query = query.limit(limit)
        return list(session.scalars(query))

    return BroadcastLists(
        drafts=of(BroadcastStatus.DRAFT, TipBroadcast.send_at, TipBroadcast.id),
        scheduled=of(BroadcastStatus.SCHEDULED, TipBroadcast.send_at, TipBroadcast.id),
        released=of(
            BroadcastStatus.RELEASED,
            TipBroadcast.released_at.desc(),
            TipBroadcast.id.desc(),
            limit=released_limit,
        ),
        cancelled=of(
            BroadcastStatus.CANCELLED,
            TipBroadcast.updated_at.desc(),
            TipBroadcast.id.desc(),
            limit=cancelled_limit,
        ),
    )


def broadcast_events(session: Session, broadcast_id: int) -> list[TipBroadcastEvent]:
    return list(
        session.scalars(
            select(TipBroadcastEvent)
            .where(TipBroadcastEvent.broadcast_id == broadcast_id)
            .order_by(TipBroadcastEvent.at, TipBroadcastEvent.id)
        )
    )


def library(session: Session) -> list[Tip]:
    """The active library (seasonal tips, then confined-space knowledge), in file order."""
    return list(
        session.scalars(
            select(Tip).where(Tip.kind != TipKind.CUSTOM, Tip.active.is_(True)).order_by(Tip.position, Tip.id)
        )
    )


def tip(session: Session, tip_id: int | None) -> Tip | None:
    return session.get(Tip, tip_id) if tip_id else None


def town_names(session: Session) -> dict[int, str]:
    return {town_id: name for town_id, name in session.execute(select(Town.id, Town.name))}


def all_towns(session: Session) -> list[Town]:
    return list(session.scalars(select(Town).order_by(Town.code, Town.id)))


@dataclass(frozen=True)
class ReceivedTip:
    """A tip as one member received it in one broadcast."""

    tip_id: int
    broadcast_id: int
    title: str
    summary: str
    released_at: datetime
    read_at: datetime | None
    acknowledged_at: datetime | None


def received_tips(session: Session, user_id: int, limit: int = 100) -> list[ReceivedTip]:
    """What the member received, newest first. Driven from the released broadcasts (a few a
    month), each probing the receipts' primary key (broadcast_id, user_id) once."""
    rows = session.execute(
        select(
            Tip.id,
            TipBroadcast.id,
            Tip.title,
            Tip.summary,
            TipBroadcast.released_at,
            TipReceipt.read_at,
            TipReceipt.acknowledged_at,
        )
        .select_from(TipBroadcast)
        .join(TipReceipt, and_(TipReceipt.broadcast_id == TipBroadcast.id, TipReceipt.user_id == user_id))
        .join(Tip, Tip.id == TipBroadcast.tip_id)
        .where(TipBroadcast.status == BroadcastStatus.RELEASED)
        .order_by(TipBroadcast.released_at.desc(), TipBroadcast.id.desc())
        .limit(limit)
    )
    return [ReceivedTip(*row) for row in rows]


# --- Who received a broadcast: per enterprise and per person ------------------------------

RECIPIENT_PAGE_SIZE = 50


@dataclass(frozen=True)
class RecipientFilters:
    """The lists' filters, from the query string (already range-checked ids)."""

    town_id: int | None = None
    enterprise_id: int | None = None
    state: RecipientState | None = None
    page: int = 1

    def query_args(self, page: int | None = None) -> dict[str, Any]:
        args: dict[str, Any] = {"page": page or self.page}
        if self.town_id:
            args["town"] = self.town_id
        if self.enterprise_id:
            args["enterprise"] = self.enterprise_id
        if self.state:
            args["state"] = self.state.value
        return args


def _visible_enterprise_ids(actor: Actor) -> Select[Any]:
    return visible_enterprises(actor).with_only_columns(Enterprise.id)


def _recipient_rows(
    actor: Actor, broadcast_id: int, filters: RecipientFilters, *columns: Any
) -> Select[Any]:
    """Receipt × active membership in an enterprise the actor may see."""
    query = (
        select(*(columns or (TipReceipt, Membership, Enterprise, Town, User)))
        .select_from(TipReceipt)
        .join(Membership, and_(Membership.user_id == TipReceipt.user_id, Membership.active.is_(True)))
        .join(Enterprise, Enterprise.id == Membership.enterprise_id)
        .join(Town, Town.id == Enterprise.town_id)
        .join(User, User.id == TipReceipt.user_id)
        .where(TipReceipt.broadcast_id == broadcast_id, Enterprise.id.in_(_visible_enterprise_ids(actor)))
    )
    if filters.town_id:
        query = query.where(Enterprise.town_id == filters.town_id)
    if filters.enterprise_id:
        query = query.where(Enterprise.id == filters.enterprise_id)
    if filters.state is RecipientState.ACKNOWLEDGED:
        query = query.where(TipReceipt.acknowledged_at.is_not(None))
    elif filters.state is RecipientState.READ:
        query = query.where(TipReceipt.acknowledged_at.is_(None), TipReceipt.read_at.is_not(None))
    elif filters.state is RecipientState.UNREAD:
        query = query.where(TipReceipt.acknowledged_at.is_(None), TipReceipt.read_at.is_(None))
    return query


@dataclass(frozen=True)
class EnterpriseRow:
    enterprise_id: int
    name: str
    town: str
    recipients: int
    delivered: int | None  # task notices only; None for a mass broadcast (totals only)
    read: int
    acknowledged: int


@dataclass(frozen=True)
class PersonRow:
    user_id: int
    name: str
    enterprise_id: int
    enterprise: str
    town: str
    role: str
    delivery: str  # the task notice's outbox status in words, or 群发
    read_at: datetime | None
    acknowledged_at: datetime | None
    state: RecipientState


@dataclass(frozen=True)
class Paged:
    rows: list[Any]
    total: int
    page: int
    pages: int


def _pages(total: int) -> int:
    return max(1, -(-total // RECIPIENT_PAGE_SIZE))


def enterprise_recipients(
    session: Session, actor: Actor, broadcast: TipBroadcast, filters: RecipientFilters
) -> Paged:
    """One row per enterprise (the actor's scope) with its recipients, deliveries (task
    notices), readers and acknowledgements, most recipients first."""
    base = _recipient_rows(
        actor,
        broadcast.id,
        RecipientFilters(town_id=filters.town_id),
        Enterprise.id.label("enterprise_id"),
        TipReceipt.user_id,
        TipReceipt.read_at,
        TipReceipt.acknowledged_at,
    ).subquery()
    task = delivery_for(broadcast.requires_ack) is Delivery.TASK
    delivered = (
        func.count(OutboxMessage.id).filter(
            or_(
                OutboxMessage.status == OutboxStatus.DELIVERED,
                and_(OutboxMessage.status == OutboxStatus.SENT, OutboxMessage.channel == Channel.CUSTOM),
            )
        )
        if task
        else literal(None)
    )
    grouped = (
        select(
            base.c.enterprise_id,
            func.count(),
            delivered,
            func.count(base.c.read_at),
            func.count(base.c.acknowledged_at),
        )
        .select_from(base)
        .group_by(base.c.enterprise_id)
    )
    if task:
        grouped = grouped.outerjoin(
            OutboxMessage,
            OutboxMessage.dedupe_key
            == literal(broadcast_key_prefix(broadcast.id), String) + cast(base.c.user_id, String),
        )
    rows = session.execute(grouped).all()
    names = {
        e.id: (e.name, town)
        for e, town in session.execute(
            select(Enterprise, Town.name)
            .join(Town, Town.id == Enterprise.town_id)
            .where(Enterprise.id.in_([r[0] for r in rows] or [-1]))
        )
    }
    items = [
        EnterpriseRow(eid, names[eid][0], names[eid][1], n, d if task else None, r, a)
        for eid, n, d, r, a in rows
    ]
    items.sort(key=lambda row: (-row.recipients, row.name))
    start = (filters.page - 1) * RECIPIENT_PAGE_SIZE
    return Paged(items[start : start + RECIPIENT_PAGE_SIZE], len(items), filters.page, _pages(len(items)))


def person_recipients(
    session: Session, actor: Actor, broadcast: TipBroadcast, filters: RecipientFilters
) -> Paged:
    """One row per person and enterprise (the actor's scope), by town, enterprise, name."""
    query = _recipient_rows(actor, broadcast.id, filters)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    task = delivery_for(broadcast.requires_ack) is Delivery.TASK
    page = session.execute(
        query.order_by(Town.code, Enterprise.name, User.display_name, User.id)
        .limit(RECIPIENT_PAGE_SIZE)
        .offset((filters.page - 1) * RECIPIENT_PAGE_SIZE)
    ).all()
    outbox: dict[int, tuple[OutboxStatus, Channel | None]] = {}
    if task and page:
        keys = {broadcast_key_prefix(broadcast.id) + str(r[0].user_id): r[0].user_id for r in page}
        for key, status, channel in session.execute(
            select(OutboxMessage.dedupe_key, OutboxMessage.status, OutboxMessage.channel).where(
                OutboxMessage.dedupe_key.in_(list(keys))
            )
        ):
            outbox[keys[key]] = (OutboxStatus(status), Channel(channel) if channel else None)
    rows = []
    for receipt, membership, enterprise, town, user in page:
        if task:
            status, channel = outbox.get(receipt.user_id, (None, None))
            delivery = task_delivery_label(status, channel)
        else:
            delivery = "群发（微信只报总数）"
        rows.append(
            PersonRow(
                user.id,
                user.display_name,
                enterprise.id,
                enterprise.name,
                town.name,
                ROLE_LABELS[membership.role],
                delivery,
                receipt.read_at,
                receipt.acknowledged_at,
                recipient_state(receipt.read_at, receipt.acknowledged_at),
            )
        )
    return Paged(rows, total, filters.page, _pages(total))


def task_delivery_label(status: OutboxStatus | None, channel: Channel | None) -> str:
    """A task notice's outbox state in words."""
    if status is None:
        return "—"
    if status is OutboxStatus.SENT:
        return "已送达（客服消息）" if channel is Channel.CUSTOM else "已发出，待微信回执"
    return {
        OutboxStatus.QUEUED: "待发送",
        OutboxStatus.DELIVERED: "已送达",
        OutboxStatus.FAILED: "发送失败",
        OutboxStatus.DEAD: "发送失败",
        OutboxStatus.DIGESTED: "并入每日汇总",
    }[status]


def broadcast_towns(session: Session, actor: Actor) -> list[Town]:
    """The towns the actor may filter by."""
    scope = actor.enterprise_scope()
    query = select(Town).order_by(Town.code, Town.id)
    if not scope.all:
        query = query.where(Town.id.in_(sorted(scope.town_ids) or [-1]))
    return list(session.scalars(query))


def mass_sends(session: Session, broadcast_id: int) -> list[tuple[TipMassSend, str]]:
    """A broadcast's mass sends with their town names."""
    return list(
        session.execute(
            select(TipMassSend, Town.name)
            .join(Town, Town.id == TipMassSend.town_id)
            .where(TipMassSend.broadcast_id == broadcast_id)
            .order_by(Town.code, Town.id)
        ).all()
    )


@dataclass(frozen=True)
class TownQuota:
    town: str
    followers: int
    used_up: int  # had their 4 mass messages this month


def quota_by_town(session: Session, now: datetime) -> list[TownQuota]:
    """This month's mass-message budget per town: followers whose home town it is, and how
    many of them got their 4 already (the compose page)."""
    month = quota_month(now)
    candidates = mass_candidates(Audience()).subquery()
    used = quota_used(candidates.c.user_id, month)
    rows = session.execute(
        select(
            Town.name,
            func.count(),
            func.coalesce(func.sum(case((used >= MASS_PER_FOLLOWER_PER_MONTH, 1), else_=0)), 0),
        )
        .select_from(candidates)
        .join(Town, Town.id == candidates.c.town_id)
        .group_by(Town.id, Town.name, Town.code)
        .order_by(Town.code, Town.id)
    ).all()
    return [TownQuota(name, followers, over) for name, followers, over in rows]


def enterprise_name(session: Session, enterprise_id: int | None) -> str | None:
    return session.scalar(select(Enterprise.name).where(Enterprise.id == enterprise_id)) if enterprise_id else None
