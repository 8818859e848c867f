"""Read side of the 一企一档 page: every section of one enterprise's file, each from a few
bounded queries (by the enterprise's id on indexed columns, grouped in SQL), so the page
costs the same in a district of 10 000 enterprises as in one of 8 (bench/oversight_dossier.py).

The rules are domain.py's (and enterprises.domain's, hazards.domain's, dashboard.domain's);
their SQL mirrors are here: `rectification_clauses` (tests/integration/test_dossier.py keeps it
equal to domain.rectification_counts).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.orm import Session

from app.accounts.domain import MEMBER_EVENT_LABELS, ROLE_LABELS, MemberEventKind, Role
from app.accounts.models import MemberEvent, Membership, User
from app.clock import local_today
from app.enterprises.domain import STANDARDIZATION_LABELS
from app.enterprises.models import Enterprise, Site
from app.enterprises.organisation.queries import Organisation, organisation
from app.hazard_reporting.checks.domain import CHECK_LEVEL_LABELS, CheckTaskStatus, local_instant
from app.hazard_reporting.checks.models import CheckTask
from app.hazard_reporting.dashboard.domain import LONG_RATE_WINDOW, RATE_WINDOW, LevelRate
from app.hazard_reporting.dashboard.queries import UnboundMember, level_rates, unbound_members
from app.hazard_reporting.hazards.domain import (
    ACTION_LABELS,
    OPEN_STATUSES,
    HazardAction,
    HazardLevel,
    HazardSource,
)
from app.hazard_reporting.hazards.models import Hazard, HazardEvent, MajorHazardPlan
from app.hazard_reporting.hazards.queries import overdue_clause
from app.hazard_reporting.risks.queries import RegisterSummary, register_summary
from app.hazard_reporting.schedules.models import CheckSchedule
from app.hazard_reporting.schedules.queries import SchedulesPage, schedules_page
from app.hazard_reporting.sites.queries import SiteRow, site_rows
from app.oversight.credit import queries as credit_queries
from app.oversight.dossier.domain import (
    HAZARD_WINDOW,
    NOT_FOUND_STATUSES,
    RECTIFIED_STATUSES,
    Certificate,
    RectificationRate,
    TimelineEntry,
    TimelineKind,
    certificate_state,
    merge_timeline,
)
from app.tips.domain import BroadcastStatus
from app.tips.models import Tip, TipBroadcast, TipReceipt

# How many rows the page lists where a list could grow without end (the full lists are one
# link away: the hazard list, the members page).
LIST_CAP = 20

# --- SQL mirrors of the domain rules -------------------------------------------------------------


def rectification_clauses(now: datetime, window: timedelta | None) -> tuple[ColumnElement[int], ColumnElement[int]]:
    """domain.rectification_counts in SQL: (found, rectified) of one hazard row, 0 or 1 each."""
    counted = and_(Hazard.created_at <= now, Hazard.status.not_in(sorted(NOT_FOUND_STATUSES)))
    if window is not None:
        counted = and_(counted, Hazard.created_at > now - window)
    found = case((counted, 1), else_=0)
    rectified = case((and_(counted, Hazard.status.in_(sorted(RECTIFIED_STATUSES))), 1), else_=0)
    return found, rectified


# --- members -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RoleCount:
    role: Role
    people: int
    bound: int

    @property
    def unbound(self) -> int:
        return self.people - self.bound


@dataclass(frozen=True)
class Members:
    people: int  # distinct active people
    bound: int
    by_role: list[RoleCount]
    unbound_people: list[UnboundMember]

    @property
    def unbound(self) -> int:
        return self.people - self.bound


def members(session: Session, enterprise_id: int) -> Members:
    """Active members by role (a person with two roles counts in both rows, once in the
    total), how many have bound WeChat, and who has not."""
    active = and_(Membership.enterprise_id == enterprise_id, Membership.active.is_(True), User.is_active.is_(True))
    bound_user = case((User.openid.is_not(None), User.id))
    rows = session.execute(
        select(Membership.role, func.count(func.distinct(User.id)), func.count(func.distinct(bound_user)))
        .join(User, User.id == Membership.user_id)
        .where(active)
        .group_by(Membership.role)
    ).all()
    people, bound = session.execute(
        select(func.count(func.distinct(User.id)), func.count(func.distinct(bound_user)))
        .join(Membership, Membership.user_id == User.id)
        .where(active)
    ).one()
    counts = {Role(role): RoleCount(Role(role), n, b) for role, n, b in rows}
    order = [Role.MANAGER, Role.SAFETY_OFFICER, Role.ENTERPRISE_ADMIN, Role.DEPARTMENT_HEAD, Role.TEAM_LEADER, Role.WORKER]
    return Members(
        people=people or 0,
        bound=bound or 0,
        by_role=[counts.get(role, RoleCount(role, 0, 0)) for role in order],
        unbound_people=unbound_members(session, enterprise_id),
    )


def member_user_ids(session: Session, enterprise_id: int) -> list[int]:
    """Everyone who holds or held a role in the enterprise (tips reached them as its people)."""
    return list(
        session.scalars(select(Membership.user_id).where(Membership.enterprise_id == enterprise_id).distinct())
    )


# --- schedules and on-time rates ----------------------------------------------------------------


@dataclass(frozen=True)
class Checks:
    plans: SchedulesPage
    active: int
    paused: int
    rates: list[tuple[LevelRate, LevelRate]]  # per level: (30 days, 90 days)
    windows: tuple[int, int]  # the two windows in days


def checks(session: Session, enterprise_id: int, now: datetime) -> Checks:
    plans = schedules_page(session, enterprise_id)
    rows = [r for level_rows in plans.routine.values() for r in level_rows] + plans.risk_points
    active = sum(1 for r in rows if r.schedule.active)
    short = level_rates(session, enterprise_id, now, RATE_WINDOW)
    long = level_rates(session, enterprise_id, now, LONG_RATE_WINDOW)
    return Checks(
        plans=plans,
        active=active,
        paused=len(rows) - active,
        rates=list(zip(short, long, strict=True)),
        windows=(RATE_WINDOW.days, LONG_RATE_WINDOW.days),
    )


# --- hazards -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HazardRow:
    id: int
    level: HazardLevel
    status: str
    source: HazardSource
    description: str
    created_at: datetime
    deadline: datetime | None
    overdue: bool
    supervised_at: datetime | None
    supervising_unit: str | None


@dataclass(frozen=True)
class Hazards:
    open: int
    overdue: int
    major_open: int
    major_supervised: int  # open major hazards put under the bureau's supervision (督导督办)
    recent: RectificationRate  # found in the last 90 days
    all_time: RectificationRate
    window_days: int
    open_rows: list[HazardRow]  # most urgent first, at most LIST_CAP
    supervised_rows: list[HazardRow]


def _is_open() -> ColumnElement[bool]:
    return Hazard.status.in_(sorted(OPEN_STATUSES))


def _hazard_rows(session: Session, query, now: datetime) -> list[HazardRow]:
    return [
        HazardRow(
            id=h.id,
            level=HazardLevel(h.level),
            status=h.status,
            source=HazardSource(h.source),
            description=h.description,
            created_at=h.created_at,
            deadline=h.deadline,
            overdue=bool(overdue),
            supervised_at=supervised_at,
            supervising_unit=unit,
        )
        for h, overdue, supervised_at, unit in session.execute(query)
    ]


def _hazard_select(now: datetime):
    return select(Hazard, overdue_clause(now), MajorHazardPlan.supervised_at, MajorHazardPlan.supervising_unit).outerjoin(
        MajorHazardPlan, MajorHazardPlan.hazard_id == Hazard.id
    )


def hazards(session: Session, enterprise_id: int, now: datetime) -> Hazards:
    """The hazard figures in two grouped queries, and the open and supervised lists."""
    is_open = _is_open()
    major_open = is_open & (Hazard.level == HazardLevel.MAJOR)
    found_recent, rectified_recent = rectification_clauses(now, HAZARD_WINDOW)
    found_all, rectified_all = rectification_clauses(now, None)
    row = session.execute(
        select(
            func.sum(case((is_open, 1), else_=0)),
            func.sum(case((overdue_clause(now), 1), else_=0)),
            func.sum(case((major_open, 1), else_=0)),
            func.sum(found_recent),
            func.sum(rectified_recent),
            func.sum(found_all),
            func.sum(rectified_all),
        ).where(Hazard.enterprise_id == enterprise_id)
    ).one()
    n_open, n_overdue, n_major, f_recent, r_recent, f_all, r_all = (int(v or 0) for v in row)
    supervised = major_open & MajorHazardPlan.supervised_at.is_not(None)
    n_supervised = session.scalar(
        select(func.count())
        .select_from(Hazard)
        .join(MajorHazardPlan, MajorHazardPlan.hazard_id == Hazard.id)
        .where(Hazard.enterprise_id == enterprise_id, supervised)
    )
    open_rows = _hazard_rows(
        session,
        _hazard_select(now)
        .where(Hazard.enterprise_id == enterprise_id, is_open)
        .order_by(
            case((overdue_clause(now), 0), else_=1),
            case((Hazard.level == HazardLevel.MAJOR, 0), else_=1),
            Hazard.deadline.is_(None),
            Hazard.deadline,
            Hazard.id,
        )
        .limit(LIST_CAP),
        now,
    )
    supervised_rows = _hazard_rows(
        session,
        _hazard_select(now)
        .where(Hazard.enterprise_id == enterprise_id, supervised)
        .order_by(MajorHazardPlan.supervised_at.desc(), Hazard.id)
        .limit(LIST_CAP),
        now,
    )
    return Hazards(
        open=n_open,
        overdue=n_overdue,
        major_open=n_major,
        major_supervised=n_supervised or 0,
        recent=RectificationRate(f_recent, r_recent),
        all_time=RectificationRate(f_all, r_all),
        window_days=HAZARD_WINDOW.days,
        open_rows=open_rows,
        supervised_rows=supervised_rows,
    )


# --- enforcement and credit ----------------------------------------------------------------------


@dataclass(frozen=True)
class Enforcement:
    """What the file knows of the bureau's enforcement: the current credit status and the
    hazards its inspections found. Issue 14's enforcement records (执法检查记录, the 五见) and
    recorded credit changes join this section and the timeline."""

    credit_status: str
    found: int
    open: int
    rows: list[HazardRow]


def enforcement(session: Session, enterprise: Enterprise, now: datetime) -> Enforcement:
    from_inspection = (Hazard.enterprise_id == enterprise.id) & (Hazard.source == HazardSource.ENFORCEMENT)
    found, still_open = session.execute(
        select(func.count(), func.sum(case((_is_open(), 1), else_=0))).select_from(Hazard).where(from_inspection)
    ).one()
    rows = _hazard_rows(
        session,
        _hazard_select(now).where(from_inspection).order_by(Hazard.created_at.desc(), Hazard.id.desc()).limit(LIST_CAP),
        now,
    )
    return Enforcement(credit_status=enterprise.credit_status, found=found or 0, open=int(still_open or 0), rows=rows)


# --- tips ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TipRow:
    broadcast_id: int
    title: str
    released_at: datetime | None
    recipients: int  # the enterprise's people it reached
    read: int
    acknowledged: int

    @property
    def acknowledged_percent(self) -> str:
        return f"{self.acknowledged * 100 / self.recipients:.0f}%" if self.recipients else "—"


def released_broadcast_ids(session: Session) -> list[int]:
    """The released broadcasts (a few a month). Receipts have no index by user (a broadcast
    writes 100 000 of them: tips/models.py), so an enterprise's receipts are found by probing
    their primary key (broadcast, user) with these ids × its people's ids."""
    return list(session.scalars(select(TipBroadcast.id).where(TipBroadcast.status == BroadcastStatus.RELEASED)))


