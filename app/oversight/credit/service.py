"""Use cases of the credit list: list an enterprise (重点关注 or 严重失信主体, with reason, basis,
dates and the 四个一律 flags) and delist it with a reason. Both keep
`Enterprise.credit_status` in step and tell the enterprise's managers and admins through the
outbox.

Every verb takes (session, actor, now, …), checks the actor against domain.py, writes,
flushes; the caller commits."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.accounts.domain import Actor
from app.clock import local_today
from app.enterprises import service as enterprise_service
from app.enterprises.models import Enterprise
from app.errors import Conflict
from app.ids import parse_id
from app.notifications.service import enqueue_many, outbox_row
from app.oversight.credit import queries
from app.oversight.credit.domain import (
    FLAG_NAMES,
    LIST_KIND_LABELS,
    STATUS_WHEN_DELISTED,
    checked,
    chinese_date,
    clean_basis,
    clean_decision_no,
    clean_delist_reason,
    clean_reason,
    delisting_date,
    invalid,
    listing_dates,
    parse_date,
    parse_kind,
    require_manage,
    status_when_listed,
)
from app.oversight.credit.models import CreditRecord
from app.oversight.credit.notices import CREDIT_DELISTED, CREDIT_LISTED


def _enterprise(session: Session, actor: Actor, value: Any) -> Enterprise:
    """The enterprise a form names, if the actor may see it. Raises ValidationFailed,
    NotFound."""
    enterprise_id = value if isinstance(value, int) else parse_id(str(value or ""))
    if enterprise_id is None:
        raise invalid("enterprise_id", "请先按名称或统一社会信用代码查找并选择企业")
    return enterprise_service.get_enterprise(session, actor, enterprise_id)


def _already_listed(enterprise: Enterprise, record: CreditRecord) -> Conflict:
    return Conflict(
        f"{enterprise.name}已在{LIST_KIND_LABELS[record.list_kind]}中（{chinese_date(record.listed_on)}列入）。"
        "同一企业同时只能有一条有效记录；如需改列其他名单，请先填写理由将其移出，再重新列入。"
    )


def _notify(session: Session, kind: str, record: CreditRecord, enterprise: Enterprise, reason: str,
            day: str, now: datetime, step: str) -> int:
    payload = {
        "record_id": record.id,
        "enterprise_id": enterprise.id,
        "enterprise_name": enterprise.name,
        "list_name": LIST_KIND_LABELS[record.list_kind],
        "reason": reason,
        "day": day,
        "at": now.isoformat(),
    }
    rows = [
        outbox_row(kind, user_id, payload, f"credit:{record.id}:{step}:{user_id}", now)
        for user_id in queries.recipients(session, enterprise.id)
    ]
    return enqueue_many(session, rows)


def list_enterprise(session: Session, actor: Actor, now: datetime, data: dict[str, Any]) -> CreditRecord:
    """Put an enterprise on a list: `enterprise_id`, `list_kind` (watchlist |
    serious_discredit), `reason`, `basis`, optional `decision_no`, `listed_on` (default
    today), `review_on` (default by the list's term) and the flags (restrict_market, publicize,
    occupational_ban, industry_ban). Sets its credit_status and queues a notice to its
    managers and admins. Raises NotFound, PermissionDenied (not the bureau admin),
    ValidationFailed, Conflict (already on a list)."""
    enterprise = _enterprise(session, actor, data.get("enterprise_id"))
    require_manage(actor, enterprise.ref)
    kind = parse_kind(data.get("list_kind"))
    reason = clean_reason(data.get("reason"))
    basis = clean_basis(data.get("basis"))
    decision_no = clean_decision_no(data.get("decision_no"))
    dates = listing_dates(
        kind,
        parse_date(data.get("listed_on"), "listed_on", "列入日期"),
        parse_date(data.get("review_on"), "review_on", "复核（到期）日期"),
        local_today(now),
    )
    current = queries.active_record(session, enterprise.id)
    if current is not None:
        raise _already_listed(enterprise, current)
    record = CreditRecord(
        enterprise_id=enterprise.id,
        list_kind=kind,
        reason=reason,
        basis=basis,
        decision_no=decision_no,
        listed_on=dates.listed_on,
        review_on=dates.review_on,
        listed_by_id=actor.user_id,
        created_at=now,
        **{name: checked(data.get(name)) for name in FLAG_NAMES},
    )
    try:
        with session.begin_nested():
            session.add(record)
            session.flush()
    except IntegrityError:
        # Listed by someone else between the check and the insert (the partial unique index).
        current = queries.active_record(session, enterprise.id)
        if current is None:
            raise
        raise _already_listed(enterprise, current) from None
    enterprise.credit_status = status_when_listed(kind)
    _notify(session, CREDIT_LISTED, record, enterprise, reason, dates.listed_on.isoformat(), now, "listed")
    session.flush()
    return record


def delist(session: Session, actor: Actor, now: datetime, record_id: int, data: dict[str, Any]) -> CreditRecord:
    """Lift an active listing with a reason (`delist_reason`, or `reason`), dated today: the
    record stays in the history, the enterprise's credit_status goes back to normal and its
    managers and admins are told. Raises NotFound, PermissionDenied, ValidationFailed
    (no reason), Conflict (already delisted)."""
    record = queries.get_record(session, actor, record_id)
    enterprise = session.get(Enterprise, record.enterprise_id)
    require_manage(actor, enterprise.ref)
    if record.delisted_on is not None:
        raise Conflict(
            f"该记录已于{chinese_date(record.delisted_on)}移出名单，不能重复移出。"
        )
    value = data.get("delist_reason") if "delist_reason" in data else data.get("reason")
    reason = clean_delist_reason(value)
    record.delisted_on = delisting_date(record.listed_on, local_today(now))
    record.delist_reason = reason
    record.delisted_by_id = actor.user_id
    record.delisted_at = now
    enterprise.credit_status = STATUS_WHEN_DELISTED
    _notify(session, CREDIT_DELISTED, record, enterprise, reason, record.delisted_on.isoformat(), now, "delisted")
    session.flush()
    return record
