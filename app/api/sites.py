"""API v1 of sites (排查点位): list and register an enterprise's sites, read and change one.

Routes on the `bp` of app/api/views.py, scoped like the console (a site of an enterprise
the token's user may not see is 404). Errors are `application/problem+json` (RFC 9457:
`title`, `status`, `detail`, `errors` per field) as CONTRACT.md says."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import g, jsonify, request
from pydantic import BaseModel, Field
from spectree import Response

from app.api.schemas import SiteOut
from app.api.views import bp, spec, token_required
from app.clock import utcnow
from app.enterprises import service as enterprise_service
from app.enterprises.domain import site_scene
from app.enterprises.schemas import SiteIn
from app.enterprises.sites import service as site_service
from app.enterprises.sites.queries import sites_of
from app.enterprises.sites.schemas import SiteUpdate
from app.errors import DomainError, ValidationFailed
from app.extensions import db
from app.hazard_reporting.sites import service
from app.ids import MAX_ID

SITE_ID = "<id:site_id>"
ENTERPRISE_ID = "<id:enterprise_id>"
MAX_PER_PAGE = 100

PROBLEM_TITLES = {
    400: "请求有误",
    401: "未认证",
    403: "没有权限",
    404: "不存在",
    409: "状态冲突",
    422: "输入有误",
}


class ProblemOut(BaseModel):
    """application/problem+json (RFC 9457)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: dict[str, str] | None = None


class SitePage(BaseModel):
    items: list[SiteOut]
    total: int
    page: int
    per_page: int


class PageQuery(BaseModel):
    page: int = Field(1, ge=1)
    per_page: int = Field(50, ge=1, le=MAX_PER_PAGE)


_PROBLEMS = {"HTTP_401": ProblemOut, "HTTP_403": ProblemOut, "HTTP_404": ProblemOut, "HTTP_422": ProblemOut}
_DOC = {"skip_validation": True, "tags": ["sites"]}


def problem(exc: DomainError):
    """`exc` as application/problem+json, the unit of work rolled back."""
    db.rollback_request_session()
    body = {
        "type": "about:blank",
        "title": PROBLEM_TITLES.get(exc.http_status, "请求未完成"),
        "status": exc.http_status,
        "detail": exc.message,
    }
    if isinstance(exc, ValidationFailed):
        body["errors"] = exc.fields
    response = jsonify(body)
    response.status_code = exc.http_status
    response.mimetype = "application/problem+json"
    return response


def problem_json(view: Callable[..., Any]) -> Callable[..., Any]:
    """Answer the DomainErrors of `view` (token failures included) as problem+json."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except DomainError as exc:
            return problem(exc)

    return wrapped


def site_out(site) -> dict:
    return SiteOut(
        id=site.id,
        enterprise_id=site.enterprise_id,
        name=site.name,
        area=site.area,
        department_id=site.department_id,
        token=site.token,
        scene=site_scene(site.token),
        active=site.active,
    ).model_dump()


def _page_args() -> tuple[int, int]:
    fields = {}
    page = request.args.get("page", "1")
    per_page = request.args.get("per_page", "50")
    if not page.isdigit() or int(page) < 1 or int(page) > MAX_ID:
        fields["page"] = "应为正整数"
    if not per_page.isdigit() or not 1 <= int(per_page) <= MAX_PER_PAGE:
        fields["per_page"] = f"应为 1 到 {MAX_PER_PAGE} 的整数"
    if fields:
        raise ValidationFailed("；".join(f"{k}：{v}" for k, v in fields.items()), fields=fields)
    return int(page), int(per_page)


@bp.get(f"/enterprises/{ENTERPRISE_ID}/sites")
@spec.validate(query=PageQuery, resp=Response(HTTP_200=SitePage, **_PROBLEMS), **_DOC)
@problem_json
@token_required
def list_sites(enterprise_id: int):
    """QR points of an enterprise (in use first), each with its QR `scene`; paginated."""
    page, per_page = _page_args()
    enterprise = enterprise_service.get_enterprise(db.session, g.actor, enterprise_id)
    sites = sites_of(db.session, enterprise.id)
    chunk = sites[(page - 1) * per_page : page * per_page]
    return jsonify({"items": [site_out(s) for s in chunk], "total": len(sites), "page": page, "per_page": per_page})


@bp.post(f"/enterprises/{ENTERPRISE_ID}/sites")
@spec.validate(json=SiteIn, resp=Response(HTTP_201=SiteOut, **_PROBLEMS), **_DOC)
@problem_json
@token_required
def create_site(enterprise_id: int):
    """Register a QR point (a fresh unguessable token is generated)."""
    site = service.add_site(db.session, g.actor, utcnow(), enterprise_id, request.get_json(silent=True))
    db.session.commit()
    return jsonify(site_out(site)), 201


@bp.get(f"/sites/{SITE_ID}")
@spec.validate(resp=Response(HTTP_200=SiteOut, **_PROBLEMS), **_DOC)
@problem_json
@token_required
def get_site(site_id: int):
    """One QR point."""
    return jsonify(site_out(site_service.get_site(db.session, g.actor, site_id)))


@bp.patch(f"/sites/{SITE_ID}")
@spec.validate(json=SiteUpdate, resp=Response(HTTP_200=SiteOut, HTTP_409=ProblemOut, **_PROBLEMS), **_DOC)
@problem_json
@token_required
def update_site(site_id: int):
    """Change `name`, `area`, `department_id` (null: none); `active: false` retires the site
    (its QR then tells a scanner it is retired, its risk-point rounds stop), `true` puts it
    back in use."""
    site = service.update_site(db.session, g.actor, utcnow(), site_id, request.get_json(silent=True))
    db.session.commit()
    return jsonify(site_out(site))
