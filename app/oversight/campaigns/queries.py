"""Read side of special campaigns: the campaigns an actor may see, one campaign with its
targets and their progress (one grouped query for the hazards), the per-town roll-up, an
enterprise's campaigns and the ones still owing a self-check, the checklist items a target
checks, who hears of a launch, and the history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Select, and_, case, exists, func, or_, select
from sqlalchemy.orm import Session

from app.accounts.domain import Actor, Role
from app.accounts.models import Membership, User
from app.clock import local_today, to_local
from app.database import count_rows, one_page
from app.enterprises.domain import Topic
from app.enterprises.models import Enterprise, Town
from app.errors import NotFound
from app.hazard_reporting.checklists.domain import ChecklistKind
from app.hazard_reporting.checklists.models import Checklist, ChecklistItem, ChecklistVersion
from app.hazard_reporting.hazards.domain import HazardStatus
from app.hazard_reporting.hazards.models import Hazard
from app.oversight.campaigns.domain import (
    CampaignStatus,
    Candidate,
    Progress,
    TargetState,
    checklists_for_target,
    progress,
    target_state,
)
from app.oversight.campaigns.models import (
    Campaign,
    CampaignCheck,
    CampaignCheckItem,
    CampaignChecklist,
    CampaignEvent,
    CampaignHazard,
    CampaignTarget,
    CampaignTown,
)

# Who hears of a launch and may do the self-check (accounts.domain: DO_CAMPAIGN_CHECK).
RECIPIENT_ROLES = (Role.MANAGER, Role.SAFETY_OFFICER, Role.ENTERPRISE_ADMIN)


# --- campaigns an actor may see -------------------------------------------------------------


def visible_campaigns(actor: Actor) -> Select[tuple[Campaign]]:
    """SELECT of the campaigns `actor` may see: the bureau admin all; bureau staff those
    covering the district or one of their towns; an enterprise's members the launched
    campaigns their enterprise is a (listed) target of."""
    query = select(Campaign)
    if actor.enterprise_scope().all:
        return query
    conditions = []
    if actor.is_bureau:
        conditions.append(Campaign.all_towns.is_(True))
        if actor.bureau_town_ids:
            conditions.append(
                exists().where(
                    CampaignTown.campaign_id == Campaign.id, CampaignTown.town_id.in_(sorted(actor.bureau_town_ids))
                )
            )
    own = sorted(actor.roles)
    if own:
        conditions.append(
            and_(
                Campaign.status != CampaignStatus.DRAFT,
                exists().where(
                    CampaignTarget.campaign_id == Campaign.id,
                    CampaignTarget.enterprise_id.in_(own),
                    CampaignTarget.removed_at.is_(None),
                ),
            )
        )
    return query.where(or_(*conditions)) if conditions else query.where(Campaign.id.is_(None))


def list_campaigns(
    session: Session, actor: Actor, status: CampaignStatus | None = None, page: int = 1, per_page: int = 50
) -> tuple[list[Campaign], int]:
    """One page of the campaigns `actor` may see, newest first, and how many there are."""
    query = visible_campaigns(actor)
    if status is not None:
        query = query.where(Campaign.status == status)
    total = count_rows(session, query)
    items = session.scalars(one_page(query.order_by(Campaign.created_at.desc(), Campaign.id.desc()), page, per_page)).all()
    return list(items), total


def get_campaign(session: Session, actor: Actor, campaign_id: int) -> Campaign:
    """One campaign `actor` may see. Raises NotFound otherwise (no existence leak)."""
    campaign = session.scalar(visible_campaigns(actor).where(Campaign.id == campaign_id))
    if campaign is None:
        raise NotFound("专项整治不存在或您无权查看。")
    return campaign


# --- checklists and candidates --------------------------------------------------------------


@dataclass(frozen=True)
class StandardChecklist:
    checklist_id: int
    code: str
    name: str
    version_id: int | None  # its current version
    topics: frozenset[Topic]


def standard_checklists(session: Session) -> list[StandardChecklist]:
    """The active standard inspection checklists with their current version, in order."""
    rows = session.execute(
        select(Checklist, ChecklistVersion.id)
        .outerjoin(
            ChecklistVersion,
            and_(ChecklistVersion.checklist_id == Checklist.id, ChecklistVersion.version == Checklist.version),
        )
        .where(
            Checklist.enterprise_id.is_(None),
            Checklist.kind == ChecklistKind.INSPECTION,
            Checklist.active.is_(True),
        )
        .order_by(Checklist.position, Checklist.id)
    )
    return [
        StandardChecklist(c.id, c.code or "", c.name, version_id, _topics(c.applies_topics))
        for c, version_id in rows
    ]


def _topics(values) -> frozenset[Topic]:
    return frozenset(Topic(v) for v in values or () if v in Topic._value2member_map_)


@dataclass(frozen=True)
class PinnedChecklist:
    version_id: int
    name: str
    version: int
    topics: frozenset[Topic]


def pinned_checklists(session: Session, campaign_id: int) -> list[PinnedChecklist]:
    rows = session.execute(
        select(CampaignChecklist.version_id, Checklist.name, ChecklistVersion.version, Checklist.applies_topics)
        .join(ChecklistVersion, ChecklistVersion.id == CampaignChecklist.version_id)
        .join(Checklist, Checklist.id == ChecklistVersion.checklist_id)
        .where(CampaignChecklist.campaign_id == campaign_id)
        .order_by(CampaignChecklist.position)
    )
    return [PinnedChecklist(r.version_id, r.name, r.version, _topics(r.applies_topics)) for r in rows]


def candidates(session: Session) -> list[Candidate]:
    """Every enterprise with its town and topic flags (target selection)."""
    rows = session.execute(
        select(
            Enterprise.id,
            Enterprise.town_id,
            Enterprise.dust_explosion,
            Enterprise.confined_space,
            Enterprise.ammonia_refrigeration,
            Enterprise.metallurgical_gas,
            Enterprise.molten_metal,
        )
    )
    return [
        Candidate(r.id, r.town_id, frozenset(t for t in Topic if getattr(r, t.value))) for r in rows
    ]


@dataclass(frozen=True)
class CheckItem:
    item_id: int
    code: str
    text: str
    category: str
    on_fail: str
    refs: tuple[str, ...]
    checklist_name: str


def target_items(session: Session, campaign_id: int, enterprise: Enterprise) -> list[CheckItem]:
    """The items a target enterprise checks: the campaign's pinned checklists of its own
    flags (domain.checklists_for_target), in checklist then item order."""
    pinned = pinned_checklists(session, campaign_id)
    chosen = checklists_for_target([(p.version_id, p.topics) for p in pinned], enterprise.topics)
    names = {p.version_id: p.name for p in pinned}
    order = {version_id: i for i, version_id in enumerate(chosen)}
    rows = session.scalars(select(ChecklistItem).where(ChecklistItem.version_id.in_(chosen), ChecklistItem.enabled.is_(True)))
    items = sorted(rows, key=lambda i: (order[i.version_id], i.position, i.id))
    return [
        CheckItem(i.id, i.code, i.text, i.category.value, i.on_fail.value, tuple(i.refs or ()), names[i.version_id])
        for i in items
    ]


# --- targets and progress -------------------------------------------------------------------


@dataclass(frozen=True)
class TargetRow:
    id: int
    enterprise_id: int
    enterprise_name: str
    town_id: int
    town_name: str
    by_rule: bool
    added_reason: str | None
    removed_reason: str | None
    removed_at: datetime | None
    checked_at: datetime | None
    checked_by: str | None
    state: TargetState
    hazards: int
    rectified: int

    @property
    def listed(self) -> bool:
        return self.removed_at is None


def hazard_counts(session: Session, campaign_id: int) -> dict[int, tuple[int, int]]:
    """Per target: (hazards its self-check raised, those closed)."""
    rows = session.execute(
        select(
            CampaignHazard.target_id,
            func.count(),
            func.coalesce(func.sum(case((Hazard.status == HazardStatus.CLOSED, 1), else_=0)), 0),
        )
        .join(Hazard, Hazard.id == CampaignHazard.hazard_id)
        .where(CampaignHazard.campaign_id == campaign_id)
        .group_by(CampaignHazard.target_id)
    )
    return {target_id: (int(found), int(closed)) for target_id, found, closed in rows}


def target_rows(session: Session, actor: Actor, campaign: Campaign, now: datetime) -> list[TargetRow]:
    """The campaign's targets the actor may see (bureau staff: those in their towns), by
    town and name, with their state and hazards."""
    today = local_today(now)
    counts = hazard_counts(session, campaign.id)
    query = (
        select(CampaignTarget, Enterprise.name, Enterprise.town_id, Town.name, CampaignCheck.checked_at, User.display_name)
        .join(Enterprise, Enterprise.id == CampaignTarget.enterprise_id)
        .join(Town, Town.id == Enterprise.town_id)
        .outerjoin(CampaignCheck, CampaignCheck.target_id == CampaignTarget.id)
        .outerjoin(User, User.id == CampaignCheck.checked_by_id)
        .where(CampaignTarget.campaign_id == campaign.id)
        .order_by(Town.id, Enterprise.name, CampaignTarget.id)
    )
    scope = actor.enterprise_scope()
    if not scope.all:
        query = query.where(
            or_(Enterprise.town_id.in_(sorted(scope.town_ids)), Enterprise.id.in_(sorted(scope.enterprise_ids)))
        )
    rows = []
    for target, name, town_id, town_name, checked_at, checked_by in session.execute(query):
        found, fixed = counts.get(target.id, (0, 0))
        checked_on = to_local(checked_at).date() if checked_at else None
        rows.append(
            TargetRow(
                id=target.id,
                enterprise_id=target.enterprise_id,
                enterprise_name=name,
                town_id=town_id,
                town_name=town_name,
                by_rule=target.by_rule,
                added_reason=target.added_reason,
                removed_reason=target.removed_reason,
                removed_at=target.removed_at,
                checked_at=checked_at,
                checked_by=checked_by,
                state=target_state(campaign.deadline, today, checked_on, target.removed_at is not None),
                hazards=found,
                rectified=fixed,
            )
        )
    return rows


def totals(rows: list[TargetRow]) -> Progress:
    return progress((r.state, r.hazards, r.rectified) for r in rows)


@dataclass(frozen=True)
class TownProgress:
    town_id: int
    town_name: str
    progress: Progress


def town_rollup(rows: list[TargetRow]) -> list[TownProgress]:
    """The progress per town of the targets, in the rows' town order."""
    towns: dict[int, tuple[str, list[TargetRow]]] = {}
    for r in rows:
        towns.setdefault(r.town_id, (r.town_name, []))[1].append(r)
    return [TownProgress(town_id, name, totals(group)) for town_id, (name, group) in towns.items()]