def tips(session: Session, user_ids: list[int]) -> list[TipRow]:
    """The released broadcasts that reached the enterprise's people, newest first, with how
    many of them read and acknowledged each."""
    released = released_broadcast_ids(session)
    if not user_ids or not released:
        return []
    rows = session.execute(
        select(
            TipBroadcast.id,
            Tip.title,
            TipBroadcast.released_at,
            func.count(),
            func.count(TipReceipt.read_at),
            func.count(TipReceipt.acknowledged_at),
        )
        .join(TipReceipt, TipReceipt.broadcast_id == TipBroadcast.id)
        .join(Tip, Tip.id == TipBroadcast.tip_id)
        .where(TipReceipt.broadcast_id.in_(released), TipReceipt.user_id.in_(user_ids))
        .group_by(TipBroadcast.id, Tip.title, TipBroadcast.released_at)
        .order_by(TipBroadcast.released_at.desc(), TipBroadcast.id.desc())
        .limit(LIST_CAP)
    ).all()
    return [TipRow(*row) for row in rows]


# --- the timeline --------------------------------------------------------------------------------

# Hazard events that tell the file's story (photos, plan drafts and extension requests are on
# the hazard's own page).
TIMELINE_HAZARD_ACTIONS = (
    HazardAction.REPORT,
    HazardAction.UPGRADE_TO_MAJOR,
    HazardAction.ASSESS,
    HazardAction.REGISTER,
    HazardAction.APPROVE_PLAN,
    HazardAction.SUPERVISE,
    HazardAction.SUBMIT_RECTIFICATION,
    HazardAction.VERIFY,
    HazardAction.ACCEPT,
    HazardAction.REOPEN,
    HazardAction.REJECT,
)
HAZARD_LINK = "hazards_console.console_detail"


