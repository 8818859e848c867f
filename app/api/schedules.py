"""REST API v1 of check schedules: an enterprise's schedules (paginated), creating a
routine schedule, reading and changing one (PATCH `active` pauses and resumes). Scoped like
the console: anyone who may see the enterprise reads, MANAGE_STRUCTURE writes; another
enterprise's schedule is 404. Errors are application/problem+json (CONTRACT.md)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Response as FlaskResponse
from flask import g, jsonify, request
from pydantic import BaseModel, Field
from spectree import Response

from app.api.views import bp, spec, token_required
from app.clock import utcnow
from app.enterprises.service import get_enterprise
from app.errors import DomainError, NotFound, ValidationFailed
from app.extensions import db
from app.hazard_reporting.checks.domain import CheckLevel, ScheduleKind
from app.hazard_reporting.schedules import queries, service
from app.hazard_reporting.schedules.domain import due_rule_words
from app.hazard_reporting.schedules.models import CheckSchedule
from app.hazard_reporting.schedules.schemas import ScheduleCreate, ScheduleUpdate
from app.ids import MAX_ID

MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 20
PROBLEM_TITLES = {
    400: "请求有误",
    401: "未认证",
    403: "没有权限",
    404: "资源不存在",
    409: "与现有数据冲突",
    422: "输入有误",
}


class Problem(BaseModel):
    """application/problem+json (RFC 9457)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: dict[str, str] | None = None


class ScheduleOut(BaseModel):
    id: int
    enterprise_id: int
    kind: ScheduleKind
    level: CheckLevel
    label: str
    team_id: int | None
    department_id: int | None
    site_id: int | None
    due_time: str = Field(description="本地时间 HH:MM（Asia/Shanghai）")
    due_weekday: int | None = Field(description="周排查：1（周一）–7（周日），空为周五")
    due_month_day: int | None = Field(description="月排查：1–31，超过当月天数为月末；空为最后一天")
    grace_minutes: int
    workdays_only: bool
    starts_on: str
    active: bool
    due_rule: str = Field(description="截止规则的中文表述，如“每周五 17:00 前”")


class ScheduleList(BaseModel):
    items: list[ScheduleOut]
    total: int
    page: int
    per_page: int


class ScheduleListQuery(BaseModel):
    page: int = Field(1, ge=1)
    per_page: int = Field(DEFAULT_PER_PAGE, ge=1, le=MAX_PER_PAGE)
    level: CheckLevel | None = None
    active: bool | None = None


_ERRORS = {"HTTP_401": Problem, "HTTP_403": Problem, "HTTP_404": Problem, "HTTP_409": Problem, "HTTP_422": Problem}
_DOC = {"skip_validation": True, "tags": ["schedules"]}


def problem(exc: DomainError) -> FlaskResponse:
    body = Problem(
        title=PROBLEM_TITLES.get(exc.http_status, "请求未完成"),
        status=exc.http_status,
        detail=exc.message,
        errors=getattr(exc, "fields", None) or None,
    )
    response = jsonify(body.model_dump(exclude_none=True))
    response.status_code = exc.http_status
    response.content_type = "application/problem+json"
    return response


