"""API v1 of the credit list (失信名单): `GET /credit-records` (paginated; filters `active`,
`enterprise_id`, `town_id`), `POST /credit-records` (list an enterprise) and
`POST /credit-records/{id}/delist` (with a reason). Scoped like the console: bureau users
with the district view see the records (staff: their towns'), only the bureau admin lists
and delists; an enterprise's token sees none. Errors are application/problem+json."""

from __future__ import annotations

from typing import Any

from flask import g, jsonify, request
from spectree import Response

from app.api.sites import _PROBLEMS, _page_args, problem_json
from app.api.views import bp, spec, token_required
from app.clock import utcnow
from app.errors import ValidationFailed
from app.extensions import db
from app.ids import parse_id
from app.oversight.credit import queries, service
from app.oversight.credit.schemas import (
    CreditRecordIn,
    CreditRecordOut,
    CreditRecordPage,
    CreditRecordQuery,
    DelistIn,
)

_DOC = {"skip_validation": True, "tags": ["credit"]}
_PROBLEMS_409 = {**_PROBLEMS, "HTTP_409": _PROBLEMS["HTTP_422"]}


def _filter() -> queries.CreditFilter:
    fields: dict[str, str] = {}
    active = enterprise_id = town_id = None
    raw = request.args.get("active")
    if raw is not None and raw != "":
        if raw.lower() in ("true", "1"):
            active = True
        elif raw.lower() in ("false", "0"):
            active = False
        else:
            fields["active"] = "应为 true 或 false"
    for name in ("enterprise_id", "town_id"):
        if request.args.get(name):
            value = parse_id(request.args[name])
            if value is None:
                fields[name] = "应为正整数编号"
            elif name == "enterprise_id":
                enterprise_id = value
            else:
                town_id = value
    if fields:
        raise ValidationFailed("；".join(f"{k}：{v}" for k, v in fields.items()), fields=fields)
    return queries.CreditFilter(active=active, enterprise_id=enterprise_id, town_id=town_id)


def record_out(r: queries.RecordRow) -> dict[str, Any]:
    return CreditRecordOut(
        id=r.id,
        enterprise_id=r.enterprise_id,
        enterprise_name=r.enterprise_name,
        uscc=r.uscc,
        town_id=r.town_id,
        town_name=r.town_name,
        list_kind=r.list_kind.value,
        list_name=r.list_label,
        active=r.active,
        reason=r.reason,
        basis=r.basis,
        decision_no=r.decision_no,
        listed_on=r.listed_on,
        review_on=r.review_on,
        flags=r.flags,
        listed_by=r.listed_by,
        created_at=r.created_at,
        delisted_on=r.delisted_on,
        delist_reason=r.delist_reason,
        delisted_by=r.delisted_by,
        delisted_at=r.delisted_at,
    ).model_dump(mode="json")


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationFailed("请求体须为 JSON 对象。")
    return body


@bp.get("/credit-records")
@spec.validate(query=CreditRecordQuery, resp=Response(HTTP_200=CreditRecordPage, **_PROBLEMS), **_DOC)
@problem_json
@token_required
def list_credit_records():
    """Credit-list records the token's user may see: active ones first (newest listing
    first), then delisted ones (newest delisting first); paginated."""
    page, per_page = _page_args()
    rows, total = queries.list_records(db.session, g.actor, _filter(), page, per_page)
    return jsonify({"items": [record_out(r) for r in rows], "total": total, "page": page, "per_page": per_page})


@bp.post("/credit-records")
@spec.validate(json=CreditRecordIn, resp=Response(HTTP_201=CreditRecordOut, **_PROBLEMS_409), **_DOC)
@problem_json
@token_required
def create_credit_record():
    """List an enterprise (bureau admin): `enterprise_id`, `list_kind`, `reason`, `basis`,
    optional `decision_no`, `listed_on`, `review_on` and the four 四个一律 flags. Sets the
    enterprise's `credit_status`; 409 when it is already on a list."""
    record = service.list_enterprise(db.session, g.actor, utcnow(), _body())
    db.session.commit()
    return jsonify(record_out(queries.record_row(db.session, record.id))), 201


@bp.post("/credit-records/<id:credit_record_id>/delist")
@spec.validate(json=DelistIn, resp=Response(HTTP_200=CreditRecordOut, **_PROBLEMS_409), **_DOC)
@problem_json
@token_required
def delist_credit_record(credit_record_id: int):
    """Lift an active listing with a `reason` (bureau admin), dated today; the enterprise's
    `credit_status` returns to normal. 409 when the record is already delisted."""
    record = service.delist(db.session, g.actor, utcnow(), credit_record_id, _body())
    db.session.commit()
    return jsonify(record_out(queries.record_row(db.session, record.id)))