def _member_entries(session: Session, enterprise_id: int, n: int) -> list[TimelineEntry]:
    rows = session.execute(
        select(MemberEvent.id, MemberEvent.at, MemberEvent.kind, MemberEvent.reason, User.display_name, Membership.role)
        .join(Membership, Membership.id == MemberEvent.membership_id)
        .join(User, User.id == MemberEvent.user_id)
        .where(Membership.enterprise_id == enterprise_id)
        .order_by(MemberEvent.at.desc(), MemberEvent.id.desc())
        .limit(n)
    )
    return [
        TimelineEntry(
            at=at,
            kind=TimelineKind.MEMBER,
            title=f"{MEMBER_EVENT_LABELS[MemberEventKind(kind)]}：{name}（{ROLE_LABELS[Role(role)]}）",
            detail=reason or "",
            key=(1, event_id),
        )
        for event_id, at, kind, reason, name, role in rows
    ]


def _site_entries(session: Session, enterprise_id: int, n: int) -> list[TimelineEntry]:
    """Sites added, and retired ones (a site has no event table: its row's update time is
    when it was retired, as nothing else changes on a retired site)."""
    entries = []
    added = session.execute(
        select(Site.id, Site.name, Site.created_at)
        .where(Site.enterprise_id == enterprise_id)
        .order_by(Site.created_at.desc(), Site.id.desc())
        .limit(n)
    )
    for site_id, name, at in added:
        entries.append(TimelineEntry(at=at, kind=TimelineKind.SITE, title=f"新增排查点位：{name}", key=(2, site_id)))
    retired = session.execute(
        select(Site.id, Site.name, Site.updated_at)
        .where(Site.enterprise_id == enterprise_id, Site.active.is_(False))
        .order_by(Site.updated_at.desc(), Site.id.desc())
        .limit(n)
    )
    for site_id, name, at in retired:
        entries.append(TimelineEntry(at=at, kind=TimelineKind.SITE, title=f"停用排查点位：{name}", key=(3, site_id)))
    return entries


