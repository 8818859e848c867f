"""API v1: an enterprise's members and their WeChat binding invites (CONTRACT.md).

Errors of these routes are application/problem+json: `title`, `status`, `detail`, `errors`
per field (and the `error`/`message` pair every API error carries)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import g, jsonify, request
from pydantic import BaseModel, Field
from spectree import Response
from wechatpy.exceptions import WeChatClientException

from app.accounts import queries, service
from app.accounts.domain import invite_scene
from app.accounts.schemas import MemberIn
from app.api.schemas import InviteOut, MemberList, MemberOut, ProblemOut
from app.api.views import bp, spec, token_required
from app.clock import utcnow
from app.errors import DomainError, ValidationFailed
from app.extensions import db, redis_client
from app.ids import MAX_ID
from app.wechat.client import get_wechat_client
from app.wechat.qrcodes import temporary_qr_url

MAX_PER_PAGE = 100
ID = "id"

_PROBLEMS = {f"HTTP_{code}": ProblemOut for code in (401, 403, 404, 409, 422)}
_DOC = {"skip_validation": True, "tags": ["members"]}
_TITLES = {401: "未认证", 403: "没有权限", 404: "不存在", 409: "冲突", 422: "输入有误", 502: "微信接口暂不可用"}


class MembersQuery(BaseModel):
    page: int = Field(1, ge=1)
    per_page: int = Field(20, ge=1, le=MAX_PER_PAGE)


def problem(status: int, detail: str, code: str, errors: dict[str, str] | None = None):
    body = {
        "type": "about:blank", "title": _TITLES.get(status, "请求失败"), "status": status, "detail": detail,
        "errors": errors, "error": code, "message": detail,
    }
    response = jsonify(body)
    response.status_code = status
    response.content_type = "application/problem+json"
    return response


def problem_json(view: Callable[..., Any]) -> Callable[..., Any]:
    """Answer a DomainError of the view (or of the token check) as problem+json, the unit of
    work rolled back."""
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except DomainError as exc:
            db.rollback_request_session()
            fields = getattr(exc, "fields", None) or None
            return problem(exc.http_status, exc.message, exc.code, fields)

    return wrapped


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ValidationFailed.for_field(name, f"应为 {low} 到 {high} 之间的整数")
    return int(raw)


def member_out(membership) -> dict:
    user = membership.user
    return MemberOut(
        id=membership.id, name=user.display_name, phone=user.phone, role=membership.role.value,
        department_id=membership.department_id, team_id=membership.team_id, post_id=membership.post_id,
        active=membership.active, bound=user.openid is not None, openid=user.openid,
        bound_at=user.wechat_bound_at,
    ).model_dump(mode="json")


@bp.get(f"/enterprises/<{ID}:enterprise_id>/members")
@spec.validate(query=MembersQuery, resp=Response(HTTP_200=MemberList, **_PROBLEMS), **_DOC)
@problem_json
@token_required
def list_members(enterprise_id: int):
    """The enterprise's members (for whoever manages its people), `page`/`per_page` (≤ 100),
    in id order; `bound`, `openid` and `bound_at` tell who has bound WeChat."""
    page = _int_arg("page", 1, 1, MAX_ID)
    per_page = _int_arg("per_page", 20, 1, MAX_PER_PAGE)
    enterprise = service.enterprise_to_staff(db.session, g.actor, enterprise_id)
    items, total = queries.enterprise_members_page(db.session, enterprise.id, page, per_page)
    return jsonify({"items": [member_out(m) for m in items], "total": total, "page": page, "per_page": per_page})


@bp.post(f"/enterprises/<{ID}:enterprise_id>/members")
@spec.validate(json=MemberIn, resp=Response(HTTP_201=MemberOut, **_PROBLEMS), **_DOC)
@problem_json
@token_required
def create_member(enterprise_id: int):
    """Add a member: `name`, `role`, optional `phone`, `department_id`, `team_id`, `post_id`
    (units of this enterprise; a team leader names a team, a department head a department)."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationFailed("请求体须为 JSON 对象。")
    membership = service.add_member(db.session, g.actor, utcnow(), enterprise_id, body)
    db.session.commit()
    return jsonify(member_out(membership)), 201


@bp.post(f"/members/<{ID}:membership_id>/invites")
@spec.validate(resp=Response(HTTP_201=InviteOut, **_PROBLEMS), **_DOC)
@problem_json
@token_required
def create_member_invite(membership_id: int):
    """A single-use binding invite (7 days): the `scene` a WeChat QR of the account carries
    and WeChat's `qr_url` of that QR; redeemed by SCAN or a `qrscene_` subscribe."""
    now = utcnow()
    invite = service.create_invite(db.session, g.actor, now, membership_id)
    scene = invite_scene(invite.token)
    try:
        url = temporary_qr_url(get_wechat_client(), redis_client(), scene, invite.expires_at, now)
    except WeChatClientException as exc:
        db.session.rollback()
        return problem(502, f"微信暂时无法生成二维码（错误码 {exc.errcode}），请稍后重试。", "wechat_unavailable")
    db.session.commit()
    return jsonify(InviteOut(scene=scene, qr_url=url, expires_at=invite.expires_at).model_dump(mode="json")), 201
