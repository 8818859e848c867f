"""Use cases of special campaigns (专项整治): the bureau admin drafts and edits a campaign,
launches it (targets computed from the topic flags in its towns, checklists pinned, a
notice to each target's manager, safety officer and enterprise admin through the outbox),
adds or removes a target with a reason, and closes it; an enterprise submits its self-check
once, each failed item becoming a hazard in its own ledger (hazards.service.report_hazard)
linked to the campaign.

Every verb takes (session, actor, now, …), checks the actor and the status against
domain.py, writes an event row, flushes; the caller commits."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.domain import Action, Actor
from app.clock import local_today
from app.enterprises.models import Enterprise, Town
from app.errors import Conflict, NotFound
from app.hazard_reporting.hazards import service as hazards
from app.hazard_reporting.hazards.domain import HazardLevel, HazardSource
from app.notifications.service import enqueue_many, outbox_row
from app.oversight.campaigns import queries
from app.oversight.campaigns.domain import (
    CampaignAction,
    CampaignStatus,
    ItemResult,
    check_close,
    check_dates,
    check_launch,
    check_transition,
    clean_description,
    clean_reason,
    clean_title,
    hazard_description,
    invalid,
    parse_answers,
    parse_day,
    parse_topic,
    require_manage,
    require_self_check,
    select_targets,
    topic_checklists,
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
from app.oversight.campaigns.notices import CAMPAIGN_LAUNCHED


def _event(
    session: Session,
    campaign: Campaign,
    actor: Actor | None,
    now: datetime,
    action: CampaignAction,
    before: CampaignStatus | None,
    note: str | None = None,
) -> None:
    session.add(
        CampaignEvent(
            campaign_id=campaign.id,
            actor_id=actor.user_id if actor else None,
            at=now,
            action=action,
            from_status=before,
            to_status=campaign.status,
            note=note,
        )
    )


def _town_ids(session: Session, data: dict[str, Any]) -> frozenset[int] | None:
    """The towns a form names (`scope` = "all" or "towns" with `town_ids`); None: the district."""
    if str(data.get("scope") or "all") == "all":
        return None
    values = data.get("town_ids") or []
    values = values if isinstance(values, list | tuple | set | frozenset) else [values]
    ids: set[int] = set()
    for value in values:
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise invalid("town_ids", "所选镇（街道）有误，请重新选择") from None
        if not 0 < number < 2**31:
            raise invalid("town_ids", "所选镇（街道）有误，请重新选择")
        ids.add(number)
    if not ids:
        raise invalid("town_ids", "请至少选择一个镇（街道），或选择“全区”")
    known = set(session.scalars(select(Town.id).where(Town.id.in_(sorted(ids)))))
    if known != ids:
        raise invalid("town_ids", "所选镇（街道）不存在，请重新选择")
    return frozenset(ids)


def _apply_form(session: Session, campaign: Campaign, data: dict[str, Any], now: datetime) -> None:
    topic = parse_topic(data.get("topic"))
    title = clean_title(data.get("title"))
    description = clean_description(data.get("description"))
    starts_on = parse_day(data.get("starts_on"), "starts_on", "开始日期")
    deadline = parse_day(data.get("deadline"), "deadline", "自查截止日期")
    check_dates(starts_on, deadline)
    if deadline < local_today(now):
        raise invalid("deadline", "自查截止日期不能早于今天")
    towns = _town_ids(session, data)
    campaign.topic = topic
    campaign.title = title
    campaign.description = description
    campaign.starts_on = starts_on
    campaign.deadline = deadline
    campaign.all_towns = towns is None
    campaign.towns = [CampaignTown(town_id=t) for t in sorted(towns or ())]
    campaign.updated_at = now


def create(session: Session, actor: Actor, now: datetime, data: dict[str, Any]) -> Campaign:
    """A draft campaign: topic, title, description, start and deadline (YYYY-MM-DD), the
    whole district or some towns. Raises ValidationFailed, PermissionDenied."""
    require_manage(actor)
    campaign = Campaign(status=CampaignStatus.DRAFT, created_by_id=actor.user_id, created_at=now, updated_at=now)
    _apply_form(session, campaign, data, now)
    session.add(campaign)
    session.flush()
    _event(session, campaign, actor, now, CampaignAction.CREATE, None)
    session.flush()
    return campaign


def _campaign(session: Session, actor: Actor, campaign_id: int, action: CampaignAction) -> tuple[Campaign, CampaignStatus]:
    """The campaign to act on, after scope, permission and status checks."""
    campaign = queries.get_campaign(session, actor, campaign_id)
    require_manage(actor)
    before = campaign.status
    check_transition(action, before)
    return campaign, before


def edit(session: Session, actor: Actor, now: datetime, campaign_id: int, data: dict[str, Any]) -> Campaign:
    """Change a draft (the same fields as `create`)."""
    campaign, before = _campaign(session, actor, campaign_id, CampaignAction.EDIT)
    _apply_form(session, campaign, data, now)
    _event(session, campaign, actor, now, CampaignAction.EDIT, before)
    session.flush()
    return campaign


def _notify(session: Session, campaign: Campaign, enterprise_ids: list[int], now: datetime) -> int:
    """One notice per manager, safety officer and enterprise admin of these enterprises
    (deduplicated by campaign, enterprise and person). Returns how many were queued."""
    names = dict(session.execute(select(Enterprise.id, Enterprise.name).where(Enterprise.id.in_(enterprise_ids))).all())
    rows = [
        outbox_row(
            CAMPAIGN_LAUNCHED,
            user_id,
            {
                "campaign_id": campaign.id,
                "campaign_title": campaign.title,
                "enterprise_id": enterprise_id,
                "enterprise_name": names[enterprise_id],
                "deadline": campaign.deadline.isoformat(),
                "at": now.isoformat(),
            },
            f"campaign:{campaign.id}:{enterprise_id}:{user_id}",
            now,
        )
        for enterprise_id, user_id in queries.recipients(session, sorted(enterprise_ids))
    ]
    return enqueue_many(session, rows)


def launch(session: Session, actor: Actor, now: datetime, campaign_id: int) -> tuple[int, int]:
    """Launch a draft: pin the topic's standard checklists (current versions), snapshot the
    targets (enterprises of its towns with one of the topic's flags), notify each target's
    people. Returns (targets, notices queued). Raises InvalidTransition (not a draft),
    ValidationFailed (deadline passed, no target, no checklist), PermissionDenied."""
    campaign, before = _campaign(session, actor, campaign_id, CampaignAction.LAUNCH)
    standard = queries.standard_checklists(session)
    chosen = topic_checklists(campaign.topic, [(c.checklist_id, c.topics) for c in standard])
    versions = [c.version_id for c in standard if c.checklist_id in chosen and c.version_id is not None]
    targets = select_targets(campaign.topic, None if campaign.all_towns else campaign.town_ids, queries.candidates(session))
    check_launch(campaign.starts_on, campaign.deadline, local_today(now), len(targets), len(versions))
    campaign.checklists = [CampaignChecklist(version_id=v, position=i) for i, v in enumerate(versions)]
    for enterprise_id in targets:
        session.add(CampaignTarget(campaign_id=campaign.id, enterprise_id=enterprise_id, by_rule=True, added_at=now))
    campaign.status = check_transition(CampaignAction.LAUNCH, before)
    campaign.launched_by_id = actor.user_id
    campaign.launched_at = now
    campaign.updated_at = now
    session.flush()
    queued = _notify(session, campaign, targets, now)
    _event(session, campaign, actor, now, CampaignAction.LAUNCH, before, f"对象企业 {len(targets)} 家，通知 {queued} 人")
    session.flush()
    return len(targets), queued


def add_target(session: Session, actor: Actor, now: datetime, campaign_id: int, data: dict[str, Any]) -> CampaignTarget:
    """Add an enterprise of the campaign's towns to an active campaign, with the reason (it
    is notified like the others); a removed target is put back. Raises Conflict (already a
    target), ValidationFailed, InvalidTransition, PermissionDenied."""
    campaign, before = _campaign(session, actor, campaign_id, CampaignAction.ADD_TARGET)
    try:
        enterprise_id = int(data.get("enterprise_id") or 0)
    except (TypeError, ValueError):
        enterprise_id = 0
    enterprise = session.get(Enterprise, enterprise_id) if 0 < enterprise_id < 2**31 else None
    if enterprise is None:
        raise invalid("enterprise_id", "请选择要加入的企业")
    if not campaign.all_towns and enterprise.town_id not in campaign.town_ids:
        raise invalid("enterprise_id", "该企业不在本专项整治的镇（街道）范围内")
    reason = clean_reason(data.get("reason"))
    target = queries.target_of(session, campaign.id, enterprise.id)
    if target is not None and target.removed_at is None:
        raise Conflict(f"{enterprise.name}已是本专项整治的对象企业。")
    if target is None:
        target = CampaignTarget(campaign_id=campaign.id, enterprise_id=enterprise.id, by_rule=False, added_at=now)
        session.add(target)
    target.added_reason = reason
    target.added_by_id = actor.user_id
    target.added_at = now
    target.removed_reason = target.removed_by_id = target.removed_at = None
    campaign.updated_at = now
    session.flush()
    queued = _notify(session, campaign, [enterprise.id], now)
    _event(session, campaign, actor, now, CampaignAction.ADD_TARGET, before, f"{enterprise.name}：{reason}（通知 {queued} 人）")
    session.flush()
    return target


def remove_target(
    session: Session, actor: Actor, now: datetime, campaign_id: int, target_id: int, reason: str | None
) -> CampaignTarget:
    """Take an enterprise off an active campaign; the row stays with the reason (and its
    self-check and hazards, if any)."""
    campaign, before = _campaign(session, actor, campaign_id, CampaignAction.REMOVE_TARGET)
    target = session.get(CampaignTarget, target_id)
    if target is None or target.campaign_id != campaign.id:
        raise NotFound("该企业不是本专项整治的对象。")
    if target.removed_at is not None:
        raise Conflict("该企业已移出本专项整治。")
    target.removed_reason = clean_reason(reason)
    target.removed_by_id = actor.user_id
    target.removed_at = now
    campaign.updated_at = now
    name = session.get(Enterprise, target.enterprise_id).name
    _event(session, campaign, actor, now, CampaignAction.REMOVE_TARGET, before, f"{name}：{target.removed_reason}")
    session.flush()
    return target


def close(session: Session, actor: Actor, now: datetime, campaign_id: int, note: str | None = None) -> Campaign:
    """End an active campaign: after its deadline, or before it with a reason. No
    self-check is taken afterwards."""
    campaign, before = _campaign(session, actor, campaign_id, CampaignAction.CLOSE)
    campaign.close_note = check_close(campaign.deadline, local_today(now), note)
    campaign.status = check_transition(CampaignAction.CLOSE, before)
    campaign.closed_by_id = actor.user_id
    campaign.closed_at = now
    campaign.updated_at = now
    _event(session, campaign, actor, now, CampaignAction.CLOSE, before, campaign.close_note or None)
    session.flush()
    return campaign


def submit_check(
    session: Session, actor: Actor, now: datetime, enterprise_id: int, campaign_id: int, form: dict[str, Any]
) -> CampaignCheck:
    """The enterprise's self-check of an active campaign it is a target of: every item
    answered; each failed item is reported as a hazard in the enterprise's ledger (its level
    from the item: 重大 where the item matches a major-hazard criterion, else 一般), named
    after the campaign and linked to it. Once per target. Raises NotFound (not a target),
    PermissionDenied (role), InvalidTransition (draft or closed), Conflict (already
    submitted), ValidationFailed (an item left open)."""
    enterprise = session.get(Enterprise, enterprise_id)
    if enterprise is None or not actor.can(Action.VIEW_ENTERPRISE, enterprise.ref):
        raise NotFound("企业不存在或您无权查看。")
    require_self_check(actor, enterprise.ref)
    campaign = session.get(Campaign, campaign_id)
    target = queries.target_of(session, campaign_id, enterprise.id) if campaign else None
    if campaign is None or target is None or target.removed_at is not None or campaign.status is CampaignStatus.DRAFT:
        raise NotFound("本企业不是该专项整治的对象。")
    check_transition(CampaignAction.SELF_CHECK, campaign.status)
    if session.scalar(select(CampaignCheck.id).where(CampaignCheck.target_id == target.id)) is not None:
        raise Conflict("本企业已提交该专项整治的自查，不能重复提交；发现的问题请在隐患台账中跟进整改。")
    items = queries.target_items(session, campaign.id, enterprise)
    answers = {a.code: a for a in parse_answers([i.code for i in items], form)}
    check = CampaignCheck(target_id=target.id, checked_by_id=actor.user_id, checked_at=now)
    session.add(check)
    session.flush()
    failed = 0
    for position, item in enumerate(items):
        answer = answers[item.code]
        session.add(
            CampaignCheckItem(
                check_id=check.id, item_id=item.item_id, position=position, code=item.code, text=item.text,
                result=answer.result, note=answer.note,
            )
        )
        if answer.result is not ItemResult.FAIL:
            continue
        failed += 1
        hazard = hazards.report_hazard(
            session,
            actor,
            now,
            {
                "enterprise_id": enterprise.id,
                "source": HazardSource.ADHOC.value,
                "item_code": item.code,
                "item_category": item.category,
                "criteria_refs": list(item.refs),
                "level": (HazardLevel.MAJOR if item.on_fail == "major" else HazardLevel.GENERAL).value,
                "description": hazard_description(campaign.title, item.text, answer.note),
                "location": "",
            },
        )
        session.add(CampaignHazard(campaign_id=campaign.id, hazard_id=hazard.id, target_id=target.id, item_code=item.code))
    before = campaign.status
    _event(
        session, campaign, actor, now, CampaignAction.SELF_CHECK, before,
        f"{enterprise.name}：自查 {len(items)} 项，不合格 {failed} 项",
    )
    session.flush()
    return check