def _schedule_entries(session: Session, enterprise_id: int, n: int) -> list[TimelineEntry]:
    rows = session.execute(
        select(CheckSchedule.id, CheckSchedule.label, CheckSchedule.level, CheckSchedule.created_at)
        .where(CheckSchedule.enterprise_id == enterprise_id)
        .order_by(CheckSchedule.created_at.desc(), CheckSchedule.id.desc())
        .limit(n)
    )
    return [
        TimelineEntry(
            at=at,
            kind=TimelineKind.SCHEDULE,
            title=f"新增排查计划：{label}",
            detail="" if CHECK_LEVEL_LABELS[level] in label else CHECK_LEVEL_LABELS[level],
            key=(4, schedule_id),
        )
        for schedule_id, label, level, at in rows
    ]


def _hazard_entries(session: Session, enterprise_id: int, n: int) -> list[TimelineEntry]:
    rows = session.execute(
        select(HazardEvent.id, HazardEvent.at, HazardEvent.action, Hazard.id, Hazard.level, Hazard.source, Hazard.description)
        .join(Hazard, Hazard.id == HazardEvent.hazard_id)
        .where(Hazard.enterprise_id == enterprise_id, HazardEvent.action.in_(TIMELINE_HAZARD_ACTIONS))
        .order_by(HazardEvent.at.desc(), HazardEvent.id.desc())
        .limit(n)
    )
    entries = []
    for event_id, at, action, hazard_id, level, source, description in rows:
        action = HazardAction(action)
        by_inspection = HazardSource(source) is HazardSource.ENFORCEMENT and action is HazardAction.REPORT
        title = "执法检查发现隐患" if by_inspection else ACTION_LABELS[action]
        if HazardLevel(level) is HazardLevel.MAJOR:
            title += "（重大隐患）"
        entries.append(
            TimelineEntry(
                at=at,
                kind=TimelineKind.ENFORCEMENT if by_inspection else TimelineKind.HAZARD,
                title=title,
                detail=f"#{hazard_id} {description[:60]}",
                link=(HAZARD_LINK, {"hazard_id": hazard_id}),
                key=(5, event_id),
            )
        )
    return entries


