"""Pages over the hazard use cases.

H5 (inside WeChat, `/h5`): 随手拍 (`/h5/report`), my hazards (`/h5/hazards`) and one hazard
with the actions its viewer may take now. Console (desktop, `/console`): the scoped list
with filters, one hazard with the desktop actions, and the monthly ledger (台账) download.

Views stay thin: they turn a form into the dict a service verb parses, call the verb with
(session, actor, now), commit, and redirect (post/redirect/get). A DomainError rolls the
whole request back and the page is shown again with the Chinese message, so a refused
action never leaves half of itself stored (a photo without its submission, a hazard
without its photos).

Photos chosen on a phone are uploaded one by one as soon as they are picked ("staged" in
Redis for a day, with a thumbnail for the preview) so a half-filled form survives a reload
and the final submit is small; pages also work without JavaScript by posting the files.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.security import safe_join

from app.accounts.domain import (
    BUREAU_PERMISSIONS,
    ENTERPRISE_PERMISSIONS,
    ROLE_LABELS,
    Action,
    Actor,
    EnterpriseRef,
    Role,
)
from app.accounts.h5_login import current_h5_actor, current_h5_user, h5_login_required
from app.accounts.models import Membership, User
from app.accounts.queries import visible_enterprises
from app.accounts.views import current_actor, login_required
from app.clock import to_local, utcnow
from app.enterprises.models import Enterprise, Site
from app.errors import (
    Conflict,
    DomainError,
    NotFound,
    ValidationFailed,
    h5_domain_error,
    h5_notice,
    h5_too_large,
    readable_message,
    too_large_message,
    wants_json,
)
from app.extensions import db, redis_client
from app.hazard_reporting.hazards import ledger, major_hazards, queries, service
from app.hazard_reporting.hazards.domain import (
    ACTION_LABELS,
    CATEGORY_LABELS,
    LEVEL_LABELS,
    OPEN_STATUSES,
    RULES,
    SOURCE_LABELS,
    STATUS_LABELS,
    TRANSITIONS,
    ExtensionStatus,
    HazardAction,
    HazardCategory,
    HazardLevel,
    HazardSource,
    HazardStatus,
    PhotoKind,
    may_act,
    missing_five_in_place,
)
from app.hazard_reporting.hazards.ledger import OVERDUE_STATUSES, is_overdue
from app.hazard_reporting.hazards.models import DeadlineExtension, Hazard, HazardEvent, HazardPhoto
from app.hazard_reporting.hazards.photos import MAX_BYTES, prepare_photo
from app.wechat.client import WeChatAPIError, get_wechat_client

h5_bp = Blueprint("hazards_h5", __name__, url_prefix="/h5")
console_bp = Blueprint("hazards_console", __name__, url_prefix="/console")

MAX_PHOTOS_PER_FORM = 9  # what wx.chooseImage offers at most
LIST_LIMIT = 100
CONSOLE_PAGE_SIZE = 50

NO_PHOTO = "请至少拍摄或选择一张隐患照片"
STAGE_EXPIRED = "有照片已过期（超过 24 小时未提交），请删除后重新拍摄上传。"
TOO_MANY_PHOTOS = f"每次最多上传 {MAX_PHOTOS_PER_FORM} 张照片"
MEDIA_EXPIRED = "聊天中发送的照片已过期（微信只保留 3 天）或无法获取，请重新拍摄上传。"
WECHAT_DOWN = "暂时无法从微信获取照片，请稍后重试，或直接拍照上传。"
REPORT_BUSY = "上一次提交仍在处理中，请稍候刷新页面查看结果，不要重复提交。"

# Chinese names of the form fields, for messages that name a field.
FIELD_LABELS = {
    "photo": "照片",
    "photos": "照片",
    "enterprise_id": "企业",
    "site_id": "排查点位",
    "department_id": "责任部门",
    "description": "隐患描述",
    "location": "具体位置",
    "level": "隐患等级",
    "category": "隐患类别",
    "assignee_id": "整改责任人",
    "note": "说明",
    "reason": "理由",
    "passed": "结论",
    "approved": "审批结论",
    "new_deadline": "申请延至",
    "criteria_code": "判定依据",
    "criteria_note": "外部因素说明",
    "assessor": "评估人/专家",
    "opinion": "意见",
    "acceptor": "验收人/专家",
    "supervising_unit": "督办单位",
    "measures": "整改措施",
    "owner_org": "责任单位",
    "owner_person": "责任人",
    "fund_amount": "整改资金",
    "fund_source": "资金来源",
    "deadline": "整改时限",
    "milestones": "节点计划",
    "contingency": "应急预案",
    "month": "月份",
    "idempotency_key": "提交标识",
}

PLAN_FIELDS = (
    "measures",
    "owner_org",
    "owner_person",
    "fund_amount",
    "fund_source",
    "deadline",
    "contingency",
)


# ---------------------------------------------------------------------------------------
# What the viewer may do now
# ---------------------------------------------------------------------------------------

# The actions offered as forms, in the order a page lists them. REOPEN is the "not passed"
# outcome of the verify/accept forms; ADD_AFTER_PHOTO is part of submitting the fix.
FORM_ACTIONS: tuple[HazardAction, ...] = (
    HazardAction.START_RECTIFICATION,
    HazardAction.SUBMIT_RECTIFICATION,
    HazardAction.VERIFY,
    HazardAction.ACCEPT,
    HazardAction.ASSESS,
    HazardAction.REGISTER,
    HazardAction.SAVE_PLAN,
    HazardAction.APPROVE_PLAN,
    HazardAction.SUPERVISE,
    HazardAction.DECIDE_EXTENSION,
    HazardAction.ASSIGN,
    HazardAction.REQUEST_EXTENSION,
    HazardAction.ADD_BEFORE_PHOTO,
    HazardAction.UPGRADE_TO_MAJOR,
    HazardAction.REJECT,
)
# The ones that wait for a decision by someone other than the fixer (the 待我处理 list).
DECISIONS = frozenset(
    {
        HazardAction.ASSIGN,
        HazardAction.VERIFY,
        HazardAction.ACCEPT,
        HazardAction.ASSESS,
        HazardAction.REGISTER,
        HazardAction.APPROVE_PLAN,
        HazardAction.SUPERVISE,
        HazardAction.DECIDE_EXTENSION,
    }
)
# Side actions never open by themselves: the page opens the first of the others (the
# thing this person came to do), so a worker sees one form, not five.
_SIDE_ACTIONS = frozenset(
    {
        HazardAction.ADD_BEFORE_PHOTO,
        HazardAction.REQUEST_EXTENSION,
        HazardAction.UPGRADE_TO_MAJOR,
        HazardAction.REJECT,
    }
)



def available_actions(
    actor: Actor,
    hazard: Hazard,
    ref: EnterpriseRef,
    pending: DeadlineExtension | None,
) -> list[HazardAction]:
    """The form actions `actor` may take on `hazard` now, by the transition table and the
    actor's role or part in it, leaving out those whose preconditions are visibly unmet
    (starting without an assignee, asking for an extension twice, deciding one's own)."""
    actions = []
    for action in FORM_ACTIONS:
        rule = TRANSITIONS.get((action, hazard.level, hazard.status))
        if rule is None or not may_act(
            rule, actor, ref, reporter_id=hazard.reporter_id, assignee_id=hazard.assignee_id
        ):
            continue
        if action is HazardAction.START_RECTIFICATION and hazard.assignee_id is None:
            continue
        if action is HazardAction.REQUEST_EXTENSION and (hazard.deadline is None or pending is not None):
            continue
        if action is HazardAction.DECIDE_EXTENSION and (
            pending is None or pending.requested_by_id == actor.user_id
        ):
            continue
        actions.append(action)
    return actions


def primary_action(hazard: Hazard, actions: list[HazardAction]) -> HazardAction | None:
    """The action a page opens for its viewer: the first that is not a side action
    (re-assigning an assigned hazard is one too)."""
    for action in actions:
        if action in _SIDE_ACTIONS or (action is HazardAction.ASSIGN and hazard.assignee_id is not None):
            continue
        return action
    return None


# ---------------------------------------------------------------------------------------
# Messages
# ---------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------
# Staged photos and the once-only report (Redis)
# ---------------------------------------------------------------------------------------

STAGE_TTL_SECONDS = 24 * 3600
REPORT_KEY_TTL_SECONDS = 7 * 24 * 3600
# How long a submission may hold its key before a repeat is allowed to try again.
REPORT_CLAIM_SECONDS = 120
_PENDING = b"pending:"
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


class PhotoStage:
    """Photos picked before the form that uses them is submitted: per user, for a day, the
    raw bytes (which add_photo will clean and store) and a preview thumbnail. The bytes are
    validated when staged, so a bad file is refused at once, not at submit time."""

    def __init__(self, user_id: int):
        self.redis = redis_client()
        self.user_id = user_id

    def _key(self, token: str) -> str:
        return f"ancha:h5:staged:{self.user_id}:{token}"

    def put(self, data: bytes) -> str:
        """Stage an upload; returns its token. Raises ValidationFailed for a bad image."""
        _, thumb, _, _ = prepare_photo(data)
        token = secrets.token_urlsafe(18)
        pipe = self.redis.pipeline()
        pipe.hset(self._key(token), mapping={"raw": data, "thumb": thumb})
        pipe.expire(self._key(token), STAGE_TTL_SECONDS)
        pipe.execute()
        return token

    def put_media(self, media_id: str) -> str:
        """Fetch WeChat temporary media (a photo sent in chat, or a JS-SDK uploadImage
        serverId) with media/get and stage it. The same media_id again gives the same
        token while it is staged (reloading the form does not download it again).
        Raises ValidationFailed (expired media, WeChat unreachable, not an image)."""
        media_id = media_id.strip()
        if not media_id or len(media_id) > 256:
            raise ValidationFailed.for_field("photo", MEDIA_EXPIRED)
        seen = f"ancha:h5:staged-media:{self.user_id}:{hashlib.sha256(media_id.encode()).hexdigest()}"
        known = self.redis.get(seen)
        if known is not None and self.redis.exists(self._key(known.decode())):
            return known.decode()
        try:
            response = get_wechat_client().media.download(media_id)
        except WeChatAPIError as exc:
            raise ValidationFailed.for_field(
                "photo", WECHAT_DOWN if exc.retryable else MEDIA_EXPIRED
            ) from None
        data = getattr(response, "content", b"")
        token = self.put(data)
        self.redis.set(seen, token, ex=STAGE_TTL_SECONDS)
        return token

    def thumb(self, token: str) -> bytes | None:
        if not _TOKEN_RE.match(token):
            return None
        return self.redis.hget(self._key(token), "thumb")

    def raw(self, token: str) -> bytes | None:
        if not _TOKEN_RE.match(token):
            return None
        return self.redis.hget(self._key(token), "raw")

    def alive(self, tokens: list[str]) -> list[str]:
        """The tokens still staged, in order, without repeats."""
        seen: list[str] = []
        for token in tokens:
            if token not in seen and _TOKEN_RE.match(token) and self.redis.exists(self._key(token)):
                seen.append(token)
        return seen

    def discard(self, tokens: list[str]) -> None:
        keys = [self._key(t) for t in tokens if _TOKEN_RE.match(t)]
        if keys:
            self.redis.delete(*keys)


def _uploads(form: MultiDict, files: MultiDict, stage: PhotoStage | None) -> tuple[list[bytes], list[str]]:
    """The photos of a form: staged tokens (`staged`) and posted files (`photo`), as bytes,
    with the staged tokens used. Raises ValidationFailed for an expired token or too many."""
    tokens = [t for t in form.getlist("staged") if t]
    photos: list[bytes] = []
    if tokens:
        if stage is None:
            raise ValidationFailed.for_field("photo", STAGE_EXPIRED)
        for token in dict.fromkeys(tokens):
            raw = stage.raw(token)
            if raw is None:
                raise ValidationFailed.for_field("photo", STAGE_EXPIRED)
            photos.append(raw)
    for upload in files.getlist("photo"):
        data = upload.read()
        if data or upload.filename:
            photos.append(data)
    if len(photos) > MAX_PHOTOS_PER_FORM:
        raise ValidationFailed.for_field("photo", TOO_MANY_PHOTOS)
    return photos, list(dict.fromkeys(tokens))


@dataclass
class ReportClaim:
    """The idempotency key of one 随手拍 submission (per user, in Redis): held while the
    submission is being stored, then remembering the hazard it created, so a repeat — a
    double tap, a retry after a lost answer, a reload — returns that hazard."""

    name: str
    mark: bytes = b""

    @classmethod
    def of(cls, user_id: int, key: str) -> ReportClaim:
        if not _TOKEN_RE.match(key or ""):
            raise ValidationFailed.for_field("idempotency_key", "页面已过期，请刷新后重新提交")
        return cls(f"ancha:h5:report:{user_id}:{key}", _PENDING + secrets.token_hex(8).encode())

    def claim(self, wait_seconds: float = 2.0) -> int | None:
        """None: this request now holds the key. An int: the hazard an earlier submission
        with this key created. Raises Conflict when another submission with the key is
        still being stored after `wait_seconds`."""
        redis = redis_client()
        deadline = time.monotonic() + wait_seconds
        while True:
            if redis.set(self.name, self.mark, nx=True, ex=REPORT_CLAIM_SECONDS):
                return None
            value = redis.get(self.name)
            if value is not None and not value.startswith(_PENDING):
                return int(value)
            if time.monotonic() >= deadline:
                raise Conflict(REPORT_BUSY)
            time.sleep(0.2)

    def done(self, hazard_id: int) -> None:
        redis_client().set(self.name, str(hazard_id), ex=REPORT_KEY_TTL_SECONDS)

    def release(self) -> None:
        """Let the key be used again after a refused submission (only if still ours: a
        claim that outlived REPORT_CLAIM_SECONDS may belong to another request by now)."""
        redis = redis_client()
        if redis.get(self.name) == self.mark:
            redis.delete(self.name)


# ---------------------------------------------------------------------------------------
# Forms → service verbs
# ---------------------------------------------------------------------------------------


def _fields(form: MultiDict, *names: str) -> dict[str, str]:
    """The named fields that were filled in (blank ones left out, so the schema says 必填)."""
    values = {}
    for name in names:
        value = (form.get(name) or "").strip()
        if value:
            values[name] = value
    return values


def _milestones(text: str, existing: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Plan milestones from lines "YYYY-MM-DD 节点内容"; a milestone already marked done
    (same date and text) stays done. Raises ValidationFailed naming the bad line."""
    done = {(m.get("due"), m.get("title")) for m in existing or [] if m.get("done")}
    milestones = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        head, _, title = line.partition(" ")
        try:
            due = date.fromisoformat(head.strip())
        except ValueError:
            raise ValidationFailed.for_field(
                "milestones", f"第 {number} 行应为“YYYY-MM-DD 节点内容”，如 2026-12-10 完成除尘器泄爆片更换"
            ) from None
        title = title.strip()
        if not title:
            raise ValidationFailed.for_field("milestones", f"第 {number} 行缺少节点内容")
        milestones.append({"title": title, "due": due.isoformat(), "done": (due.isoformat(), title) in done})
    return milestones


def _plan_data(form: MultiDict, hazard: Hazard) -> dict[str, Any]:
    """Every plan field from the form: a blank field clears what was there."""
    data: dict[str, Any] = {name: (form.get(name) or "").strip() or None for name in PLAN_FIELDS}
    existing = hazard.plan.milestones if hazard.plan is not None else []
    data["milestones"] = _milestones(form.get("milestones") or "", existing)
    return data


DONE_MESSAGES = {
    "report": "隐患已上报，安全管理人员会尽快处理。",
    "assign": "已指派整改责任人。",
    "start_rectification": "已开始整改。",
    "submit_rectification": "整改结果已提交，等待复查验收。",
    "verify_passed": "复查通过，隐患已销号。",
    "verify_failed": "复查不通过，已退回重新整改。",
    "accept_passed": "验收通过，重大隐患已销号。",
    "accept_failed": "验收不通过，已退回重新整改。",
    "reject": "已驳回，认定不属于隐患。",
    "upgrade_to_major": "已升级为重大隐患，请按重大隐患流程评估认定。",
    "assess": "评估认定已完成。",
    "register": "已登记建档并上报监管部门。",
    "save_plan": "治理方案已保存。",
    "approve_plan": "治理方案已通过立项审核。",
    "supervise": "已挂牌督办。",
    "request_extension": "延期申请已提交，等待审批。",
    "extension_approved": "已同意延期，整改期限已更新。",
    "extension_refused": "已不同意延期。",
    "add_before_photo": "照片已上传。",
}


def perform(
    session: Session,
    actor: Actor,
    now: datetime,
    hazard: Hazard,
    action: HazardAction,
    form: MultiDict,
    files: MultiDict,
    stage: PhotoStage | None,
) -> tuple[str, list[str]]:
    """Apply the form of `action` to `hazard` through the service (flushing, not
    committing). Returns (the DONE_MESSAGES key, staged tokens consumed). Raises DomainError."""
    media_root = current_app.config["SETTINGS"].MEDIA_ROOT
    hid = hazard.id
    A = HazardAction
    if action is A.ASSIGN:
        service.assign(session, actor, now, hid, _fields(form, "assignee_id"))
    elif action is A.START_RECTIFICATION:
        service.start_rectification(session, actor, now, hid, _fields(form, "note"))
    elif action is A.SUBMIT_RECTIFICATION:
        photos, used = _uploads(form, files, stage)
        for data in photos:
            service.add_photo(session, actor, now, hid, PhotoKind.AFTER, data, media_root)
        service.submit_rectification(session, actor, now, hid, _fields(form, "note"))
        return action.value, used
    elif action is A.VERIFY:
        result = service.verify(session, actor, now, hid, _fields(form, "passed", "note"))
        return ("verify_passed" if result.status is HazardStatus.CLOSED else "verify_failed"), []
    elif action is A.ACCEPT:
        result = major_hazards.accept(session, actor, now, hid, _fields(form, "passed", "acceptor", "opinion"))
        return ("accept_passed" if result.status is HazardStatus.CLOSED else "accept_failed"), []
    elif action is A.REJECT:
        service.reject(session, actor, now, hid, _fields(form, "reason"))
    elif action is A.UPGRADE_TO_MAJOR:
        service.upgrade_to_major(
            session, actor, now, hid, _fields(form, "criteria_code", "criteria_note", "note")
        )
    elif action is A.ASSESS:
        major_hazards.assess(
            session, actor, now, hid, _fields(form, "criteria_code", "criteria_note", "assessor", "opinion")
        )
    elif action is A.REGISTER:
        major_hazards.register(session, actor, now, hid, _fields(form, "note"))
    elif action is A.SAVE_PLAN:
        major_hazards.save_plan(session, actor, now, hid, _plan_data(form, hazard))
    elif action is A.APPROVE_PLAN:
        major_hazards.approve_plan(session, actor, now, hid, _fields(form, "note"))
    elif action is A.SUPERVISE:
        major_hazards.supervise(session, actor, now, hid, _fields(form, "supervising_unit", "note"))
    elif action is A.REQUEST_EXTENSION:
        service.request_extension(session, actor, now, hid, _fields(form, "new_deadline", "reason"))
    elif action is A.DECIDE_EXTENSION:
        pending = _pending(session, hazard)
        if pending is None:
            raise Conflict("该隐患没有待审批的延期申请。")
        decided = service.decide_extension(session, actor, now, pending.id, _fields(form, "approved", "note"))
        return (
            "extension_approved" if decided.status is ExtensionStatus.APPROVED else "extension_refused"
        ), []
    elif action is A.ADD_BEFORE_PHOTO:
        photos, used = _uploads(form, files, stage)
        if not photos:
            raise ValidationFailed.for_field("photo", "请选择要上传的照片")
        for data in photos:
            service.add_photo(session, actor, now, hid, PhotoKind.BEFORE, data, media_root)
        return action.value, used
    else:  # not offered as a form
        raise NotFound("页面不存在，请检查链接是否正确。")
    return action.value, []


def _action_from(slug: str) -> HazardAction:
    try:
        action = HazardAction(slug)
    except ValueError:
        raise NotFound("页面不存在，请检查链接是否正确。") from None
    if action not in FORM_ACTIONS:
        raise NotFound("页面不存在，请检查链接是否正确。")
    return action


# ---------------------------------------------------------------------------------------
# Read helpers shared by both kinds of page
# ---------------------------------------------------------------------------------------


def _names(session: Session, ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(session.execute(select(User.id, User.display_name).where(User.id.in_(wanted))).all())


def _pending(session: Session, hazard: Hazard) -> DeadlineExtension | None:
    return session.scalar(
        select(DeadlineExtension).where(
            DeadlineExtension.hazard_id == hazard.id, DeadlineExtension.status == ExtensionStatus.REQUESTED
        )
    )


def _members(session: Session, enterprise_id: int) -> list[dict[str, Any]]:
    """Active members of the enterprise (who may be named to fix a hazard), with roles."""
    rows = session.execute(
        select(User.id, User.display_name, Membership.role)
        .join(Membership, Membership.user_id == User.id)
        .where(
            Membership.enterprise_id == enterprise_id,
            Membership.active.is_(True),
            User.is_active.is_(True),
        )
        .order_by(User.display_name, User.id)
    ).all()
    people: dict[int, dict[str, Any]] = {}
    for user_id, name, role in rows:
        entry = people.setdefault(user_id, {"id": user_id, "name": name, "roles": []})
        entry["roles"].append(ROLE_LABELS[Role(role)])
    return list(people.values())


def _moment(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def _local(moment: datetime | None) -> str:
    return to_local(moment).strftime("%Y-%m-%d %H:%M") if moment else ""


def _event_view(event: HazardEvent, names: dict[int, str]) -> dict[str, Any]:
    """One line of the history: who, when, what, from → to, note and the facts it carried."""
    data = event.data or {}
    details: list[str] = []
    action = event.action
    if action is HazardAction.ASSIGN and data.get("assignee_id"):
        details.append(f"整改责任人：{names.get(data['assignee_id'], '—')}")
    if data.get("criteria_code"):
        details.append(f"判定依据：{data['criteria_code']}")
    if data.get("assessor"):
        details.append(f"评估人：{data['assessor']}")
    if data.get("registration_no"):
        details.append(f"登记编号：{data['registration_no']}")
    if data.get("supervising_unit"):
        details.append(f"督办单位：{data['supervising_unit']}")
    if data.get("acceptor"):
        details.append(f"验收人：{data['acceptor']}")
    if action is HazardAction.SAVE_PLAN and data.get("fields"):
        details.append("修改：" + "、".join(FIELD_LABELS.get(f, f) for f in data["fields"]))
    if action is HazardAction.REQUEST_EXTENSION:
        details.append(f"申请延至：{_local(_moment(data.get('new_deadline')))}")
    if action is HazardAction.DECIDE_EXTENSION:
        verdict = (
            "同意延期至 " + _local(_moment(data.get("new_deadline")))
            if data.get("approved")
            else "不同意延期"
        )
        details.append(verdict)
    if action in (HazardAction.VERIFY, HazardAction.REOPEN) and "passed" in data:
        details.append("结论：通过" if data["passed"] else "结论：不通过")
    if data.get("cancelled_extension_id"):
        details.append("待审批的延期申请已作废")
    return {
        "at": event.at,
        "who": names.get(event.actor_id, "系统") if event.actor_id else "系统",
        "label": ACTION_LABELS[action],
        "from": STATUS_LABELS[event.from_status] if event.from_status else None,
        "to": STATUS_LABELS[event.to_status],
        "changed": event.from_status is not None and event.from_status != event.to_status,
        "note": event.note,
        "details": details,
    }


def _duty_steps(hazard: Hazard, names: dict[int, str]) -> list[dict[str, Any]]:
    """The five duties of a major hazard (domain.md §1.5) with who did each and when."""
    plan = hazard.plan

    def step(title: str, at: datetime | None, by: int | None, *lines: str | None) -> dict[str, Any]:
        return {
            "title": title,
            "done": at is not None,
            "at": at,
            "who": names.get(by, "") if by else "",
            "lines": [line for line in lines if line],
        }

    if plan is None:
        return [step(t, None, None) for t in ("评估认定", "登记建档", "立项审核", "督导督办", "验收确认")]
    return [
        step(
            "评估认定",
            plan.assessed_at,
            plan.assessed_by_id,
            f"评估人：{plan.assessor}" if plan.assessor else None,
            plan.assessment_opinion,
        ),
        step(
            "登记建档",
            plan.registered_at,
            plan.registered_by_id,
            f"登记编号：{plan.registration_no}" if plan.registration_no else None,
        ),
        step("立项审核", plan.approved_at, plan.approved_by_id, plan.approval_note),
        step(
            "督导督办",
            plan.supervised_at,
            plan.supervised_by_id,
            f"督办单位：{plan.supervising_unit}" if plan.supervising_unit else None,
            plan.supervision_note,
        ),
        step(
            "验收确认",
            plan.accepted_at,
            plan.accepted_by_id,
            f"验收人：{plan.acceptor}" if plan.acceptor else None,
            plan.acceptance_opinion,
        ),
    ]


def _five_in_place(hazard: Hazard) -> dict[str, Any] | None:
    """The 五到位 plan as shown: each of the five with its text and whether it is in place."""
    if hazard.level is not HazardLevel.MAJOR:
        return None
    plan = hazard.plan
    if plan is None:
        missing = {label: [] for label in ("整改措施", "整改责任", "整改资金", "整改时限", "应急预案")}
        return {
            "items": [{"label": k, "text": "", "ok": False} for k in missing],
            "missing": list(missing),
            "milestones": [],
            "plan": None,
        }
    missing = missing_five_in_place(plan.five_in_place())
    fund = ""
    if plan.fund_amount is not None:
        fund = f"{plan.fund_amount:,.2f} 元"
    items = [
        ("整改措施", plan.measures or ""),
        ("整改责任", " · ".join(p for p in (plan.owner_org, plan.owner_person) if p)),
        ("整改资金", " · ".join(p for p in (fund, plan.fund_source) if p)),
        ("整改时限", _local(plan.deadline)),
        ("应急预案", plan.contingency or ""),
    ]
    return {
        "items": [{"label": label, "text": text, "ok": label not in missing} for label, text in items],
        "missing": list(missing),
        "milestones": plan.milestones or [],
        "plan": plan,
    }


def detail_context(session: Session, actor: Actor, hazard_id: int, now: datetime) -> dict[str, Any]:
    """Everything a hazard page shows. Raises NotFound when the actor may not see it."""
    hazard = queries.get_hazard(session, actor, hazard_id)
    enterprise = session.get(Enterprise, hazard.enterprise_id)
    site = session.get(Site, hazard.site_id) if hazard.site_id else None
    events = queries.hazard_history(session, actor, hazard_id)
    pending = next((e for e in hazard.extensions if e.status is ExtensionStatus.REQUESTED), None)
    plan = hazard.plan
    ids: set[int | None] = {
        actor.user_id,
        hazard.reporter_id,
        hazard.assignee_id,
        *(e.actor_id for e in events),
    }
    ids |= {e.requested_by_id for e in hazard.extensions}
    if plan is not None:
        ids |= {
            plan.assessed_by_id,
            plan.registered_by_id,
            plan.approved_by_id,
            plan.supervised_by_id,
            plan.accepted_by_id,
        }
    for event in events:
        if event.action is HazardAction.ASSIGN:
            ids.add((event.data or {}).get("assignee_id"))
    names = _names(session, ids)
    ref = enterprise.ref
    actions = available_actions(actor, hazard, ref, pending)
    plan_values = {}
    if plan is not None:
        plan_values = {name: getattr(plan, name) or "" for name in PLAN_FIELDS}
        plan_values["deadline"] = to_local(plan.deadline).date().isoformat() if plan.deadline else ""
        plan_values["fund_amount"] = f"{plan.fund_amount:.2f}" if plan.fund_amount is not None else ""
        plan_values["milestones"] = "\n".join(f"{m['due']} {m['title']}" for m in plan.milestones or [])
    local_today = to_local(now).date()
    return {
        "hazard": hazard,
        "enterprise": enterprise,
        "site": site,
        "names": names,
        "events": [_event_view(e, names) for e in reversed(events)],
        "before_photos": [p for p in hazard.photos if p.kind is PhotoKind.BEFORE],
        "after_photos": [p for p in hazard.photos if p.kind is PhotoKind.AFTER],
        "pending": pending,
        "actions": actions,
        "primary": primary_action(hazard, actions),
        "members": _members(session, enterprise.id) if HazardAction.ASSIGN in actions else [],
        "overdue": is_overdue(hazard, now),
        "five": _five_in_place(hazard),
        "steps": _duty_steps(hazard, names) if hazard.level is HazardLevel.MAJOR else [],
        "plan_values": plan_values,
        "now": now,
        "min_date": (local_today + timedelta(days=1)).isoformat(),
        "today": local_today.isoformat(),
    }


def _photo_response(session: Session, actor: Actor, hazard_id: int, photo_id: int, size: str) -> Response:
    """A hazard photo (original or thumbnail) after the same scope check as the hazard
    itself; never a public static path."""
    queries.get_hazard(session, actor, hazard_id)
    photo = session.get(HazardPhoto, photo_id)
    if photo is None or photo.hazard_id != hazard_id:
        raise NotFound("照片不存在或您无权查看。")
    relative = photo.thumb_path if size == "thumb" else photo.path
    path = safe_join(current_app.config["SETTINGS"].MEDIA_ROOT, relative)
    if path is None or not Path(path).is_file():
        raise NotFound("照片文件已丢失，请联系管理员。")
    response = send_file(path, mimetype="image/jpeg", conditional=True, max_age=86400)
    # Content-addressed files never change; only the viewer's own browser may keep them.
    response.cache_control.public = False
    response.cache_control.private = True
    return response


def _labels() -> dict[str, Any]:
    return {
        "STATUS_LABELS": STATUS_LABELS,
        "LEVEL_LABELS": LEVEL_LABELS,
        "CATEGORY_LABELS": CATEGORY_LABELS,
        "SOURCE_LABELS": SOURCE_LABELS,
        "ACTION_LABELS": ACTION_LABELS,
        "DONE_MESSAGES": DONE_MESSAGES,
        "HazardAction": HazardAction,
        "HazardLevel": HazardLevel,
        "HazardStatus": HazardStatus,
        "MAX_PHOTOS": MAX_PHOTOS_PER_FORM,
        "MAX_PHOTO_MB": MAX_BYTES // (1024 * 1024),
    }


@h5_bp.context_processor
def _h5_context() -> dict[str, Any]:
    return {**_labels(), "ui": "h5", "photo_endpoint": "hazards_h5.hazard_photo"}


@console_bp.context_processor
def _console_context() -> dict[str, Any]:
    return {**_labels(), "ui": "console", "photo_endpoint": "hazards_console.console_photo"}


# ---------------------------------------------------------------------------------------
# H5: errors
# ---------------------------------------------------------------------------------------


# What a refusal is titled on the hazard pages ("操作未完成" otherwise).
_H5_TITLES = {404: "内容不存在", 403: "没有权限", 409: "请稍候"}


@h5_bp.errorhandler(DomainError)
def _h5_domain_error(exc: DomainError):
    return h5_domain_error(exc, _H5_TITLES, FIELD_LABELS)


@h5_bp.errorhandler(RequestEntityTooLarge)
def _h5_too_large(_exc: RequestEntityTooLarge):
    return h5_too_large(MAX_BYTES, url_for("hazards_h5.report"))


@console_bp.errorhandler(RequestEntityTooLarge)
def _console_too_large(_exc: RequestEntityTooLarge):
    db.rollback_request_session()
    return render_template("error.html", status=413, payload={"message": too_large_message(MAX_BYTES)}), 413


def _h5_actor() -> Actor:
    actor = current_h5_actor()
    if actor is None:  # h5_login_required ran first
        abort(401)
    return actor


# ---------------------------------------------------------------------------------------
# H5: 随手拍
# ---------------------------------------------------------------------------------------


def _reportable(session: Session, actor: Actor) -> tuple[list[Enterprise], list[Site]]:
    """The enterprises the actor may report hazards in, and their active sites."""
    enterprises = [
        e
        for e in session.scalars(
            select(Enterprise).where(Enterprise.id.in_(list(actor.roles))).order_by(Enterprise.name)
        )
        if actor.can(Action.REPORT_HAZARD, e.ref)
    ]
    if not enterprises:
        return [], []
    sites = list(
        session.scalars(
            select(Site)
            .where(Site.enterprise_id.in_([e.id for e in enterprises]), Site.active.is_(True))
            .order_by(Site.enterprise_id, Site.name)
        )
    )
    return enterprises, sites


def _report_page(
    enterprises: list[Enterprise],
    sites: list[Site],
    *,
    values: dict[str, Any],
    staged: list[str],
    key: str,
    error: str | None = None,
    notice: str | None = None,
    status: int = 200,
):
    user = current_h5_user()
    return (
        render_template(
            "hazards/h5_report.html",
            enterprises=enterprises,
            sites=sites,
            values=values,
            staged=staged,
            key=key,
            error=error,
            notice=notice,
            user_id=user.id if user else 0,
            categories=CATEGORY_LABELS,
        ),
        status,
    )


@h5_bp.get("/report")
@h5_login_required
def report():
    """随手拍 form. From a chat photo (`?media_id=`) the photo is fetched now and attached."""
    actor = _h5_actor()
    enterprises, sites = _reportable(db.session, actor)
    if not enterprises:
        return h5_notice(
            403,
            "暂不能上报隐患",
            ["您还不是任何企业的成员，不能上报隐患。", "请联系本单位企业管理员邀请您加入。"],
        )
    staged: list[str] = []
    notice = None
    media_id = request.args.get("media_id", "")
    if media_id:
        try:
            staged.append(PhotoStage(actor.user_id).put_media(media_id))
        except ValidationFailed as exc:
            notice = readable_message(exc, FIELD_LABELS)
    values = {"level": HazardLevel.GENERAL.value, "category": HazardCategory.UNSAFE_CONDITION.value}
    return _report_page(
        enterprises, sites, values=values, staged=staged, key=secrets.token_urlsafe(18), notice=notice
    )


@h5_bp.post("/report/photos")
@h5_login_required
def stage_photo():
    """Stage one photo for a form: a posted file (`photo`) or WeChat media (`media_id`, the
    serverId of wx.uploadImage). Answers {token, thumb_url}; 422 with a Chinese message."""
    actor = _h5_actor()
    stage = PhotoStage(actor.user_id)
    upload = request.files.get("photo")
    if upload is not None:
        token = stage.put(upload.read())
    elif request.form.get("media_id"):
        token = stage.put_media(request.form["media_id"])
    else:
        raise ValidationFailed.for_field("photo", "请选择照片")
    return jsonify({"token": token, "thumb_url": url_for("hazards_h5.staged_thumb", token=token)}), 201


@h5_bp.get("/report/photos/<token>.jpg")
@h5_login_required
def staged_thumb(token: str):
    """The preview of a photo this user staged (nobody else's)."""
    thumb = PhotoStage(_h5_actor().user_id).thumb(token)
    if thumb is None:
        raise NotFound("照片已过期，请重新拍摄。")
    response = Response(thumb, mimetype="image/jpeg")
    response.cache_control.private = True
    response.cache_control.max_age = 3600
    return response


@h5_bp.post("/report")
@h5_login_required
def submit_report():
    """Create the hazard with its photos in one transaction; the client's idempotency key
    makes a repeated submission return the hazard the first one created."""
    actor = _h5_actor()
    session = db.session
    form, files = request.form, request.files  # parsing here raises 413 before anything else
    stage = PhotoStage(actor.user_id)
    enterprises, sites = _reportable(session, actor)
    key = form.get("idempotency_key", "")
    claim = ReportClaim.of(actor.user_id, key)
    existing = claim.claim()
    if existing is not None:
        return _report_done(existing)
    now = utcnow()
    try:
        hazard, used = _create_report(session, actor, now, form, files, stage, enterprises, sites)
        session.commit()
    except DomainError as exc:
        session.rollback()
        claim.release()
        if wants_json():
            return jsonify({**exc.to_dict(), "message": readable_message(exc, FIELD_LABELS)}), exc.http_status
        values = {
            name: form.get(name, "")
            for name in ("enterprise_id", "site_id", "location", "description", "level", "category")
        }
        return _report_page(
            enterprises,
            sites,
            values=values,
            staged=stage.alive(form.getlist("staged")),
            key=key,
            error=readable_message(exc, FIELD_LABELS),
            status=exc.http_status,
        )
    except BaseException:
        session.rollback()
        claim.release()
        raise
    claim.done(hazard.id)
    stage.discard(used)
    return _report_done(hazard.id)


def _report_done(hazard_id: int):
    url = url_for("hazards_h5.hazard_detail", hazard_id=hazard_id, done="report")
    if wants_json():
        return jsonify({"hazard_id": hazard_id, "url": url})
    return redirect(url, code=303)


def _create_report(
    session: Session,
    actor: Actor,
    now: datetime,
    form: MultiDict,
    files: MultiDict,
    stage: PhotoStage,
    enterprises: list[Enterprise],
    sites: list[Site],
) -> tuple[Hazard, list[str]]:
    """report_hazard + add_photo(before) for each photo. Raises DomainError."""
    if not enterprises:
        raise ValidationFailed.for_field("enterprise_id", "您还不是任何企业的成员，不能上报隐患")
    data: dict[str, Any] = {"source": HazardSource.ADHOC.value}
    data |= _fields(form, "enterprise_id", "site_id", "description", "location", "category")
    if "enterprise_id" not in data:
        site = next((s for s in sites if str(s.id) == data.get("site_id")), None)
        if site is not None:
            data["enterprise_id"] = site.enterprise_id
        elif len(enterprises) == 1:
            data["enterprise_id"] = enterprises[0].id
        else:
            raise ValidationFailed.for_field("enterprise_id", "请选择企业")
    level = (form.get("level") or HazardLevel.GENERAL.value).strip()
    if level not in {lv.value for lv in HazardLevel}:
        raise ValidationFailed.for_field("level", "请选择“一般隐患”或“可能重大”")
    # The service lets any member claim a major hazard; the 评估认定 step confirms it, and
    # only the principal may dismiss the claim (domain.py, REJECT of a major hazard).
    data["level"] = level
    photos, used = _uploads(form, files, stage)
    if not photos:
        raise ValidationFailed.for_field("photo", NO_PHOTO)
    hazard = service.report_hazard(session, actor, now, data)
    media_root = current_app.config["SETTINGS"].MEDIA_ROOT
    for photo in photos:
        service.add_photo(session, actor, now, hazard.id, PhotoKind.BEFORE, photo, media_root)
    return hazard, used


# ---------------------------------------------------------------------------------------
# H5: my hazards and one hazard
# ---------------------------------------------------------------------------------------


def _refs(session: Session, hazards: list[Hazard]) -> dict[int, Enterprise]:
    ids = {h.enterprise_id for h in hazards}
    if not ids:
        return {}
    return {e.id: e for e in session.scalars(select(Enterprise).where(Enterprise.id.in_(ids)))}


def _possible_permissions(actor: Actor) -> frozenset[Action]:
    """Every permission the actor holds on some enterprise (which one is checked per hazard)."""
    permissions: set[Action] = set()
    for roles in actor.roles.values():
        for role in roles:
            permissions |= ENTERPRISE_PERMISSIONS[role]
    if actor.bureau_role is not None:
        permissions |= BUREAU_PERMISSIONS[actor.bureau_role][0]
    return frozenset(permissions)


def waiting_for(session: Session, actor: Actor, limit: int = LIST_LIMIT) -> list[Hazard]:
    """Open hazards waiting for a decision `actor` may take now (assign, verify, accept,
    the major-hazard duties, an extension request), most urgent first."""
    pending = {e.hazard_id: e for e in queries.pending_extensions(session, actor)}
    # Narrow in SQL to the (level, status) pairs of the decisions the actor's permissions
    # allow somewhere (a bureau admin must not wade through every general hazard of the
    # district); the exact check per hazard and enterprise follows in Python.
    permissions = _possible_permissions(actor)
    wanted = []
    for rule in RULES:
        if rule.action not in DECISIONS or rule.action is HazardAction.DECIDE_EXTENSION:
            continue
        if not rule.permissions & permissions:
            continue
        condition = and_(Hazard.level.in_(sorted(rule.levels)), Hazard.status.in_(sorted(rule.sources)))
        if rule.action is HazardAction.ASSIGN:  # only naming the first fixer is waited for
            condition = and_(condition, Hazard.assignee_id.is_(None))
        wanted.append(condition)
    if pending:
        wanted.append(Hazard.id.in_(list(pending)))
    if not wanted:
        return []
    query = (
        queries.visible_hazards(actor)
        .where(or_(*wanted))
        .order_by(Hazard.deadline.is_(None), Hazard.deadline, Hazard.created_at)
        .limit(limit * 2)
    )
    candidates = list(session.scalars(query))
    enterprises = _refs(session, candidates)
    found = []
    for hazard in candidates:
        actions = available_actions(
            actor, hazard, enterprises[hazard.enterprise_id].ref, pending.get(hazard.id)
        )
        relevant = [a for a in actions if a in DECISIONS]
        # Re-assigning is always possible before the work starts; it is not "waiting".
        if relevant == [HazardAction.ASSIGN] and hazard.assignee_id is not None:
            continue
        if relevant:
            found.append(hazard)
        if len(found) >= limit:
            break
    return found


def _list_rows(session: Session, hazards: list[Hazard], now: datetime) -> list[dict[str, Any]]:
    enterprises = _refs(session, hazards)
    site_ids = {h.site_id for h in hazards if h.site_id}
    sites = (
        dict(session.execute(select(Site.id, Site.name).where(Site.id.in_(site_ids))).all())
        if site_ids
        else {}
    )
    names = _names(session, {h.assignee_id for h in hazards} | {h.reporter_id for h in hazards})
    return [
        {
            "hazard": h,
            "enterprise": enterprises[h.enterprise_id].name,
            "place": " · ".join(p for p in (sites.get(h.site_id, ""), h.location) if p),
            "assignee": names.get(h.assignee_id, "") if h.assignee_id else "",
            "reporter": names.get(h.reporter_id, ""),
            "overdue": is_overdue(h, now),
        }
        for h in hazards
    ]


H5_TABS = {"todo": "待我处理", "assigned": "我的整改", "mine": "我上报的"}


@h5_bp.get("/hazards")
@h5_login_required
def hazard_list():
    """我的隐患: waiting for me / assigned to me / reported by me."""
    actor = _h5_actor()
    session = db.session
    now = utcnow()
    mine = queries.hazards_of_reporter(session, actor, actor.user_id, limit=LIST_LIMIT)
    assigned = queries.hazards_of_assignee(session, actor, actor.user_id, limit=LIST_LIMIT)
    # Open work first, the most urgent deadline first; closed ones after, newest first.
    assigned.sort(key=lambda h: (h.status not in OPEN_STATUSES, h.deadline is None, h.deadline or now))
    todo = waiting_for(session, actor)
    lists = {"todo": todo, "assigned": assigned, "mine": mine}
    tab = request.args.get("tab", "")
    if tab not in H5_TABS:
        tab = "todo" if todo else "assigned" if any(h.status in OPEN_STATUSES for h in assigned) else "mine"
    counts = {
        "todo": len(todo),
        "assigned": sum(1 for h in assigned if h.status in OPEN_STATUSES),
        "mine": sum(1 for h in mine if h.status in OPEN_STATUSES),
    }
    return render_template(
        "hazards/h5_list.html",
        tab=tab,
        tabs=H5_TABS,
        counts=counts,
        rows=_list_rows(session, lists[tab], now),
        many_enterprises=len(actor.roles) > 1 or actor.is_bureau,
        # Every member may report (随手拍); bureau staff without a membership may not.
        can_report=bool(actor.roles),
    )


@h5_bp.get("/hazards/<int:hazard_id>")
@h5_login_required
def hazard_detail(hazard_id: int):
    actor = _h5_actor()
    context = detail_context(db.session, actor, hazard_id, utcnow())
    done = request.args.get("done", "")
    return render_template(
        "hazards/h5_detail.html",
        **context,
        done=DONE_MESSAGES.get(done),
        done_key=done,
        error=None,
        failed=None,
        form={},
        staged=[],
        user_id=actor.user_id,
    )


@h5_bp.post("/hazards/<int:hazard_id>/actions/<slug>")
@h5_login_required
def hazard_action(hazard_id: int, slug: str):
    """Take one action on the hazard from its H5 page."""
    actor = _h5_actor()
    return _act(
        actor,
        hazard_id,
        slug,
        PhotoStage(actor.user_id),
        "hazards_h5.hazard_detail",
        "hazards/h5_detail.html",
    )


@h5_bp.get("/hazards/<int:hazard_id>/photos/<int:photo_id>")
@h5_login_required
def hazard_photo(hazard_id: int, photo_id: int):
    return _photo_response(db.session, _h5_actor(), hazard_id, photo_id, request.args.get("size", ""))


def _act(actor: Actor, hazard_id: int, slug: str, stage: PhotoStage | None, endpoint: str, template: str):
    """Run one action form; on success redirect to the hazard page with its message, on a
    refusal show the page again (fresh state) with the message and the form as filled."""
    session = db.session
    action = _action_from(slug)
    form, files = request.form, request.files
    now = utcnow()
    hazard = queries.get_hazard(session, actor, hazard_id)
    try:
        done, used = perform(session, actor, now, hazard, action, form, files, stage)
        session.commit()
    except NotFound:
        session.rollback()
        raise
    except DomainError as exc:
        session.rollback()
        context = detail_context(session, actor, hazard_id, now)
        return (
            render_template(
                template,
                **context,
                done=None,
                done_key="",
                error=readable_message(exc, FIELD_LABELS),
                failed=action,
                form=form,
                staged=stage.alive(form.getlist("staged")) if stage else [],
                user_id=actor.user_id,
            ),
            exc.http_status,
        )
    if stage is not None:
        stage.discard(used)
    return redirect(url_for(endpoint, hazard_id=hazard_id, done=done), code=303)


# ---------------------------------------------------------------------------------------
# Console
# ---------------------------------------------------------------------------------------


def _console_actor() -> Actor:
    actor = current_actor()
    if actor is None:
        abort(401)
    return actor


@dataclass(frozen=True)
class ListFilters:
    enterprise_id: int | None
    status: HazardStatus | None
    level: HazardLevel | None
    overdue: bool
    page: int

    @classmethod
    def from_args(cls, args: MultiDict) -> ListFilters:
        def choice(enum, value):
            try:
                return enum(value) if value else None
            except ValueError:
                return None

        return cls(
            enterprise_id=args.get("enterprise_id", type=int),
            status=choice(HazardStatus, args.get("status", "")),
            level=choice(HazardLevel, args.get("level", "")),
            overdue=args.get("overdue") == "1",
            page=max(1, args.get("page", 1, type=int) or 1),
        )

    def query_args(self, page: int = 1) -> dict[str, Any]:
        """URL arguments of these filters on `page` (for links), without the empty ones."""
        args = {
            "enterprise_id": self.enterprise_id,
            "status": self.status.value if self.status else None,
            "level": self.level.value if self.level else None,
            "overdue": "1" if self.overdue else None,
            "page": page if page > 1 else None,
        }
        return {k: v for k, v in args.items() if v is not None}


def console_hazards(
    session: Session, actor: Actor, filters: ListFilters, now: datetime
) -> tuple[list[Hazard], int]:
    """One page of the hazards the actor may see, filtered, newest first, and the total."""
    query = queries.visible_hazards(actor)
    if filters.enterprise_id is not None:
        query = query.where(Hazard.enterprise_id == filters.enterprise_id)
    if filters.status is not None:
        query = query.where(Hazard.status == filters.status)
    if filters.level is not None:
        query = query.where(Hazard.level == filters.level)
    if filters.overdue:
        query = query.where(Hazard.status.in_(sorted(OVERDUE_STATUSES)), Hazard.deadline < now)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    page = (
        query.order_by(Hazard.created_at.desc(), Hazard.id.desc())
        .limit(CONSOLE_PAGE_SIZE)
        .offset((filters.page - 1) * CONSOLE_PAGE_SIZE)
    )
    return list(session.scalars(page)), total or 0


def _visible_enterprises(session: Session, actor: Actor) -> list[Enterprise]:
    return list(session.scalars(visible_enterprises(actor).order_by(Enterprise.name)))


@console_bp.get("/hazards")
@login_required
def console_list():
    """隐患治理: the hazards in the actor's scope with filters, and the ledger export."""
    actor = _console_actor()
    session = db.session
    now = utcnow()
    filters = ListFilters.from_args(request.args)
    hazards, total = console_hazards(session, actor, filters, now)
    enterprises = _visible_enterprises(session, actor)
    exportable = [e for e in enterprises if actor.can(Action.EXPORT_LEDGER, e.ref)]
    pages = max(1, -(-total // CONSOLE_PAGE_SIZE))
    return render_template(
        "hazards/console_list.html",
        rows=_list_rows(session, hazards, now),
        total=total,
        filters=filters,
        pages=pages,
        enterprises=enterprises,
        exportable=exportable,
        this_month=to_local(now).strftime("%Y-%m"),
    )


@console_bp.get("/hazards/<int:hazard_id>")
@login_required
def console_detail(hazard_id: int):
    actor = _console_actor()
    context = detail_context(db.session, actor, hazard_id, utcnow())
    done = request.args.get("done", "")
    return render_template(
        "hazards/console_detail.html",
        **context,
        done=DONE_MESSAGES.get(done),
        done_key=done,
        error=None,
        failed=None,
        form={},
        staged=[],
        user_id=actor.user_id,
    )


@console_bp.post("/hazards/<int:hazard_id>/actions/<slug>")
@login_required
def console_action(hazard_id: int, slug: str):
    return _act(
        _console_actor(),
        hazard_id,
        slug,
        None,
        "hazards_console.console_detail",
        "hazards/console_detail.html",
    )


@console_bp.get("/hazards/<int:hazard_id>/photos/<int:photo_id>")
@login_required
def console_photo(hazard_id: int, photo_id: int):
    return _photo_response(db.session, _console_actor(), hazard_id, photo_id, request.args.get("size", ""))


@console_bp.get("/hazards/ledger.xlsx")
@login_required
def ledger_download():
    """台账 of one enterprise and month as .xlsx (EXPORT_LEDGER)."""
    actor = _console_actor()
    enterprise_id = request.args.get("enterprise_id", type=int)
    if enterprise_id is None:
        raise ValidationFailed.for_field("enterprise_id", "请选择企业")
    year, month = ledger.parse_month(request.args.get("month", ""))
    workbook = ledger.hazard_ledger(db.session, actor, utcnow(), enterprise_id, year, month)
    response = send_file(
        workbook.content,
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        as_attachment=True,
        download_name=workbook.filename,
        max_age=0,
    )
    response.headers["Cache-Control"] = "no-store"
    return response
