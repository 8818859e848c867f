"""Use cases of bulletins (通报): draft a monthly bulletin by rule or a supervision-visit
bulletin, edit its text and lists (removing or adding an enterprise with a reason, kept),
publish it once (a notice through the outbox to the managers and safety officers of every
enterprise it names), and draft a correction that supersedes a published one.

Every verb takes (session, actor, now, …), checks the actor and the status against
domain.py, writes an event row, flushes; the caller commits."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.domain import Actor
from app.clock import local_today
from app.enterprises.models import Enterprise, Town
from app.errors import Conflict, NotFound
from app.notifications.service import enqueue_many, outbox_row
from app.oversight.bulletins import queries
from app.oversight.bulletins.domain import (
    MAX_REQUIREMENTS,
    MAX_TITLE,
    BulletinAction,
    BulletinKind,
    BulletinStatus,
    Month,
    Verdict,
    check_transition,
    clean_body,
    clean_lines,
    clean_reason,
    clean_title,
    figures,
    invalid,
    judge,
    monthly_body,
    monthly_title,
    require_bulletin_action,
    supervision_body,
    supervision_title,
)
from app.oversight.bulletins.models import Bulletin, BulletinEntry, BulletinEvent
from app.oversight.bulletins.notices import KIND_OF_VERDICT

CORRECTION_SUFFIX = "（更正）"


def _event(
    session: Session,
    bulletin: Bulletin,
    actor: Actor | None,
    now: datetime,
    action: BulletinAction,
    before: BulletinStatus | None,
    note: str | None = None,
) -> None:
    session.add(
        BulletinEvent(
            bulletin_id=bulletin.id,
            actor_id=actor.user_id if actor else None,
            at=now,
            action=action,
            from_status=before,
            to_status=bulletin.status,
            note=note,
        )
    )


def _town(session: Session, value: Any) -> Town | None:
    """The town a form names ("" or None: the whole district). Raises ValidationFailed."""
    if value in (None, "", "district"):
        return None
    try:
        town_id = int(value)
    except (TypeError, ValueError):
        raise invalid("town_id", "请选择镇（街道），或选择“全区”") from None
    town = session.get(Town, town_id) if 0 < town_id < 2**31 else None
    if town is None:
        raise invalid("town_id", "所选镇（街道）不存在，请重新选择")
    return town


def _date(value: Any, field_name: str, label: str) -> date | None:
    if isinstance(value, date):
        return value
    text = (value or "").strip() if isinstance(value, str) else ""
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise invalid(field_name, f"{label}应为 YYYY-MM-DD 格式的日期") from None


def draft_monthly(session: Session, actor: Actor, now: datetime, data: dict[str, Any]) -> Bulletin:
    """A monthly bulletin of a town (`town_id`) or the district (none) for `month`
    ("YYYY-MM"), its lists filled by the rule from the month's facts and a default text.
    Raises ValidationFailed (a month to come, an unknown town), PermissionDenied."""
    month = Month.parse(str(data.get("month") or ""))
    town = _town(session, data.get("town_id"))
    town_id = town.id if town else None
    require_bulletin_action(actor, BulletinAction.DRAFT, town_id)
    if month.first_day > local_today(now):
        raise invalid("month", f"{month.label}还没有开始，不能起草该月的通报")
    facts = queries.month_facts(session, month, town_id, now)
    judgements = {f.enterprise_id: judge(f, month) for f in facts}
    totals = figures(facts, month, judgements)
    town_name = town.name if town else None
    bulletin = Bulletin(
        kind=BulletinKind.MONTHLY,
        status=BulletinStatus.DRAFT,
        town_id=town_id,
        month=month.first_day,
        title=monthly_title(month, town_name),
        body=monthly_body(month, town_name, totals),
        figures=totals.as_json(),
        facts_cutoff=queries.facts_cutoff(month, now),
        created_by_id=actor.user_id,
        created_at=now,
        updated_at=now,
    )
    session.add(bulletin)
    session.flush()
    for f in facts:
        judgement = judgements[f.enterprise_id]
        if judgement.verdict is None:
            continue
        session.add(
            BulletinEntry(
                bulletin_id=bulletin.id,
                enterprise_id=f.enterprise_id,
                verdict=judgement.verdict,
                reasons=list(judgement.reasons),
                facts=_facts_json(f),
                by_rule=True,
            )
        )
    _event(session, bulletin, actor, now, BulletinAction.DRAFT, None, f"按规则生成：表扬 {totals.praised} 家，通报预警 {totals.warned} 家")
    session.flush()
    return bulletin


def _facts_json(facts) -> dict[str, Any]:
    return {
        "due_checks": facts.due_checks,
        "on_time_checks": facts.on_time_checks,
        "late_checks": facts.late_checks,
        "missed_checks": facts.missed_checks,
        "overdue_general": facts.overdue_general,
        "overdue_major": facts.overdue_major,
        "standardization_level": facts.standardization_level,
        "certified_on": facts.certified_on.isoformat() if facts.certified_on else None,
    }


def _enterprise_ids(value: Any) -> list[int]:
    values = value if isinstance(value, list | tuple) else [value]
    ids: list[int] = []
    for item in values:
        if item in (None, ""):
            continue
        try:
            number = int(item)
        except (TypeError, ValueError):
            raise invalid("enterprise_ids", "所选企业有误，请重新选择") from None
        if not 0 < number < 2**31:
            raise invalid("enterprise_ids", "所选企业有误，请重新选择")
        if number not in ids:
            ids.append(number)
    return ids


def _enterprises_of_scope(session: Session, ids: list[int], town_id: int | None) -> list[Enterprise]:
    rows = list(session.scalars(select(Enterprise).where(Enterprise.id.in_(ids))))
    if len(rows) != len(ids) or (town_id is not None and any(e.town_id != town_id for e in rows)):
        raise invalid("enterprise_ids", "所选企业不属于该通报的镇（街道），请重新选择")
    order = {eid: i for i, eid in enumerate(ids)}
    return sorted(rows, key=lambda e: order[e.id])


def draft_supervision(session: Session, actor: Actor, now: datetime, data: dict[str, Any]) -> Bulletin:
    """A supervision-visit bulletin (督导通报): the visit's date and town, the enterprises
    visited, the requirements and the deadline; the findings per enterprise are written on
    the draft. Raises ValidationFailed, PermissionDenied."""
    town = _town(session, data.get("town_id"))
    if town is None:
        raise invalid("town_id", "请选择督导检查所在的镇（街道）")
    require_bulletin_action(actor, BulletinAction.DRAFT, town.id)
    visit_date = _date(data.get("visit_date"), "visit_date", "检查日期")
    if visit_date is None:
        raise invalid("visit_date", "请填写督导检查日期")
    if visit_date > local_today(now):
        raise invalid("visit_date", "检查日期不能晚于今天")
    deadline = _date(data.get("deadline"), "deadline", "整改期限")
    if deadline is not None and deadline < visit_date:
        raise invalid("deadline", "整改期限不能早于检查日期")
    requirements = "\n".join(clean_lines(data.get("requirements"), "requirements", MAX_REQUIREMENTS))
    ids = _enterprise_ids(data.get("enterprise_ids"))
    if not ids:
        raise invalid("enterprise_ids", "请至少选择一家被检查的企业")
    visited = _enterprises_of_scope(session, ids, town.id)
    bulletin = Bulletin(
        kind=BulletinKind.SUPERVISION,
        status=BulletinStatus.DRAFT,
        town_id=town.id,
        visit_date=visit_date,
        title=supervision_title(visit_date, town.name),
        body=supervision_body(visit_date, town.name, len(visited)),
        requirements=requirements,
        deadline=deadline,
        figures={"visited": len(visited)},
        created_by_id=actor.user_id,
        created_at=now,
        updated_at=now,
    )
    session.add(bulletin)
    session.flush()
    for enterprise in visited:
        session.add(
            BulletinEntry(
                bulletin_id=bulletin.id, enterprise_id=enterprise.id, verdict=Verdict.VISITED, reasons=[], by_rule=False
            )
        )
    _event(session, bulletin, actor, now, BulletinAction.DRAFT, None, f"督导检查企业 {len(visited)} 家")
    session.flush()
    return bulletin


def _draft(session: Session, actor: Actor, bulletin_id: int, action: BulletinAction) -> tuple[Bulletin, BulletinStatus]:
    """The bulletin to act on, after scope, permission and status checks."""
    bulletin = queries.get_bulletin(session, actor, bulletin_id)
    require_bulletin_action(actor, action, bulletin.town_id)
    before = bulletin.status
    check_transition(action, before)
    return bulletin, before


def edit(session: Session, actor: Actor, now: datetime, bulletin_id: int, data: dict[str, Any]) -> Bulletin:
    """Change a draft's title and text (a supervision bulletin: also its requirements,
    deadline and the findings per enterprise, `findings-<entry id>` one per line)."""
    bulletin, before = _draft(session, actor, bulletin_id, BulletinAction.EDIT)
    bulletin.title = clean_title(data.get("title"))
    bulletin.body = clean_body(data.get("body"))
    if bulletin.kind is BulletinKind.SUPERVISION:
        bulletin.requirements = "\n".join(clean_lines(data.get("requirements"), "requirements", MAX_REQUIREMENTS))
        deadline = _date(data.get("deadline"), "deadline", "整改期限")
        if deadline is not None and bulletin.visit_date and deadline < bulletin.visit_date:
            raise invalid("deadline", "整改期限不能早于检查日期")
        bulletin.deadline = deadline
        for entry in bulletin.entries:
            key = f"findings-{entry.id}"
            if key in data:
                entry.reasons = clean_lines(data.get(key), key)
    bulletin.updated_at = now
    _event(session, bulletin, actor, now, BulletinAction.EDIT, before)
    session.flush()
    return bulletin


def _entry(bulletin: Bulletin, entry_id: int) -> BulletinEntry:
    for entry in bulletin.entries:
        if entry.id == entry_id:
            return entry
    raise NotFound("该企业不在这份通报的名单中。")


def remove_entry(
    session: Session, actor: Actor, now: datetime, bulletin_id: int, entry_id: int, reason: str | None
) -> BulletinEntry:
    """Take an enterprise off a draft's list; the row stays with the reason."""
    bulletin, before = _draft(session, actor, bulletin_id, BulletinAction.REMOVE_ENTRY)
    entry = _entry(bulletin, entry_id)
    if entry.removed_at is not None:
        raise Conflict("该企业已移出名单。")
    entry.removed_reason = clean_reason(reason)
    entry.removed_by_id = actor.user_id
    entry.removed_at = now
    bulletin.updated_at = now
    name = session.get(Enterprise, entry.enterprise_id).name
    _event(session, bulletin, actor, now, BulletinAction.REMOVE_ENTRY, before, f"{name}：{entry.removed_reason}")
    session.flush()
    return entry


