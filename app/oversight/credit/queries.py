"""Read side of the credit list: the records an actor may see (the bureau admin the
district's, bureau staff their towns'; nobody else), one record, an enterprise's history for
its file, the enterprises a listing form may choose from, the active marks behind the
「失信」/「重点关注」 tag, and who hears of a listing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Select, false, or_, select
from sqlalchemy.orm import Session, aliased

from app.accounts.domain import Actor, Role
from app.accounts.models import Membership, User
from app.database import count_rows, one_page
from app.enterprises.domain import CreditStatus
from app.enterprises.models import Enterprise, Town
from app.errors import NotFound
from app.oversight.credit.domain import LIST_KIND_LABELS, flag_labels, may_manage, may_view_list, review_due
from app.oversight.credit.models import CreditRecord
from app.oversight.dossier.domain import TimelineEntry, TimelineKind

# Who hears of a listing or delisting of their enterprise.
RECIPIENT_ROLES = (Role.MANAGER, Role.ENTERPRISE_ADMIN)
NOT_FOUND = "失信名单记录不存在或您无权查看。"
SEARCH_LIMIT = 20


def visible_records(actor: Actor) -> Select[tuple[CreditRecord]]:
    """SELECT of the records `actor` may see, joined to their enterprise: the bureau admin
    all, bureau staff those of enterprises in their towns, anyone else none."""
    query = select(CreditRecord).join(Enterprise, Enterprise.id == CreditRecord.enterprise_id)
    if not may_view_list(actor):
        return query.where(false())
    scope = actor.enterprise_scope()
    if scope.all:
        return query
    return query.where(Enterprise.town_id.in_(sorted(scope.town_ids)))


@dataclass(frozen=True)
class CreditFilter:
    active: bool | None = None  # None: both
    list_kind: CreditStatus | None = None
    town_id: int | None = None
    enterprise_id: int | None = None


@dataclass(frozen=True)
class RecordRow:
    """A record as the list, the file and the API show it."""

    id: int
    enterprise_id: int
    enterprise_name: str
    uscc: str
    town_id: int
    town_name: str
    list_kind: CreditStatus
    reason: str
    basis: str
    decision_no: str | None
    listed_on: date
    review_on: date
    flags: dict[str, bool]
    listed_by: str
    created_at: datetime
    delisted_on: date | None
    delist_reason: str | None
    delisted_by: str | None
    delisted_at: datetime | None

    @property
    def active(self) -> bool:
        return self.delisted_on is None

    @property
    def list_label(self) -> str:
        return LIST_KIND_LABELS[self.list_kind]

    @property
    def flag_labels(self) -> list[str]:
        return flag_labels(self.flags)

    def review_due(self, today: date) -> bool:
        return self.active and review_due(self.review_on, today)


def _rows(session: Session, query: Select) -> list[RecordRow]:
    listed_by = aliased(User)
    delisted_by = aliased(User)
    statement = (
        query.add_columns(Enterprise.name, Enterprise.uscc, Enterprise.town_id, Town.name, listed_by.display_name,
                          delisted_by.display_name)
        .join(Town, Town.id == Enterprise.town_id)
        .outerjoin(listed_by, listed_by.id == CreditRecord.listed_by_id)
        .outerjoin(delisted_by, delisted_by.id == CreditRecord.delisted_by_id)
    )
    return [
        RecordRow(
            id=r.id,
            enterprise_id=r.enterprise_id,
            enterprise_name=name,
            uscc=uscc,
            town_id=town_id,
            town_name=town_name,
            list_kind=CreditStatus(r.list_kind),
            reason=r.reason,
            basis=r.basis,
            decision_no=r.decision_no,
            listed_on=r.listed_on,
            review_on=r.review_on,
            flags=r.flags,
            listed_by=lister or "系统",
            created_at=r.created_at,
            delisted_on=r.delisted_on,
            delist_reason=r.delist_reason,
            delisted_by=(remover or "系统") if r.delisted_on else None,
            delisted_at=r.delisted_at,
        )
        for r, name, uscc, town_id, town_name, lister, remover in session.execute(statement)
    ]


def _filtered(query: Select, flt: CreditFilter) -> Select:
    if flt.active is True:
        query = query.where(CreditRecord.delisted_on.is_(None))
    elif flt.active is False:
        query = query.where(CreditRecord.delisted_on.is_not(None))
    if flt.list_kind is not None:
        query = query.where(CreditRecord.list_kind == flt.list_kind)
    if flt.town_id is not None:
        query = query.where(Enterprise.town_id == flt.town_id)
    if flt.enterprise_id is not None:
        query = query.where(CreditRecord.enterprise_id == flt.enterprise_id)
    return query


def list_records(
    session: Session, actor: Actor, flt: CreditFilter, page: int = 1, per_page: int = 50
) -> tuple[list[RecordRow], int]:
    """One page of the records `actor` may see and how many there are: active ones by
    listing date (newest first), delisted ones by delisting date (newest first)."""
    query = _filtered(visible_records(actor), flt)
    total = count_rows(session, query)
    order = (
        CreditRecord.delisted_on.is_not(None),
        CreditRecord.delisted_on.desc(),
        CreditRecord.listed_on.desc(),
        CreditRecord.id.desc(),
    )
    rows = _rows(session, one_page(query.order_by(*order), page, per_page))
    return rows, total


def get_record(session: Session, actor: Actor, record_id: int) -> CreditRecord:
    """One record `actor` may see. Raises NotFound otherwise (no existence leak)."""
    record = session.scalar(visible_records(actor).where(CreditRecord.id == record_id))
    if record is None:
        raise NotFound(NOT_FOUND)
    return record


def record_row(session: Session, record_id: int) -> RecordRow:
    """The row of a record the caller has already checked."""
    (row,) = _rows(session, select(CreditRecord).join(Enterprise, Enterprise.id == CreditRecord.enterprise_id)
                   .where(CreditRecord.id == record_id))
    return row


def active_record(session: Session, enterprise_id: int) -> CreditRecord | None:
    """The enterprise's active (not delisted) listing, if any."""
    return session.scalar(
        select(CreditRecord).where(CreditRecord.enterprise_id == enterprise_id, CreditRecord.delisted_on.is_(None))
    )