def problems(view: Callable[..., Any]) -> Callable[..., Any]:
    """Answer a DomainError (token missing included) as problem+json, nothing written."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except DomainError as exc:
            db.session.rollback()
            return problem(exc)

    return wrapped


def _out(schedule: CheckSchedule) -> dict[str, Any]:
    return ScheduleOut(
        id=schedule.id,
        enterprise_id=schedule.enterprise_id,
        kind=schedule.kind,
        level=schedule.level,
        label=schedule.label,
        team_id=schedule.team_id,
        department_id=schedule.department_id,
        site_id=schedule.site_id,
        due_time=schedule.due_time.strftime("%H:%M"),
        due_weekday=schedule.due_weekday,
        due_month_day=schedule.due_month_day,
        grace_minutes=schedule.grace_minutes,
        workdays_only=schedule.workdays_only,
        starts_on=schedule.starts_on.isoformat(),
        active=schedule.active,
        due_rule=due_rule_words(queries.schedule_timing(schedule)),
    ).model_dump(mode="json")


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ValidationFailed.for_field("body", "请求体须为 JSON 对象")
    return data


def _int_arg(name: str, default: int, lower: int, upper: int) -> int:
    raw = request.args.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationFailed.for_field(name, "应为整数") from None
    if not lower <= value <= upper:
        raise ValidationFailed.for_field(name, f"应在 {lower} 到 {upper} 之间")
    return value


def _filters() -> tuple[CheckLevel | None, bool | None]:
    level = request.args.get("level", "").strip() or None
    if level is not None and level not in {lv.value for lv in CheckLevel}:
        raise ValidationFailed.for_field("level", "取值无效，可选：daily、weekly、monthly")
    active = request.args.get("active", "").strip().lower() or None
    if active is not None and active not in ("true", "false"):
        raise ValidationFailed.for_field("active", "应为 true 或 false")
    return (CheckLevel(level) if level else None), (None if active is None else active == "true")


def _visible_schedule(schedule_id: int) -> CheckSchedule:
    """The schedule if the token's user may see its enterprise; NotFound otherwise."""
    schedule = db.session.get(CheckSchedule, schedule_id) if 1 <= schedule_id <= MAX_ID else None
    if schedule is None:
        raise NotFound("排查计划不存在或您无权查看。")
    try:
        get_enterprise(db.session, g.actor, schedule.enterprise_id)
    except NotFound:
        raise NotFound("排查计划不存在或您无权查看。") from None
    return schedule


@bp.get("/enterprises/<id:enterprise_id>/schedules")
@spec.validate(query=ScheduleListQuery, resp=Response(HTTP_200=ScheduleList, **_ERRORS), **_DOC)
@problems
@token_required
def list_schedules(enterprise_id: int):
    """An enterprise's check schedules, routine first (daily, weekly, monthly) then the
    risk-point rounds; `?level=daily|weekly|monthly`, `?active=true|false`, paginated."""
    enterprise = get_enterprise(db.session, g.actor, enterprise_id)
    page = _int_arg("page", 1, 1, 10**6)
    per_page = _int_arg("per_page", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE)
    level, active = _filters()
    items, total = queries.list_schedules(
        db.session, enterprise.id, level=level, active=active, page=page, per_page=per_page
    )
    return jsonify({"items": [_out(s) for s in items], "total": total, "page": page, "per_page": per_page})


@bp.post("/enterprises/<id:enterprise_id>/schedules")
@spec.validate(json=ScheduleCreate, resp=Response(HTTP_201=ScheduleOut, **_ERRORS), **_DOC)
@problems
@token_required
def create_schedule(enterprise_id: int):
    """Create a routine schedule: `level` daily (needs `team_id`), weekly (needs
    `department_id`) or monthly; optional `site_id`, `label`, `due_time` "HH:MM",
    `due_weekday`, `due_month_day`, `grace_minutes`, `workdays_only` (the level's defaults
    otherwise). 409 while an active schedule of that level and unit exists."""
    schedule = service.create_schedule(db.session, g.actor, utcnow(), enterprise_id, _body())
    db.session.commit()
    return jsonify(_out(schedule)), 201


@bp.get("/schedules/<id:schedule_id>")
@spec.validate(resp=Response(HTTP_200=ScheduleOut, **_ERRORS), **_DOC)
@problems
@token_required
def get_schedule(schedule_id: int):
    """One schedule."""
    return jsonify(_out(_visible_schedule(schedule_id)))


@bp.patch("/schedules/<id:schedule_id>")
@spec.validate(json=ScheduleUpdate, resp=Response(HTTP_200=ScheduleOut, **_ERRORS), **_DOC)
@problems
@token_required
def update_schedule(schedule_id: int):
    """Change `label`, `due_time`, `grace_minutes`, `workdays_only`, `due_weekday`,
    `due_month_day`, `site_id`; `active: false` pauses (no new tasks; the task of a period
    already begun stays owed), `active: true` resumes from today (no backlog). The level
    and unit never change."""
    schedule = _visible_schedule(schedule_id)
    schedule = service.update_schedule(db.session, g.actor, utcnow(), schedule.id, _body())
    db.session.commit()
    return jsonify(_out(schedule))