def restore_entry(session: Session, actor: Actor, now: datetime, bulletin_id: int, entry_id: int) -> BulletinEntry:
    """Put a removed enterprise back on a draft's list (the removal stays in the history)."""
    bulletin, before = _draft(session, actor, bulletin_id, BulletinAction.RESTORE_ENTRY)
    entry = _entry(bulletin, entry_id)
    if entry.removed_at is None:
        raise Conflict("该企业仍在名单中。")
    entry.removed_reason = None
    entry.removed_by_id = None
    entry.removed_at = None
    bulletin.updated_at = now
    name = session.get(Enterprise, entry.enterprise_id).name
    _event(session, bulletin, actor, now, BulletinAction.RESTORE_ENTRY, before, name)
    session.flush()
    return entry


def add_entry(session: Session, actor: Actor, now: datetime, bulletin_id: int, data: dict[str, Any]) -> BulletinEntry:
    """Add an enterprise of the bulletin's scope by hand: to a monthly bulletin as praised or
    warned with the reason (it is shown as the enterprise's reason), to a supervision
    bulletin as visited with its findings."""
    bulletin, before = _draft(session, actor, bulletin_id, BulletinAction.ADD_ENTRY)
    ids = _enterprise_ids(data.get("enterprise_id"))
    if len(ids) != 1:
        raise invalid("enterprise_id", "请选择要加入名单的企业")
    (enterprise,) = _enterprises_of_scope(session, ids, bulletin.town_id)
    if any(e.enterprise_id == enterprise.id for e in bulletin.entries):
        raise Conflict(f"{enterprise.name}已在这份通报中（如已移出，请点“恢复”）。")
    if bulletin.kind is BulletinKind.MONTHLY:
        try:
            verdict = Verdict(str(data.get("verdict") or ""))
        except ValueError:
            raise invalid("verdict", "请选择“表扬”或“通报预警”") from None
        if verdict is Verdict.VISITED:
            raise invalid("verdict", "请选择“表扬”或“通报预警”")
        reason = clean_reason(data.get("reason"))
        reasons = [reason]
    else:
        verdict = Verdict.VISITED
        reasons = clean_lines(data.get("reason"), "reason")
        reason = "督导检查企业"
    entry = BulletinEntry(
        enterprise_id=enterprise.id, verdict=verdict, reasons=reasons, by_rule=False, added_reason=reason
    )
    bulletin.entries.append(entry)
    bulletin.updated_at = now
    _event(session, bulletin, actor, now, BulletinAction.ADD_ENTRY, before, f"{enterprise.name}：{reason}")
    session.flush()
    return entry


