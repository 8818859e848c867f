"""API v1 of the risk register (CONTRACT.md): `GET /enterprises/{id}/risk-points` — the risk
points in use, each with `id`, `site_id`, `name`, `level` (`red|orange|yellow|blue`, the
colour of its worst active source; null without one) and `sources` with their `controls`
(`id`, `text`, `control_level`, `team_id`, `department_id`), plus the assessment and the
other fields the console shows. Paginated and scoped like the other lists."""

from __future__ import annotations

from flask import g, jsonify
from pydantic import BaseModel
from spectree import Response

from app.api.sites import _PROBLEMS, PageQuery, _page_args, problem_json
from app.api.views import bp, spec, token_required
from app.enterprises import service as enterprise_service
from app.extensions import db
from app.hazard_reporting.risks import queries

ENTERPRISE_ID = "<id:enterprise_id>"


class ControlOut(BaseModel):
    id: int
    text: str
    kind: str
    control_level: str
    team_id: int | None
    department_id: int | None
    post_id: int | None
    responsible_user_id: int | None


class SourceOut(BaseModel):
    id: int
    name: str
    is_major_factor: bool
    accident_types: list[str]
    likelihood: float
    exposure: float
    consequence: float
    score: float
    grade: str
    level: str
    controls: list[ControlOut]


class RiskPointOut(BaseModel):
    id: int
    site_id: int | None
    name: str
    kind: str
    area: str
    level: str | None
    sources: list[SourceOut]


class RiskPointPage(BaseModel):
    items: list[RiskPointOut]
    total: int
    page: int
    per_page: int


@bp.get(f"/enterprises/{ENTERPRISE_ID}/risk-points")
@spec.validate(query=PageQuery, resp=Response(HTTP_200=RiskPointPage, **_PROBLEMS), skip_validation=True, tags=["risks"])
@problem_json
@token_required
def list_risk_points(enterprise_id: int):
    """The enterprise's risk points in use with their sources and controls; paginated."""
    page, per_page = _page_args()
    enterprise = enterprise_service.get_enterprise(db.session, g.actor, enterprise_id)
    items, total = queries.api_points(db.session, enterprise.id, page=page, per_page=per_page)
    return jsonify({"items": items, "total": total, "page": page, "per_page": per_page})