def _missed_check_entries(session: Session, enterprise_id: int, n: int) -> list[TimelineEntry]:
    """Checks missed, at the end of their grace (when they became missed)."""
    rows = session.execute(
        select(CheckTask.id, CheckTask.grace_until, CheckTask.period_start, CheckSchedule.label)
        .join(CheckSchedule, CheckSchedule.id == CheckTask.schedule_id)
        .where(CheckTask.enterprise_id == enterprise_id, CheckTask.status == CheckTaskStatus.MISSED)
        .order_by(CheckTask.grace_until.desc(), CheckTask.id.desc())
        .limit(n)
    )
    return [
        TimelineEntry(
            at=at,
            kind=TimelineKind.CHECK,
            title=f"漏检：{label}",
            detail=f"周期 {period_start.isoformat()}",
            link=(
                "checks_console.tasks",
                {"enterprise_id": enterprise_id, "start": period_start.isoformat(), "end": period_start.isoformat()},
            ),
            key=(6, task_id),
        )
        for task_id, at, period_start, label in rows
    ]


def _tip_entries(session: Session, user_ids: list[int], n: int) -> list[TimelineEntry]:
    released = released_broadcast_ids(session)
    if not user_ids or not released:
        return []
    rows = session.execute(
        select(TipReceipt.broadcast_id, TipReceipt.user_id, TipReceipt.acknowledged_at, User.display_name, Tip.title)
        .join(TipBroadcast, TipBroadcast.id == TipReceipt.broadcast_id)
        .join(Tip, Tip.id == TipBroadcast.tip_id)
        .join(User, User.id == TipReceipt.user_id)
        .where(
            TipReceipt.broadcast_id.in_(released),
            TipReceipt.user_id.in_(user_ids),
            TipReceipt.acknowledged_at.is_not(None),
        )
        .order_by(TipReceipt.acknowledged_at.desc(), TipReceipt.broadcast_id.desc(), TipReceipt.user_id.desc())
        .limit(n)
    )
    return [
        TimelineEntry(
            at=at, kind=TimelineKind.TIP, title=f"{name} 确认已读安全提示", detail=f"《{title}》", key=(7, broadcast_id, user_id)
        )
        for broadcast_id, user_id, at, name, title in rows
    ]