def publish(session: Session, actor: Actor, now: datetime, bulletin_id: int) -> int:
    """Publish a draft (once): read-only from now on; every enterprise it names hears of it
    (its active managers and safety officers, a notice each through the outbox, linking to
    /h5/bulletins/<id>); a correction marks the bulletin it corrects superseded. Returns
    how many notices were queued. Raises InvalidTransition (already published),
    ValidationFailed (a visited enterprise without findings), PermissionDenied."""
    bulletin, before = _draft(session, actor, bulletin_id, BulletinAction.PUBLISH)
    listed = [e for e in bulletin.entries if e.removed_at is None]
    if bulletin.kind is BulletinKind.SUPERVISION:
        if not listed:
            raise invalid("entries", "督导通报至少要有一家被检查企业")
        if any(not e.reasons for e in listed):
            raise invalid("entries", "请为每家被检查企业填写发现的问题（没有问题请写“未发现问题”）后再发布")
    bulletin.status = check_transition(BulletinAction.PUBLISH, before)
    bulletin.published_by_id = actor.user_id
    bulletin.published_at = now
    bulletin.updated_at = now
    verdicts = {e.enterprise_id: e.verdict for e in listed}
    names = {
        eid: name
        for eid, name in session.execute(select(Enterprise.id, Enterprise.name).where(Enterprise.id.in_(list(verdicts))))
    }
    rows = [
        outbox_row(
            KIND_OF_VERDICT[verdicts[enterprise_id]],
            user_id,
            {
                "bulletin_id": bulletin.id,
                "bulletin_title": bulletin.title,
                "enterprise_id": enterprise_id,
                "enterprise_name": names[enterprise_id],
                "verdict": verdicts[enterprise_id].value,
                "deadline": bulletin.deadline.isoformat() if bulletin.deadline else None,
                "at": now.isoformat(),
            },
            f"bulletin:{bulletin.id}:{enterprise_id}:{user_id}",
            now,
        )
        for enterprise_id, user_id in queries.recipients(session, sorted(verdicts))
    ]
    queued = enqueue_many(session, rows)
    _event(
        session, bulletin, actor, now, BulletinAction.PUBLISH, before,
        f"涉及企业 {len(verdicts)} 家，通知 {queued} 人",
    )
    if bulletin.supersedes_id is not None:
        old = session.get(Bulletin, bulletin.supersedes_id)
        if old is not None and old.status is BulletinStatus.PUBLISHED:
            old_before = old.status
            old.status = check_transition(BulletinAction.SUPERSEDE, old_before)
            old.updated_at = now
            _event(session, old, actor, now, BulletinAction.SUPERSEDE, old_before, f"更正通报：{bulletin.title}")
    session.flush()
    return queued


