"""H5 pages of scan-to-check (扫码排查), inside WeChat.

- `/h5/scan/<token>`: where a site's QR lands. Names the point, signs the member in
  (WeChat OAuth), remembers when this browser scanned which point, and offers the checks the
  member owes there now (team leader → 班组日排查, department head → 部门周排查, manager →
  经理月排查), or says when the next one is due.
- `/h5/checks/<task_id>?site=<token>`: the check form, only after a scan of a point where
  the check can be done. Items by category, each 符合 / 隐患 / 不适用; a 隐患 needs a short
  description and a photo. Photos are staged one by one as they are picked (`…/photos`),
  so a half-filled form survives a reload (check-form.js keeps the draft) and the submit
  is small. `POST` submits: the service records everything in one transaction.
- `/h5/checks/<task_id>/result`: the submitted check and the hazards it reported.
- `/h5/tasks`: my checks — owed now, recently done, missed.

Views stay thin: the service decides and flushes; a view commits, or rolls back and shows
the Chinese message. The scan is kept in the signed session cookie (token → time): the
submission records that scan, not whatever the page claims.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from itsdangerous import BadData, URLSafeSerializer
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import RequestEntityTooLarge

from app.accounts.domain import Actor
from app.accounts.h5_login import current_h5_actor, current_h5_user, h5_login_required, start_oauth
from app.accounts.queries import is_active_member
from app.clock import local_today, to_local, utcnow
from app.enterprises.organisation.queries import my_post_cards
from app.enterprises.service import site_by_token
from app.errors import (
    DomainError,
    PermissionDenied,
    ValidationFailed,
    h5_domain_error,
    h5_notice,
    h5_too_large,
    readable_message,
    wants_json,
)
from app.extensions import db
from app.hazard_reporting.checklists.domain import ITEM_CATEGORY_LABELS, ItemCategory, OnFail, ResolvedItem
from app.hazard_reporting.checks import queries, service
from app.hazard_reporting.checks.domain import (
    CHECK_TASK_STATUS_LABELS,
    ITEM_RESULT_LABELS,
    MAX_PHOTOS_PER_ITEM,
    MAX_RESULT_NOTE,
    SCAN_EXPIRED,
    SCAN_VALID_FOR,
    SELF_CHECK_RESULT_LABELS,
    SUBMISSION_STATUS_LABELS,
    CheckTaskStatus,
    ItemResult,
    SelfCheckResult,
    SubmissionStatus,
    control_item_code,
    is_task_overdue,
    missed_explanation,
)
from app.hazard_reporting.checks.models import CheckSubmission
from app.hazard_reporting.checks.schemas import MAX_ANSWERS
from app.hazard_reporting.hazards.domain import LEVEL_LABELS, STATUS_LABELS, HazardLevel
from app.hazard_reporting.hazards.photos import MAX_BYTES
from app.hazard_reporting.schedules import queries as schedule_queries
from app.hazard_reporting.uploads import StagedPhotos
from app.web import csrf_required

bp = Blueprint("checks_h5", __name__, url_prefix="/h5")

SESSION_SCANS = "h5_scans"
MAX_REMEMBERED_SCANS = 5
RECENT_DAYS = 14
MISSED_DAYS = 30
WEEKDAYS = "一二三四五六日"

SCAN_FIRST = "请在现场扫描点位二维码后再开始检查。"
PHOTO_EXPIRED = "有照片已过期（超过 3 天未提交），请删除后重新拍摄。"
NO_PHOTO = "请选择照片"


# ---------------------------------------------------------------------------------------
# The scan, remembered in the signed session cookie
# ---------------------------------------------------------------------------------------


def remember_scan(token: str, now: datetime) -> None:
    """Note that this browser scanned `token` at `now` (the newest few points are kept)."""
    scans = {t: at for t, at in (session.get(SESSION_SCANS) or {}).items() if t != token}
    scans[token] = now.timestamp()
    newest = sorted(scans.items(), key=lambda item: item[1])[-MAX_REMEMBERED_SCANS:]
    session[SESSION_SCANS] = dict(newest)


def scanned_at(token: str) -> datetime | None:
    """When this browser last scanned `token`, if it did."""
    at = (session.get(SESSION_SCANS) or {}).get(token)
    return datetime.fromtimestamp(float(at), UTC) if at is not None else None


def _fresh_scan(token: str, now: datetime) -> datetime | None:
    at = scanned_at(token)
    return at if at is not None and now - at <= SCAN_VALID_FOR else None


# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------


def _actor() -> Actor:
    actor = current_h5_actor()
    if actor is None:  # h5_login_required ran first
        abort(401)
    return actor


def _item_problems(exc: ValidationFailed) -> dict[str, str]:
    """Per-item problems of a refused submission, by item code."""
    return {name.removeprefix("answers."): p for name, p in exc.fields.items() if name.startswith("answers.")}


# What a refusal is titled on the check pages ("操作未完成" otherwise).
_TITLES = {404: "内容不存在", 403: "不能进行此操作", 409: "无需检查"}


@bp.errorhandler(DomainError)
def _domain_error(exc: DomainError):
    return h5_domain_error(exc, _TITLES)


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(_exc: RequestEntityTooLarge):
    return h5_too_large(MAX_BYTES, url_for("checks_h5.my_tasks"))


def _local_day_label(moment: datetime, now: datetime) -> str:
    """今天 / 明天 / 11-27 周五 — the local date of `moment`, as a person says it."""
    day = to_local(moment).date()
    today = local_today(now)
    if day == today:
        return "今天"
    if day == today + timedelta(days=1):
        return "明天"
    if day == today - timedelta(days=1):
        return "昨天"
    return f"{day:%m-%d} 周{WEEKDAYS[day.weekday()]}"


def _when(moment: datetime, now: datetime) -> str:
    return f"{_local_day_label(moment, now)} {to_local(moment):%H:%M}"


@dataclass(frozen=True)
class ItemRow:
    number: int
    code: str
    text: str
    major: bool  # a failure here matches a major-hazard criterion
    review: bool  # a failure here is reviewed by the safety officer
    control: queries.ControlItem | None = None  # a control of the risk register


CONTROL_GROUP = "风险管控措施"


def _groups(items: list[ResolvedItem], controls: list[queries.ControlItem]) -> list[tuple[str, list[ItemRow]]]:
    """Items (already in form order) numbered 1…N and grouped by category (场所环境, 设备设施,
    …), then the register's controls numbered on: the numbers are the ones the service's
    messages use ("第 N 项")."""
    rows = [
        ItemRow(n, r.item.code, r.item.text, r.item.on_fail is OnFail.MAJOR, r.item.on_fail is OnFail.REVIEW)
        for n, r in enumerate(items, start=1)
    ]
    groups = []
    for category in ItemCategory:
        members = [row for row, r in zip(rows, items, strict=True) if r.item.category is category]
        if members:
            groups.append((ITEM_CATEGORY_LABELS[category], members))
    if controls:
        groups.append(
            (
                CONTROL_GROUP,
                [
                    ItemRow(n, c.code, c.text, False, c.on_fail is OnFail.REVIEW, c)
                    for n, c in enumerate(controls, start=len(items) + 1)
                ],
            )
        )
    return groups


_CONTROLS_SALT = "ancha.check-form.controls"


def _controls_signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_CONTROLS_SALT)


def _controls_token(task_id: int, start: service.CheckStart) -> str:
    """The register version and the controls a form offered, signed: what the submission
    answers if the register changes before it is sent (and nothing a page could widen or
    narrow)."""
    return _controls_signer().dumps(
        {"t": task_id, "v": start.register_version, "c": [c.control_id for c in start.controls]}
    )


def _form_controls(form: MultiDict, task_id: int) -> tuple[int | None, list[int]]:
    """(register version, control ids) of the posted form, from its signed token; (None, [])
    when there is none or it does not verify (the service then takes the register as it is)."""
    try:
        data = _controls_signer().loads(form.get("controls_token", ""))
    except BadData:
        return None, []
    if not isinstance(data, dict) or data.get("t") != task_id:
        return None, []
    version, ids = data.get("v"), data.get("c")
    if not isinstance(version, int) or not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
        return None, []
    return version, ids[:MAX_ANSWERS]


def _form_values(form: MultiDict, codes: list[str], stage: StagedPhotos) -> dict[str, dict[str, Any]]:
    """The answers of a posted form, to show it again as it was filled in."""
    values = {}
    for code in codes:
        values[code] = {
            "result": form.get(f"result-{code}", ""),
            "note": form.get(f"note-{code}", ""),
            "photos": stage.alive(form.getlist(f"photo-{code}")),
        }
    return values


def _form_page(
    start: service.CheckStart,
    *,
    key: str,
    values: dict[str, dict[str, Any]] | None = None,
    error: str | None = None,
    problems: dict[str, str] | None = None,
    status: int = 200,
):
    task, site = start.task, start.site
    user = current_h5_user()
    now = utcnow()
    return (
        render_template(
            "checks/h5_form.html",
            task=task,
            site=site,
            enterprise=site.enterprise,
            groups=_groups(start.items, start.controls),
            total=len(start.items) + len(start.controls),
            controls_token=_controls_token(task.id, start),
            values=values or {},
            problems=problems or {},
            error=error,
            key=key,
            user_id=user.id if user else 0,
            due=_when(task.due_at, now),
            overdue=is_task_overdue(task.status, task.due_at, now),
            grace=_when(task.grace_until, now),
            MAX_PHOTOS=MAX_PHOTOS_PER_ITEM,
            MAX_NOTE=MAX_RESULT_NOTE,
            MAX_PHOTO_MB=MAX_BYTES // (1024 * 1024),
            RESULT_LABELS=ITEM_RESULT_LABELS,
        ),
        status,
    )


def _location(form: MultiDict) -> dict[str, float | None]:
    """Latitude, longitude and accuracy as the phone reported them; anything unreadable is
    left out (the location is optional and must never block a check)."""

    def number(name: str) -> float | None:
        try:
            value = float(form.get(name, ""))
        except ValueError:
            return None
        return value if value == value and abs(value) != float("inf") else None  # not NaN / inf

    latitude, longitude = number("latitude"), number("longitude")
    if latitude is None or longitude is None:
        return {"latitude": None, "longitude": None, "location_accuracy": None}
    accuracy = number("location_accuracy")
    return {"latitude": latitude, "longitude": longitude, "location_accuracy": accuracy}


def _answers(
    form: MultiDict, files: MultiDict, codes: list[str], stage: StagedPhotos
) -> tuple[list[dict[str, Any]], list[str]]:
    """The answers of a posted form for `submit_check`, and the staged photos they use.

    Photos and descriptions count for 隐患 answers only (a photo picked before the answer
    was changed to 符合 is left out, not refused). Raises ValidationFailed for a photo whose
    staging expired."""
    answers: list[dict[str, Any]] = []
    used: list[str] = []
    for code in codes:
        result = form.get(f"result-{code}", "")
        if not result:
            continue  # the service names every unanswered item
        answer: dict[str, Any] = {"item_code": code, "result": result}
        if result == ItemResult.HAZARD.value:
            photos: list[bytes] = []
            for token in dict.fromkeys(t for t in form.getlist(f"photo-{code}") if t):
                data = stage.photo(token)
                if data is None:
                    raise ValidationFailed(PHOTO_EXPIRED, fields={f"answers.{code}": PHOTO_EXPIRED})
                photos.append(data)
                used.append(token)
            for upload in files.getlist(f"file-{code}"):
                data = upload.read()
                if data or upload.filename:
                    photos.append(data)
            answer |= {"note": form.get(f"note-{code}", ""), "photos": photos}
        answers.append(answer)
    return answers, used


def _done(submission: CheckSubmission, *, again: bool):
    url = url_for("checks_h5.result", task_id=submission.task_id, **({"again": 1} if again else {}))
    if wants_json():
        return jsonify({"submission_id": submission.id, "url": url})
    return redirect(url, code=303)


# ---------------------------------------------------------------------------------------
# Pages
# ---------------------------------------------------------------------------------------


@bp.get("/scan/<token>")
def scan(token: str):
    """A scanned point: the checks its visitor owes there now."""
    session_ = db.session
    site = site_by_token(session_, token)  # a revoked or unknown code says so before any login
    user = current_h5_user()
    if user is None:
        return redirect(start_oauth(request.full_path.rstrip("?")))
    now = utcnow()
    remember_scan(site.token, now)
    enterprise = site.enterprise
    if not is_active_member(session_, user.id, site.enterprise_id):
        raise PermissionDenied(service.NOT_A_MEMBER.format(enterprise=enterprise.name))
    owed = queries.tasks_owed(session_, user, site, now)
    today = local_today(now)
    done_here = [
        s
        for s in queries.my_submissions(
            session_, user.id, now - timedelta(days=31), enterprise_id=enterprise.id
        )
        if s.task.period_end >= today
    ]
    next_due = [] if owed else schedule_queries.next_checks_due(session_, user.id, site, now)[:3]
    actor = current_h5_actor()
    self_check = service.start_self_check(session_, actor, now, site) if actor is not None else None
    return render_template(
        "checks/h5_scan.html",
        site=site,
        enterprise=enterprise,
        owed=[
            {
                "task": t,
                "items": len(queries.task_items(session_, t)) + len(queries.control_items(session_, t, site.id)),
                "due": _when(t.due_at, now),
                "overdue": is_task_overdue(t.status, t.due_at, now),
                "grace": _when(t.grace_until, now),
            }
            for t in owed
        ],
        done_here=[
            {"submission": s, "label": s.task.schedule.label, "at": _when(s.submitted_at, now)}
            for s in done_here
        ],
        next_due=[{"label": s.label, "due": _when(at, now)} for s, at in next_due],
        STATUS_LABELS=SUBMISSION_STATUS_LABELS,
        LATE=SubmissionStatus.LATE,
        post_cards=my_post_cards(session_, user.id, enterprise.id),
        self_check=self_check,
        SELF_CHECK_LABELS=SELF_CHECK_RESULT_LABELS,
        PROBLEM=SelfCheckResult.PROBLEM,
        MAX_NOTE=MAX_RESULT_NOTE,
        done_message=request.args.get("self_checked") == "1",
    )


@bp.post("/self-checks")
@h5_login_required
@csrf_required
def self_check():
    """岗位自查: the worker's answer to one control of their post at the scanned point
    (已确认, or 有问题 with a note → a hazard). Back to the scan page; a refusal shows its
    message (4xx)."""
    actor = _actor()
    session_ = db.session
    form = request.form
    token = form.get("site_token", "")
    now = utcnow()
    site = site_by_token(session_, token)
    if _fresh_scan(site.token, now) is None:
        lines = [SCAN_EXPIRED] if scanned_at(site.token) is not None else [SCAN_FIRST]
        return h5_notice(403, "请先扫码", [*lines, f"点位：{site.name}"])
    try:
        control_id = int(form.get("control_id", ""))
    except ValueError:
        control_id = 0
    try:
        service.confirm_post_control(
            session_, actor, now, site.token, control_id, form.get("result", ""), form.get("note", "")
        )
        session_.commit()
    except IntegrityError:
        # The same answer raced in from a second tap: the first one stands.
        session_.rollback()
    except DomainError:
        session_.rollback()
        raise
    return redirect(url_for("checks_h5.scan", token=site.token, self_checked=1) + "#self-check", code=303)


@bp.get("/checks/<id:task_id>")
@h5_login_required
def check_form(task_id: int):
    """The check form, after a scan of a point where the check can be done."""
    actor = _actor()
    token = request.args.get("site", "")
    if not token:
        return h5_notice(400, "请先扫码", [SCAN_FIRST, "检查须在现场进行：扫描张贴在点位的二维码即可开始。"])
    now = utcnow()
    start = service.start_check(db.session, actor, now, task_id, token)
    if start.submission is not None:
        return redirect(url_for("checks_h5.result", task_id=task_id))
    if _fresh_scan(start.site.token, now) is None:
        lines = [SCAN_EXPIRED] if scanned_at(start.site.token) is not None else [SCAN_FIRST]
        return h5_notice(403, "请先扫码", [*lines, f"点位：{start.site.name}"])
    return _form_page(start, key=secrets.token_urlsafe(18))


@bp.post("/checks/<id:task_id>")
@h5_login_required
@csrf_required
def submit(task_id: int):
    """Submit the check; the same idempotency key (or the task submitted already) shows the
    first submission."""
    actor = _actor()
    session_ = db.session
    form, files = request.form, request.files  # parsing here raises 413 before anything else
    key = form.get("idempotency_key", "")
    now = utcnow()
    start = service.start_check(session_, actor, now, task_id, form.get("site_token", ""))
    if start.submission is not None:
        return _done(start.submission, again=start.submission.idempotency_key != key)
    stage = StagedPhotos.for_check(actor.user_id, task_id)
    try:
        at = _fresh_scan(start.site.token, now)
        if at is None:
            problem = SCAN_EXPIRED if scanned_at(start.site.token) is not None else SCAN_FIRST
            raise ValidationFailed.for_field("scanned_at", problem)
        version, control_ids = _form_controls(form, task_id)
        if version is None:
            control_ids = [c.control_id for c in start.controls]
        codes = [r.item.code for r in start.items] + [control_item_code(i) for i in control_ids]
        answers, used = _answers(form, files, codes, stage)
        data = {
            "site_token": start.site.token,
            "scanned_at": at,
            "idempotency_key": key,
            "answers": answers,
            "risk_register_version": version,
            "control_ids": control_ids,
            **_location(form),
        }
        media_root = current_app.config["SETTINGS"].MEDIA_ROOT
        submission = service.submit_check(session_, actor, now, task_id, data, media_root=media_root)
        session_.commit()
    except ValidationFailed as exc:
        session_.rollback()
        if wants_json():
            return jsonify({**exc.to_dict(), "message": readable_message(exc)}), exc.http_status
        return _form_page(
            start,
            key=key,
            values=_form_values(form, start.codes, stage),
            error=readable_message(exc),
            problems=_item_problems(exc),
            status=exc.http_status,
        )
    except IntegrityError:
        # Two submissions of one task raced past the lock (SQLite has none): the first won.
        session_.rollback()
        first = queries.submission_for_task(session_, task_id)
        if first is None or first.user_id != actor.user_id:
            raise
        return _done(first, again=True)
    stage.discard(used)
    return _done(submission, again=submission.idempotency_key != key)


@bp.post("/checks/<id:task_id>/photos")
@h5_login_required
@csrf_required
def stage_photo(task_id: int):
    """Stage one photo of the form: a posted file (`photo`) or WeChat media (`media_id`, the
    serverId of wx.uploadImage). Answers {token, thumb_url}; 422 with a Chinese message."""
    actor = _actor()
    token = StagedPhotos.for_check(actor.user_id, task_id).put_posted(request.form, request.files, NO_PHOTO)
    thumb = url_for("checks_h5.staged_thumb", task_id=task_id, token=token)
    return jsonify({"token": token, "thumb_url": thumb}), 201


@bp.get("/checks/<id:task_id>/photos/<token>.jpg")
@h5_login_required
def staged_thumb(task_id: int, token: str):
    """The preview of a photo this user staged for this check (nobody else's)."""
    return StagedPhotos.for_check(_actor().user_id, task_id).thumb_response(token)


@bp.get("/checks/<id:task_id>/result")
@h5_login_required
def result(task_id: int):
    """A submitted check: when, where, by whom, and the hazards it reported."""
    actor = _actor()
    session_ = db.session
    record = queries.submission_record(session_, actor, task_id)
    submission, hazards = record.submission, record.hazards
    task = submission.task
    rows = [
        {"result": r, "hazard": hazards.get(r.hazard_id) if r.hazard_id else None} for r in submission.results
    ]
    counts = {result: sum(1 for r in submission.results if r.result is result) for result in ItemResult}
    groups = []
    for category in ItemCategory:
        members = [
            row for row in rows if row["result"].category is category and row["result"].risk_control_id is None
        ]
        if members:
            groups.append((ITEM_CATEGORY_LABELS[category], members))
    controls = [row for row in rows if row["result"].risk_control_id is not None]
    origins = queries.control_origins(
        session_, submission.enterprise_id, [row["result"].risk_control_id for row in controls]
    )
    for row in controls:
        row["origin"] = origins.get(row["result"].risk_control_id)
    if controls:
        groups.append((CONTROL_GROUP, controls))
    now = utcnow()
    return render_template(
        "checks/h5_result.html",
        submission=submission,
        task=task,
        site=record.site,
        checker=record.checker,
        hazard_rows=[row for row in rows if row["hazard"] is not None],
        groups=groups,
        counts=counts,
        again=request.args.get("again") == "1",
        submitted=_when(submission.submitted_at, now),
        scanned=_when(submission.scanned_at, now),
        STATUS_LABELS=SUBMISSION_STATUS_LABELS,
        RESULT_LABELS=ITEM_RESULT_LABELS,
        HAZARD_STATUS_LABELS=STATUS_LABELS,
        LEVEL_LABELS=LEVEL_LABELS,
        ItemResult=ItemResult,
        SubmissionStatus=SubmissionStatus,
        HazardLevel=HazardLevel,
    )


@bp.get("/tasks")
@h5_login_required
def my_tasks():
    """My checks: owed now (overdue ones in red), recently done, missed."""
    actor = _actor()
    session_ = db.session
    now = utcnow()
    owed = queries.my_open_tasks(session_, actor.user_id, now)
    done = queries.my_submissions(session_, actor.user_id, now - timedelta(days=RECENT_DAYS))
    missed = queries.my_missed_tasks(session_, actor.user_id, now - timedelta(days=MISSED_DAYS))
    return render_template(
        "checks/h5_tasks.html",
        owed=[
            {
                "task": t,
                "due": _when(t.due_at, now),
                "grace": _when(t.grace_until, now),
                "overdue": is_task_overdue(t.status, t.due_at, now),
                "where": queries.where_to_check(session_, t),
            }
            for t in owed
        ],
        done=[
            {"submission": s, "label": s.task.schedule.label, "at": _when(s.submitted_at, now)} for s in done
        ],
        missed=[
            {
                "task": t,
                "label": t.schedule.label,
                "due": _when(t.due_at, now),
                "why": missed_explanation(t.due_at, int((t.grace_until - t.due_at).total_seconds() // 60)),
            }
            for t in missed
        ],
        member=bool(actor.roles),
        STATUS_LABELS=SUBMISSION_STATUS_LABELS,
        TASK_STATUS_LABELS=CHECK_TASK_STATUS_LABELS,
        LATE=SubmissionStatus.LATE,
        MISSED=CheckTaskStatus.MISSED,
    )
