"""Use cases of check tasks and submissions. Take (session, actor, now, …) — or (session,
now, …) for system jobs — flush, never commit.

Tasks: sweep overdue ones to missed, close on submission, excuse with an approver.
Submissions (扫码排查): open a check from a scanned point, submit it (item results, one hazard
per 隐患 item with its photos, the task closed) once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.accounts.domain import Action, Actor, require
from app.accounts.models import User
from app.accounts.queries import is_active_member
from app.clock import local_today, to_local
from app.enterprises.models import Site
from app.enterprises.service import get_enterprise, site_by_token
from app.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from app.hazard_reporting.checklists.domain import ItemSpec, ResolvedItem
from app.hazard_reporting.checks.domain import (
    EXCUSE_ACTION,
    AnswerFacts,
    CheckLevel,
    CheckTaskStatus,
    ItemResult,
    ScheduleKind,
    SelfCheckResult,
    answer_problems,
    check_excuse_reason,
    check_scan_fresh,
    check_self_check_note,
    check_task_transition,
    checkable_at,
    in_form_order,
    owes,
    status_after_submission,
    submission_status,
    timeliness,
)
from app.hazard_reporting.checks.models import CheckItemResult, CheckSubmission, CheckTask, PostSelfCheck
from app.hazard_reporting.checks.queries import (
    ControlItem,
    control_items,
    member_facts,
    post_control_items,
    register_version,
    schedule_facts,
    self_checks_on,
    submission_for_task,
    task_items,
)
from app.hazard_reporting.checks.schemas import CheckSubmissionIn
from app.hazard_reporting.hazards import service as hazard_service
from app.hazard_reporting.hazards.domain import HazardSource, PhotoKind
from app.validation import parse

# --- Task lifecycle ----------------------------------------------------------------------


@dataclass(frozen=True)
class SweptTask:
    """A task the sweep marked missed (for escalation notices)."""

    id: int
    schedule_id: int
    enterprise_id: int
    period_start: date
    due_at: datetime


def sweep_overdue(session: Session, now: datetime) -> list[SweptTask]:
    """Mark every pending task whose grace ended before `now` as missed, in one UPDATE;
    returns those it changed (running it again changes nothing)."""
    rows = session.execute(
        update(CheckTask)
        .where(CheckTask.status == CheckTaskStatus.PENDING, CheckTask.grace_until < now)
        .values(status=CheckTaskStatus.MISSED, closed_at=now)
        .returning(
            CheckTask.id,
            CheckTask.schedule_id,
            CheckTask.enterprise_id,
            CheckTask.period_start,
            CheckTask.due_at,
        )
        # Not SQLAlchemy's "fetch" synchronisation: it computes an identity key for every
        # returned row (a third of the sweep's time at 7 500 rows); the few tasks a session
        # has loaded are expired below instead.
        .execution_options(synchronize_session=False)
    ).all()
    swept = [SweptTask(*row) for row in rows]
    if swept:
        ids = {task.id for task in swept}
        for loaded in list(session.identity_map.values()):
            if isinstance(loaded, CheckTask) and loaded.id in ids:
                session.expire(loaded, ["status", "closed_at"])
    return swept


def close_task(session: Session, task: CheckTask, now: datetime) -> CheckTask:
    """Close a task because its check was submitted at `now`: done by the due time,
    done_late within grace, missed after it (also when the sweep has not run yet).
    Repeated submissions leave a closed task as it is. Raises InvalidTransition for an
    excused task."""
    session.refresh(task, with_for_update=True)
    target = status_after_submission(task.status, now, task.due_at, task.grace_until)
    if target is not task.status:
        check_task_transition(task.status, target)
        task.status = target
        task.closed_at = now
        session.flush()
    return task


def excuse_task(session: Session, actor: Actor, now: datetime, task_id: int, reason: str) -> CheckTask:
    """Excuse a pending or missed task (停产、放假、设备停用…) with a reason.

    The approver needs EXCUSE_ACTION (VERIFY_HAZARD) in the enterprise (department heads, managers,
    safety officers: the people accountable for closing hazards) and may not excuse a check
    they owe themselves. Raises NotFound, PermissionDenied, ValidationFailed,
    InvalidTransition."""
    task = session.get(CheckTask, task_id, with_for_update=True, populate_existing=True)
    if task is None:
        raise NotFound("检查任务不存在。")
    enterprise = get_enterprise(session, actor, task.enterprise_id)
    require(actor, EXCUSE_ACTION, enterprise.ref)
    cleaned = check_excuse_reason(reason)
    facts = schedule_facts(task.schedule)
    if any(owes(facts, m) for m in member_facts(session, actor.user_id, enterprise.id)):
        raise PermissionDenied("不能批准本人负责的检查免检，请由上级或安全管理员审批。")
    check_task_transition(CheckTaskStatus(task.status), CheckTaskStatus.EXCUSED)
    task.status = CheckTaskStatus.EXCUSED
    task.excuse_reason = cleaned
    task.excused_by_id = actor.user_id
    task.excused_at = now
    if task.closed_at is None:
        task.closed_at = now
    session.flush()
    return task


# --- Submissions (扫码排查) ----------------------------------------------------------------

NOT_A_MEMBER = (
    "您不是「{enterprise}」的在册人员，不能在此点位排查。如您已入职，请联系企业管理员为您生成邀请二维码。"
)
TASK_HIDDEN = "检查任务不存在或您无权查看。"
KEY_REUSED = "提交标识已被使用，请刷新页面后重新提交。"
_CLOSED_MESSAGES = {
    CheckTaskStatus.DONE: "该检查已完成，无需重复提交。",
    CheckTaskStatus.DONE_LATE: "该检查已完成，无需重复提交。",
    CheckTaskStatus.EXCUSED: "该检查已批准免检，无需提交。",
}
# Who does a routine check, for the message to someone who does not owe it.
_OWNER_OF = {
    CheckLevel.DAILY: "班组日排查由本班组的班组长完成",
    CheckLevel.WEEKLY: "部门周排查由本部门负责人完成",
    CheckLevel.MONTHLY: "经理月排查由企业经理完成",
}
_COORDINATES = Decimal("0.000001")  # Numeric(9, 6)


@dataclass(frozen=True)
class CheckStart:
    """What the check form needs: the task, the scanned point and the items to go through
    (checklist items in form order, then the register's controls, numbered on), the risk
    register version the controls come from, or the actor's own earlier submission when
    the check is done already."""

    task: CheckTask
    site: Site
    items: list[ResolvedItem]
    submission: CheckSubmission | None = None
    controls: list[ControlItem] = field(default_factory=list)
    register_version: int | None = None

    @property
    def codes(self) -> list[str]:
        """Every item's code in form order (the numbers messages use)."""
        return [r.item.code for r in self.items] + [c.code for c in self.controls]


def _local_minute(moment: datetime) -> str:
    return to_local(moment).strftime("%m-%d %H:%M")


def _task_at_site(session: Session, actor: Actor, task_id: int, site: Site, *, lock: bool) -> CheckTask:
    """The task, if the actor is a member of the scanned point's enterprise and the task
    belongs to it. Raises PermissionDenied (not a member) or NotFound."""
    if not is_active_member(session, actor.user_id, site.enterprise_id):
        raise PermissionDenied(NOT_A_MEMBER.format(enterprise=site.enterprise.name))
    # The row lock serialises two submissions of the same task (a double tap, two leaders
    # of one team): the second sees the first one's submission once it commits.
    task = session.get(CheckTask, task_id, with_for_update=lock or None, populate_existing=lock)
    if task is None or task.enterprise_id != site.enterprise_id:
        raise NotFound(TASK_HIDDEN)
    return task


def _refuse_other_submission(session: Session, submission: CheckSubmission) -> Conflict:
    who = session.get(User, submission.user_id)
    name = who.display_name if who is not None else "他人"
    return Conflict(f"该检查已由{name}于 {_local_minute(submission.submitted_at)} 提交，无需重复检查。")


def _require_owed(session: Session, actor: Actor, now: datetime, task: CheckTask, site: Site) -> None:
    """The tasks_owed rules for one task: open now, owed by one of the actor's roles in the
    enterprise, and checkable at the scanned point. Raises Conflict / PermissionDenied."""
    status = CheckTaskStatus(task.status)
    if status in _CLOSED_MESSAGES:
        raise Conflict(_CLOSED_MESSAGES[status])
    if status is CheckTaskStatus.MISSED or now > task.grace_until:
        raise Conflict(
            f"该检查已超过宽限时间（{_local_minute(task.grace_until)}），记为漏检，不能再提交。"
            "如因停产等原因未能检查，请联系上级办理免检。"
        )
    if task.period_start > local_today(now):
        raise Conflict(f"该检查的周期尚未开始，{task.period_start:%m-%d} 起才能检查。")
    facts = schedule_facts(task.schedule)
    if not any(owes(facts, m) for m in member_facts(session, actor.user_id, site.enterprise_id)):
        owner = _OWNER_OF.get(facts.level) if facts.kind is ScheduleKind.ROUTINE else None
        raise PermissionDenied(
            f"「{task.schedule.label}」不由您负责{'（' + owner + '）' if owner else ''}，不能提交。"
        )
    if not checkable_at(facts, site.id, site.department_id):
        if facts.site_id is not None:
            place = session.get(Site, facts.site_id)
            where = f"点位「{place.name}」" if place is not None else "指定点位"
        else:
            where = "本部门的排查点位"
        raise Conflict(f"「{task.schedule.label}」不能在点位「{site.name}」完成，请到{where}扫码后检查。")


def start_check(session: Session, actor: Actor, now: datetime, task_id: int, site_token: str) -> CheckStart:
    """Open a check from a scanned point: the same rules as `submit_check`, nothing written.

    When the actor already submitted this check, `submission` is that submission (show it).
    Raises NotFound (bad token, unknown task), PermissionDenied, Conflict."""
    site = site_by_token(session, site_token)
    task = _task_at_site(session, actor, task_id, site, lock=False)
    earlier = submission_for_task(session, task.id)
    if earlier is not None:
        if earlier.user_id != actor.user_id:
            raise _refuse_other_submission(session, earlier)
        return CheckStart(task, site, [], earlier)
    _require_owed(session, actor, now, task, site)
    return CheckStart(
        task,
        site,
        in_form_order(task_items(session, task)),
        controls=control_items(session, task, site.id),
        register_version=register_version(session, task.enterprise_id),
    )


def _form_controls(
    session: Session, task: CheckTask, site: Site, form_version: int | None, offered: Sequence[int]
) -> tuple[list[ControlItem], int | None]:
    """The controls a submission answers, and the register version it records.

    A form built from the register as it is now (or sent without a version) answers the
    controls the register offers now. When the register changed after the form was opened,
    the submission answers the controls the form offered that are still this check's by
    unit, level and site — retired ones included (with their wording as stored) — and
    records the form's version; controls added since wait for the next check."""
    current = register_version(session, task.enterprise_id)
    if form_version is None or current is None or form_version >= current:
        return control_items(session, task, site.id), current
    wanted = set(offered)
    shown = [c for c in control_items(session, task, site.id, retired_too=True) if c.control_id in wanted]
    return shown, form_version


def _incomplete(codes: list[str], problems: dict[str, str]) -> ValidationFailed:
    """One message naming the first few items at fault (by their number on the form), and
    every item's problem under `answers.<code>`."""
    numbered = {code: n for n, code in enumerate(codes, start=1)}
    at_fault = sorted(problems, key=lambda code: numbered.get(code, len(numbered) + 1))
    parts = [
        f"第 {numbered[c]} 项：{problems[c]}" if c in numbered else f"{c}：{problems[c]}" for c in at_fault
    ]
    message = f"还有 {len(parts)} 项需要处理。" + "；".join(parts[:3]) + ("等。" if len(parts) > 3 else "。")
    return ValidationFailed(message, fields={f"answers.{code}": problems[code] for code in at_fault})


def _coordinate(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(_COORDINATES)


def submit_check(
    session: Session, actor: Actor, now: datetime, task_id: int, data: Any, *, media_root: str | Path
) -> CheckSubmission:
    """Record a check done at a scanned point, in the caller's transaction.

    Checks first — the scanned token (NotFound), membership (PermissionDenied), the task is
    open, owed by the actor and checkable at that point (Conflict, PermissionDenied), the
    scan is recent, every item answered, each 隐患 with a description and photos
    (ValidationFailed) — then writes the submission and its item results, reports one
    hazard per 隐患 item (source check, level from the item's on_fail) with its photos as
    before-photos, and closes the task as done or done_late.

    Idempotent: the same idempotency key, or a second submission of a task the actor has
    submitted, returns the first submission and writes nothing. A photo that is not an
    image or too large raises ValidationFailed naming the item; the caller rolls back."""
    payload = parse(CheckSubmissionIn, data)
    earlier = session.scalar(
        select(CheckSubmission).where(CheckSubmission.idempotency_key == payload.idempotency_key)
    )
    if earlier is not None:
        if earlier.user_id == actor.user_id and earlier.task_id == task_id:
            return earlier
        raise Conflict(KEY_REUSED)
    site = site_by_token(session, payload.site_token)
    task = _task_at_site(session, actor, task_id, site, lock=True)
    earlier = submission_for_task(session, task.id)
    if earlier is not None:
        if earlier.user_id != actor.user_id:
            raise _refuse_other_submission(session, earlier)
        return earlier
    _require_owed(session, actor, now, task, site)
    check_scan_fresh(payload.scanned_at, now)
    if (payload.latitude is None) != (payload.longitude is None):
        raise ValidationFailed.for_field("latitude", "位置信息不完整，请重新获取位置或不提供位置")

    items = in_form_order(task_items(session, task))
    controls, version = _form_controls(session, task, site, payload.risk_register_version, payload.control_ids)
    codes = [r.item.code for r in items] + [c.code for c in controls]
    answers = {a.item_code: a for a in payload.answers}
    problems = answer_problems(
        codes, {code: AnswerFacts(a.result, a.note, len(a.photos)) for code, a in answers.items()}
    )
    if problems:
        raise _incomplete(codes, problems)

    status = submission_status(timeliness(now, task.due_at, task.grace_until))
    located = payload.latitude is not None
    accuracy = round(payload.location_accuracy) if located and payload.location_accuracy is not None else None
    submission = CheckSubmission(
        task_id=task.id,
        enterprise_id=task.enterprise_id,
        user_id=actor.user_id,
        site_id=site.id,
        site_token=site.token,
        scanned_at=payload.scanned_at,
        submitted_at=now,
        latitude=_coordinate(payload.latitude),
        longitude=_coordinate(payload.longitude),
        location_accuracy=accuracy,
        checklist_id=task.checklist_id,
        checklist_version=task.checklist_version,
        risk_register_version=version,
        idempotency_key=payload.idempotency_key,
        status=status,
    )
    session.add(submission)
    session.flush()
    for position, resolved in enumerate(items, start=1):
        item = resolved.item
        answer = answers[item.code]
        hazard_id = None
        if answer.result is ItemResult.HAZARD:
            hazard_id = _report_item_hazard(
                session, actor, now, task, site, item, answer.note, answer.photos, position, media_root
            )
        session.add(
            CheckItemResult(
                submission_id=submission.id,
                position=position,
                item_code=item.code,
                item_text=item.text,
                category=item.category,
                result=answer.result,
                note=answer.note,
                hazard_id=hazard_id,
            )
        )
    for position, control in enumerate(controls, start=len(items) + 1):
        spec = _control_spec(control)
        answer = answers[spec.code]
        hazard_id = None
        if answer.result is ItemResult.HAZARD:
            hazard_id = _report_item_hazard(
                session, actor, now, task, site, spec, answer.note, answer.photos, position, media_root, control
            )
        session.add(
            CheckItemResult(
                submission_id=submission.id,
                position=position,
                item_code=spec.code,
                item_text=control.text,
                category=control.category,
                result=answer.result,
                note=answer.note,
                hazard_id=hazard_id,
                risk_control_id=control.control_id,
            )
        )
    session.flush()
    close_task(session, task, now)  # by the same rule and `now`: done ↔ on time, done_late ↔ late
    return submission


def _control_spec(control: ControlItem) -> ItemSpec:
    """A control as a line of the check (its code, wording, category and on_fail)."""
    return ItemSpec(control.code, control.text, control.category, "", control.on_fail)


MAX_CONTROL_IN_DESCRIPTION = 300


def control_hazard_context(control: ControlItem) -> str:
    """What a hazard found at a control says of its origin: the risk point, the source and
    the control (shortened)."""
    text = control.text
    if len(text) > MAX_CONTROL_IN_DESCRIPTION:
        text = text[: MAX_CONTROL_IN_DESCRIPTION - 1] + "…"
    return f"风险管控措施：{control.point_name} › {control.source_name} › {text}"


def _report_item_hazard(
    session: Session,
    actor: Actor,
    now: datetime,
    task: CheckTask,
    site: Site,
    item: ItemSpec,
    note: str,
    photos: Sequence[bytes],
    position: int,
    media_root: str | Path,
    control: ControlItem | None = None,
) -> int:
    """Report the hazard a 隐患 answer found, with its photos as before-photos; its id.
    A control item's hazard names the risk point, the source and the control, and keeps
    the control's id."""
    context = control_hazard_context(control) if control is not None else f"检查项 {item.code}：{item.text}"
    hazard = hazard_service.report_hazard(
        session,
        actor,
        now,
        {
            "enterprise_id": task.enterprise_id,
            "source": HazardSource.CHECK.value,
            "site_id": site.id,
            "department_id": site.department_id or task.schedule.department_id,
            "source_task_id": task.id,
            "item_code": item.code,
            "on_fail": item.on_fail.value,
            "item_category": item.category.value,
            "criteria_refs": list(item.refs),
            # The checker's words first (lists show two lines); the item gives the context.
            "description": f"{note}（{context}）",
            "location": site.area or "",
        },
    )
    if control is not None:
        hazard.risk_control_id = control.control_id
        session.flush()
    for photo in photos:
        try:
            hazard_service.add_photo(session, actor, now, hazard.id, PhotoKind.BEFORE, photo, media_root)
        except ValidationFailed as exc:
            problem = exc.fields.get("photo") or exc.message
            raise ValidationFailed(
                f"第 {position} 项的照片：{problem}", fields={f"answers.{item.code}": f"照片：{problem}"}
            ) from None
    return hazard.id


# --- 岗位自查: a worker confirms the controls of their post at a scanned site -------------

CONTROL_NOT_YOURS = "该管控措施不属于您在此点位的岗位，或已停用。请刷新页面后重试。"


@dataclass(frozen=True)
class SelfCheckStart:
    """What the scan page shows of the 岗位自查: the actor's post-level controls at the site
    and today's answers to them (by control id)."""

    site: Site
    controls: list[ControlItem]
    answered: dict[int, PostSelfCheck]


def start_self_check(session: Session, actor: Actor, now: datetime, site: Site) -> SelfCheckStart:
    """The post-level controls the actor confirms at `site` today (none when their posts
    have none there), with what they answered today already."""
    enterprise = site.enterprise
    if not actor.can(Action.REPORT_HAZARD, enterprise.ref):
        return SelfCheckStart(site, [], {})
    controls = post_control_items(session, actor.user_id, site)
    answered = self_checks_on(session, actor.user_id, [c.control_id for c in controls], local_today(now))
    return SelfCheckStart(site, controls, answered)


def confirm_post_control(
    session: Session, actor: Actor, now: datetime, site_token: str, control_id: int, result: str, note: str = ""
) -> PostSelfCheck:
    """Record the actor's 岗位自查 answer to one control of their post at a scanned site:
    已确认, or 有问题 with a note, which reports a hazard (like 随手拍) linked to the control.

    One answer per user, control and local day: a second one that day returns the first
    and writes nothing (the first answer stands; anything found later goes by 随手拍).
    Raises NotFound (bad token, a control not the actor's there), PermissionDenied,
    ValidationFailed."""
    site = site_by_token(session, site_token)
    enterprise = site.enterprise
    if not is_active_member(session, actor.user_id, site.enterprise_id):
        raise PermissionDenied(NOT_A_MEMBER.format(enterprise=enterprise.name))
    require(actor, Action.REPORT_HAZARD, enterprise.ref)
    try:
        answer = SelfCheckResult(result)
    except ValueError:
        raise ValidationFailed.for_field("result", "请选择“已确认”或“有问题”") from None
    cleaned = check_self_check_note(answer, note)
    control = next((c for c in post_control_items(session, actor.user_id, site) if c.control_id == control_id), None)
    if control is None:
        raise NotFound(CONTROL_NOT_YOURS)
    day = local_today(now)
    earlier = self_checks_on(session, actor.user_id, [control.control_id], day).get(control.control_id)
    if earlier is not None:
        return earlier
    hazard_id = None
    if answer is SelfCheckResult.PROBLEM:
        hazard = hazard_service.report_hazard(
            session,
            actor,
            now,
            {
                "enterprise_id": enterprise.id,
                "source": HazardSource.ADHOC.value,
                "site_id": site.id,
                "department_id": site.department_id,
                "item_code": control.code,
                "item_category": control.category.value,
                "description": f"{cleaned}（岗位自查 · {control_hazard_context(control)}）",
                "location": site.area or "",
            },
        )
        hazard.risk_control_id = control.control_id
        hazard_id = hazard.id
    row = PostSelfCheck(
        enterprise_id=enterprise.id,
        user_id=actor.user_id,
        post_id=control.post_id,
        site_id=site.id,
        risk_control_id=control.control_id,
        result=answer,
        note=cleaned,
        hazard_id=hazard_id,
        day=day,
        at=now,
    )
    session.add(row)
    session.flush()
    return row