def draft_correction(session: Session, actor: Actor, now: datetime, bulletin_id: int) -> Bulletin:
    """A new draft copying a published bulletin (text, lists with their reasons) that
    supersedes it once published. Raises InvalidTransition for a draft or one already
    corrected, PermissionDenied."""
    original = queries.get_bulletin(session, actor, bulletin_id)
    require_bulletin_action(actor, BulletinAction.SUPERSEDE, original.town_id)
    check_transition(BulletinAction.SUPERSEDE, original.status)
    title = original.title
    if not title.endswith(CORRECTION_SUFFIX):
        title = (title[: MAX_TITLE - len(CORRECTION_SUFFIX)] + CORRECTION_SUFFIX)
    correction = Bulletin(
        kind=original.kind,
        status=BulletinStatus.DRAFT,
        town_id=original.town_id,
        month=original.month,
        visit_date=original.visit_date,
        title=title,
        body=original.body,
        requirements=original.requirements,
        deadline=original.deadline,
        figures=dict(original.figures or {}),
        facts_cutoff=original.facts_cutoff,
        supersedes_id=original.id,
        created_by_id=actor.user_id,
        created_at=now,
        updated_at=now,
    )
    session.add(correction)
    session.flush()
    for entry in original.entries:
        session.add(
            BulletinEntry(
                bulletin_id=correction.id,
                enterprise_id=entry.enterprise_id,
                verdict=entry.verdict,
                reasons=list(entry.reasons or []),
                facts=dict(entry.facts or {}),
                by_rule=entry.by_rule,
                added_reason=entry.added_reason,
                removed_reason=entry.removed_reason,
                removed_by_id=entry.removed_by_id,
                removed_at=entry.removed_at,
            )
        )
    _event(session, correction, actor, now, BulletinAction.DRAFT, None, f"更正第 {original.id} 号通报")
    session.flush()
    return correction