def campaign_progress(session: Session, actor: Actor, campaigns: list[Campaign], now: datetime) -> dict[int, Progress]:
    """The progress of each campaign as `actor` sees it (the list page)."""
    return {c.id: totals(target_rows(session, actor, c, now)) for c in campaigns if c.status is not CampaignStatus.DRAFT}


def addable_enterprises(session: Session, campaign: Campaign) -> list[tuple[int, str]]:
    """Enterprises of the campaign's towns it does not target yet (id, name), by name."""
    taken = select(CampaignTarget.enterprise_id).where(CampaignTarget.campaign_id == campaign.id)
    query = select(Enterprise.id, Enterprise.name).where(Enterprise.id.not_in(taken)).order_by(Enterprise.name)
    if not campaign.all_towns:
        query = query.where(Enterprise.town_id.in_(sorted(campaign.town_ids)))
    return [(row.id, row.name) for row in session.execute(query)]


# --- an enterprise's campaigns -------------------------------------------------------------


@dataclass(frozen=True)
class EnterpriseCampaign:
    campaign: Campaign
    target_id: int
    state: TargetState
    checked_at: datetime | None
    hazards: int


def enterprise_campaigns(session: Session, enterprise_id: int, now: datetime) -> list[EnterpriseCampaign]:
    """The launched campaigns the enterprise is a listed target of, active first, newest first."""
    today = local_today(now)
    rows = session.execute(
        select(Campaign, CampaignTarget.id, CampaignCheck.checked_at)
        .join(CampaignTarget, CampaignTarget.campaign_id == Campaign.id)
        .outerjoin(CampaignCheck, CampaignCheck.target_id == CampaignTarget.id)
        .where(
            CampaignTarget.enterprise_id == enterprise_id,
            CampaignTarget.removed_at.is_(None),
            Campaign.status != CampaignStatus.DRAFT,
        )
        .order_by(case((Campaign.status == CampaignStatus.ACTIVE, 0), else_=1), Campaign.deadline.desc(), Campaign.id.desc())
    ).all()
    found = dict(
        session.execute(
            select(CampaignHazard.target_id, func.count())
            .where(CampaignHazard.target_id.in_([r[1] for r in rows]))
            .group_by(CampaignHazard.target_id)
        ).all()
    ) if rows else {}
    return [
        EnterpriseCampaign(
            campaign=c,
            target_id=target_id,
            state=target_state(c.deadline, today, to_local(checked_at).date() if checked_at else None, False),
            checked_at=checked_at,
            hazards=int(found.get(target_id, 0)),
        )
        for c, target_id, checked_at in rows
    ]