def history(session: Session, enterprise_id: int) -> list[RecordRow]:
    """Every record of an enterprise, the active one first, then newest first (for its
    file; the caller has checked that the reader may see the file)."""
    query = (
        select(CreditRecord)
        .join(Enterprise, Enterprise.id == CreditRecord.enterprise_id)
        .where(CreditRecord.enterprise_id == enterprise_id)
        .order_by(CreditRecord.delisted_on.is_not(None), CreditRecord.listed_on.desc(), CreditRecord.id.desc())
    )
    return _rows(session, query)


def active_marks(session: Session) -> dict[int, CreditStatus]:
    """{enterprise id: its list} of every active listing (a small set: the tag's source)."""
    rows = session.execute(
        select(CreditRecord.enterprise_id, CreditRecord.list_kind).where(CreditRecord.delisted_on.is_(None))
    )
    return {enterprise_id: CreditStatus(kind) for enterprise_id, kind in rows}


@dataclass(frozen=True)
class Candidate:
    id: int
    name: str
    uscc: str
    town_name: str
    credit_status: CreditStatus


def search_enterprises(session: Session, actor: Actor, text: str) -> list[Candidate]:
    """Enterprises of the actor's scope whose name or credit code contains `text` (at most
    SEARCH_LIMIT, by name): the listing form's choices."""
    needle = " ".join((text or "").split())
    if not needle:
        return []
    scope = actor.enterprise_scope()
    if scope.empty:
        return []
    pattern = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    query = (
        select(Enterprise.id, Enterprise.name, Enterprise.uscc, Town.name, Enterprise.credit_status)
        .join(Town, Town.id == Enterprise.town_id)
        .where(or_(Enterprise.name.like(pattern, escape="\\"), Enterprise.uscc.like(pattern.upper(), escape="\\")))
        .order_by(Enterprise.name, Enterprise.id)
        .limit(SEARCH_LIMIT)
    )
    if not scope.all:
        query = query.where(Enterprise.town_id.in_(sorted(scope.town_ids)))
    return [
        Candidate(id=i, name=n, uscc=u, town_name=t, credit_status=CreditStatus(c))
        for i, n, u, t, c in session.execute(query)
    ]


def recipients(session: Session, enterprise_id: int) -> list[int]:
    """User ids of the enterprise's active managers and enterprise admins, once each."""
    rows = session.scalars(
        select(Membership.user_id)
        .where(
            Membership.enterprise_id == enterprise_id,
            Membership.active.is_(True),
            Membership.role.in_(RECIPIENT_ROLES),
        )
        .distinct()
        .order_by(Membership.user_id)
    )
    return list(rows)


def _credit_link(enterprise_id: int) -> tuple[str, dict]:
    return ("dossier_console.dossier", {"enterprise_id": enterprise_id, "_anchor": "credit"})


def timeline_entries(session: Session, enterprise_id: int, n: int) -> list[TimelineEntry]:
    """The dossier's timeline entries of the credit list: each listing and each delisting
    (the newest n of each), at the moment they were recorded."""
    entries: list[TimelineEntry] = []
    listed = session.scalars(
        select(CreditRecord)
        .where(CreditRecord.enterprise_id == enterprise_id)
        .order_by(CreditRecord.created_at.desc(), CreditRecord.id.desc())
        .limit(n)
    )
    for r in listed:
        flags = "、".join(flag_labels(r.flags))
        entries.append(
            TimelineEntry(
                at=r.created_at,
                kind=TimelineKind.CREDIT,
                title=f"列入{LIST_KIND_LABELS[CreditStatus(r.list_kind)]}",
                detail=f"事由：{r.reason}" + (f"；{flags}" if flags else ""),
                link=_credit_link(enterprise_id),
                key=(8, r.id, 0),
            )
        )
    delisted = session.scalars(
        select(CreditRecord)
        .where(CreditRecord.enterprise_id == enterprise_id, CreditRecord.delisted_at.is_not(None))
        .order_by(CreditRecord.delisted_at.desc(), CreditRecord.id.desc())
        .limit(n)
    )
    for r in delisted:
        entries.append(
            TimelineEntry(
                at=r.delisted_at,
                kind=TimelineKind.CREDIT,
                title=f"移出{LIST_KIND_LABELS[CreditStatus(r.list_kind)]}",
                detail=f"理由：{r.delist_reason}",
                link=_credit_link(enterprise_id),
                key=(8, r.id, 1),
            )
        )
    return entries



@dataclass(frozen=True)
class DossierCredit:
    """The 信用记录 section of an enterprise's file: its records, whether the reader may list
    or delist it, and the day the review dates are read against."""

    rows: list[RecordRow]
    can_manage: bool
    today: date

    @property
    def active(self) -> RecordRow | None:
        return next((r for r in self.rows if r.active), None)


def dossier_credit(session: Session, actor: Actor, enterprise: Enterprise, today: date) -> DossierCredit:
    """The section for a reader the dossier has already let in."""
    return DossierCredit(rows=history(session, enterprise.id), can_manage=may_manage(actor, enterprise.ref), today=today)
