"""REST API v1 of check tasks (CONTRACT.md): an enterprise's checks of the current periods
with the items each goes through — the checklist's lines and, after them, the risk
register's controls (`origin`: checklist | control, with `control_id`). A task without a
fixed site lists the controls of its unit at every site (each is offered when its site is
scanned). Scoped like the console: anyone who may see the enterprise reads; another
enterprise is 404."""

from __future__ import annotations

from flask import g, jsonify, request
from pydantic import BaseModel, Field
from spectree import Response

from app.api.sites import ProblemOut, problem_json
from app.api.views import bp, spec, token_required
from app.clock import local_today, utcnow
from app.enterprises.service import get_enterprise
from app.errors import ValidationFailed
from app.extensions import db
from app.hazard_reporting.checks import queries
from app.hazard_reporting.checks.domain import CheckLevel, ItemOriginKind, in_form_order
from app.hazard_reporting.checks.models import CheckTask
from app.ids import MAX_ID, parse_id

_DOC = {"skip_validation": True, "tags": ["checks"]}
_PROBLEMS = {"HTTP_401": ProblemOut, "HTTP_403": ProblemOut, "HTTP_404": ProblemOut, "HTTP_422": ProblemOut}


class CheckTaskItemOut(BaseModel):
    text: str
    origin: ItemOriginKind = Field(description="checklist：隐患排查清单的检查项；control：风险清单的管控措施")
    control_id: int | None = Field(description="管控措施 id（origin 为 control 时）")
    code: str = Field(description="检查项代码；管控措施为 RC-<id>")


class CheckTaskOut(BaseModel):
    id: int
    level: CheckLevel
    label: str
    team_id: int | None
    department_id: int | None
    site_id: int | None
    period_start: str
    period_end: str
    due_at: str
    status: str
    items: list[CheckTaskItemOut]


class CheckTaskList(BaseModel):
    items: list[CheckTaskOut]
    total: int


class CheckTaskQuery(BaseModel):
    enterprise_id: int = Field(ge=1, le=MAX_ID)
    team_id: int | None = Field(None, ge=1, le=MAX_ID)
    level: CheckLevel | None = None


def _items(task: CheckTask) -> list[dict]:
    session = db.session
    out = [
        CheckTaskItemOut(text=r.item.text, origin=ItemOriginKind.CHECKLIST, control_id=None, code=r.item.code)
        for r in in_form_order(queries.task_items(session, task))
    ]
    out += [
        CheckTaskItemOut(text=c.text, origin=ItemOriginKind.CONTROL, control_id=c.control_id, code=c.code)
        for c in queries.control_items(session, task, task.schedule.site_id)
    ]
    return [item.model_dump(mode="json") for item in out]


def _out(task: CheckTask) -> dict:
    schedule = task.schedule
    return CheckTaskOut(
        id=task.id,
        level=schedule.level,
        label=schedule.label,
        team_id=schedule.team_id,
        department_id=schedule.department_id,
        site_id=schedule.site_id,
        period_start=task.period_start.isoformat(),
        period_end=task.period_end.isoformat(),
        due_at=task.due_at.isoformat(),
        status=task.status.value,
        items=_items(task),
    ).model_dump(mode="json")


@bp.get("/check-tasks")
@spec.validate(query=CheckTaskQuery, resp=Response(HTTP_200=CheckTaskList, **_PROBLEMS), **_DOC)
@problem_json
@token_required
def list_check_tasks():
    """The checks of the current periods (today, this week, this month in Asia/Shanghai) of
    `?enterprise_id=` (required), optionally `&team_id=` and `&level=daily|weekly|monthly`,
    each with its items: checklist lines first, then the risk register's controls."""
    enterprise_id = parse_id(request.args.get("enterprise_id", ""))
    if enterprise_id is None:
        raise ValidationFailed.for_field("enterprise_id", "请指定企业（enterprise_id，正整数）")
    enterprise = get_enterprise(db.session, g.actor, enterprise_id)
    raw_team = request.args.get("team_id", "").strip()
    team_id = parse_id(raw_team) if raw_team else None
    if raw_team and team_id is None:
        raise ValidationFailed.for_field("team_id", "班组 id 应为正整数")
    level = request.args.get("level", "").strip() or None
    if level is not None and level not in {lv.value for lv in CheckLevel}:
        raise ValidationFailed.for_field("level", "取值无效，可选：daily、weekly、monthly")
    tasks = queries.current_tasks(
        db.session,
        enterprise.id,
        local_today(utcnow()),
        team_id=team_id,
        level=CheckLevel(level) if level else None,
    )
    return jsonify({"items": [_out(t) for t in tasks], "total": len(tasks)})