def campaigns_due(session: Session, enterprise_id: int, now: datetime) -> list[EnterpriseCampaign]:
    """Active campaigns the enterprise has not self-checked yet (the 工作台 block)."""
    return [
        row for row in enterprise_campaigns(session, enterprise_id, now)
        if row.campaign.status is CampaignStatus.ACTIVE and row.checked_at is None
    ]


def has_campaigns(session: Session, enterprise_id: int) -> bool:
    return bool(
        session.scalar(
            select(
                exists().where(
                    CampaignTarget.enterprise_id == enterprise_id,
                    CampaignTarget.removed_at.is_(None),
                    CampaignTarget.campaign_id.in_(select(Campaign.id).where(Campaign.status != CampaignStatus.DRAFT)),
                )
            )
        )
    )


def target_of(session: Session, campaign_id: int, enterprise_id: int) -> CampaignTarget | None:
    return session.scalar(
        select(CampaignTarget).where(
            CampaignTarget.campaign_id == campaign_id, CampaignTarget.enterprise_id == enterprise_id
        )
    )


@dataclass(frozen=True)
class AnsweredItem:
    code: str
    text: str
    result: str
    note: str
    hazard_id: int | None


def answered_items(session: Session, check: CampaignCheck) -> list[AnsweredItem]:
    """A submitted self-check's lines with the hazard each failed one raised."""
    hazards = dict(
        session.execute(
            select(CampaignHazard.item_code, CampaignHazard.hazard_id).where(CampaignHazard.target_id == check.target_id)
        ).all()
    )
    rows = session.scalars(
        select(CampaignCheckItem).where(CampaignCheckItem.check_id == check.id).order_by(CampaignCheckItem.position)
    )
    return [AnsweredItem(r.code, r.text, r.result.value, r.note, hazards.get(r.code)) for r in rows]