def _file_entries(enterprise: Enterprise, certificate: Certificate, now: datetime) -> list[TimelineEntry]:
    """The file itself: when it was registered, the certificate's date and its expiry."""
    entries = [TimelineEntry(at=enterprise.created_at, kind=TimelineKind.FILE, title="建立企业档案", key=(0, 0))]
    if certificate.certified_on is not None:
        level = STANDARDIZATION_LABELS[certificate.level]
        certified_at = local_instant(certificate.certified_on, time(0))
        if certified_at <= now:
            entries.append(
                TimelineEntry(at=certified_at, kind=TimelineKind.FILE, title=f"取得安全生产标准化{level}证书", key=(0, 1))
            )
        if certificate.expires_on is not None:
            lapsed_at = local_instant(certificate.expires_on + timedelta(days=1), time(0))
            if lapsed_at <= now:
                entries.append(
                    TimelineEntry(at=lapsed_at, kind=TimelineKind.FILE, title=f"安全生产标准化{level}证书到期", key=(0, 2))
                )
    return entries


def timeline(
    session: Session, enterprise: Enterprise, certificate: Certificate, user_ids: list[int], now: datetime, limit: int
) -> tuple[list[TimelineEntry], bool]:
    """The newest `limit` entries of everything that happened to the enterprise, and whether
    there is more: each source cut to its newest limit + 1 in SQL, merged here."""
    n = limit + 1
    sources = [
        _file_entries(enterprise, certificate, now),
        _member_entries(session, enterprise.id, n),
        _site_entries(session, enterprise.id, n),
        _schedule_entries(session, enterprise.id, n),
        _hazard_entries(session, enterprise.id, n),
        _missed_check_entries(session, enterprise.id, n),
        _tip_entries(session, user_ids, n),
        credit_queries.timeline_entries(session, enterprise.id, n),
    ]
    return merge_timeline(sources, limit)


# --- the page ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dossier:
    enterprise: Enterprise
    certificate: Certificate
    organisation: Organisation
    sites: list[SiteRow]
    members: Members
    checks: Checks
    hazards: Hazards
    enforcement: Enforcement
    tips: list[TipRow]
    risks: RegisterSummary
    timeline: list[TimelineEntry]
    timeline_more: bool
    timeline_limit: int


def dossier(session: Session, enterprise: Enterprise, now: datetime, timeline_limit: int) -> Dossier:
    """Every section of the enterprise's file at `now` (the caller has checked the scope)."""
    certificate = certificate_state(enterprise.standardization_level, enterprise.standardization_date, local_today(now))
    user_ids = member_user_ids(session, enterprise.id)
    entries, more = timeline(session, enterprise, certificate, user_ids, now, timeline_limit)
    return Dossier(
        enterprise=enterprise,
        certificate=certificate,
        organisation=organisation(session, enterprise),
        sites=site_rows(session, enterprise.id),
        members=members(session, enterprise.id),
        checks=checks(session, enterprise.id, now),
        hazards=hazards(session, enterprise.id, now),
        enforcement=enforcement(session, enterprise, now),
        tips=tips(session, user_ids),
        risks=register_summary(session, enterprise.id),
        timeline=entries,
        timeline_more=more,
        timeline_limit=timeline_limit,
    )