def checker_name(session: Session, check: CampaignCheck) -> str:
    return session.scalar(select(User.display_name).where(User.id == check.checked_by_id)) or ""


# --- notices and history --------------------------------------------------------------------


def recipients(session: Session, enterprise_ids: list[int]) -> list[tuple[int, int]]:
    """(enterprise id, user id) of the active managers, safety officers and enterprise
    admins of these enterprises, once each."""
    if not enterprise_ids:
        return []
    rows = session.execute(
        select(Membership.enterprise_id, Membership.user_id)
        .where(
            Membership.enterprise_id.in_(enterprise_ids),
            Membership.active.is_(True),
            Membership.role.in_(RECIPIENT_ROLES),
        )
        .distinct()
        .order_by(Membership.enterprise_id, Membership.user_id)
    )
    return [(row.enterprise_id, row.user_id) for row in rows]


def town_names(session: Session) -> dict[int, str]:
    return {town_id: name for town_id, name in session.execute(select(Town.id, Town.name))}


@dataclass(frozen=True)
class EventRow:
    at: datetime
    action: str
    actor_name: str
    note: str | None


def campaign_events(session: Session, campaign_id: int) -> list[EventRow]:
    rows = session.execute(
        select(CampaignEvent, User.display_name)
        .outerjoin(User, User.id == CampaignEvent.actor_id)
        .where(CampaignEvent.campaign_id == campaign_id)
        .order_by(CampaignEvent.id)
    )
    return [EventRow(at=e.at, action=e.action, actor_name=name or "系统", note=e.note) for e, name in rows]


def scope_label(campaign: Campaign, names: dict[int, str]) -> str:
    if campaign.all_towns:
        return "全区"
    return "、".join(sorted((names.get(t, "") for t in campaign.town_ids), key=lambda n: n)) or "—"


def local_deadline_passed(campaign: Campaign, now: datetime) -> bool:
    return local_today(now) > campaign.deadline


def days_left(deadline: date, now: datetime) -> int:
    return (deadline - local_today(now)).days
