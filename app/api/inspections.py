"""API v1 of enforcement inspections (执法检查): `GET /inspections` (paginated; filters
`enterprise_id`, `status`, `town_id`) and `GET /inspections/{id}` (with the problems and
their hazard ids, the five 见, the signature's sha256 and URL). Scoped like the console:
the bureau admin every record, bureau staff their towns', an enterprise's principal, safety
officer and admin the signed records of their enterprise. Errors are problem+json."""

from __future__ import annotations

from flask import g, jsonify, request, url_for
from spectree import Response

from app.api.sites import _PROBLEMS, _page_args, problem_json
from app.api.views import bp, spec, token_required
from app.errors import ValidationFailed
from app.extensions import db
from app.ids import parse_id
from app.oversight.enforcement import queries
from app.oversight.enforcement.domain import InspectionStatus
from app.oversight.enforcement.models import Inspection
from app.oversight.enforcement.schemas import (
    InspectionOut,
    InspectionPage,
    InspectionProblemOut,
    InspectionQuery,
    InspectionSummaryOut,
    SeenOut,
    SignatureOut,
)

_DOC = {"skip_validation": True, "tags": ["inspections"]}


def _filter() -> queries.InspectionFilter:
    fields: dict[str, str] = {}
    values: dict[str, object] = {}
    for name, label in (("enterprise_id", "企业"), ("town_id", "镇（街道）")):
        raw = request.args.get(name)
        if raw:
            values[name] = parse_id(raw)
            if values[name] is None:
                fields[name] = f"应为{label}的编号"
    if request.args.get("status"):
        try:
            values["status"] = InspectionStatus(request.args["status"])
        except ValueError:
            fields["status"] = "应为 draft、signed、rectifying 或 accepted"
    if fields:
        raise ValidationFailed("；".join(f"{k}：{v}" for k, v in fields.items()), fields=fields)
    return queries.InspectionFilter(**values)


def _summary(i: Inspection, enterprise_name: str, town_name: str, seen_done: int) -> dict:
    return InspectionSummaryOut(
        id=i.id,
        enterprise_id=i.enterprise_id,
        enterprise_name=enterprise_name,
        town_name=town_name,
        inspected_on=i.inspected_on,
        inspectors=i.inspectors,
        status=i.status,
        cross_region=i.cross_region,
        cross_region_district=i.cross_region_district,
        joint=i.joint,
        joint_agencies=i.joint_agencies,
        five_seen_done=seen_done,
        signed_at=i.signed_at,
    ).model_dump(mode="json")


@bp.get("/inspections")
@spec.validate(query=InspectionQuery, resp=Response(HTTP_200=InspectionPage, **_PROBLEMS), **_DOC)
@problem_json
@token_required
def list_inspections():
    """Enforcement inspections the token's user may see, newest first; paginated."""
    page, per_page = _page_args()
    rows, total = queries.list_inspections(db.session, g.actor, _filter(), page, per_page)
    return jsonify(
        {
            "items": [_summary(r.inspection, r.enterprise_name, r.town_name, r.seen_done) for r in rows],
            "total": total,
            "page": page,
            "per_page": per_page,
        }
    )


@bp.get("/inspections/<id:inspection_id>")
@spec.validate(resp=Response(HTTP_200=InspectionOut, **_PROBLEMS), **_DOC)
@problem_json
@token_required
def get_inspection(inspection_id: int):
    """One inspection: details, the problems with their hazards, the five 见, the signature."""
    v = queries.record_view(db.session, g.actor, inspection_id)
    i = v.inspection
    signature = None
    if i.signed:
        signature = SignatureOut(
            signer_name=i.signer_name or "",
            signed_at=i.signed_at,
            sha256=i.signature_sha256 or "",
            url=url_for("enforcement_console.signature", inspection_id=i.id, _external=True),
        ).model_dump(mode="json")
    body = {
        **_summary(i, v.enterprise.name, v.enterprise.town.name, sum(1 for s in v.seen if s.done)),
        "summary": i.summary,
        "no_problems": i.no_problems,
        "penalty_kind": i.penalty_kind.value if i.penalty_kind else None,
        "penalty_number": i.penalty_number,
        "penalty_content": i.penalty_content,
        "penalty_deadline": i.penalty_deadline.isoformat() if i.penalty_deadline else None,
        "responsible_name": i.responsible_name,
        "responsible_title": i.responsible_title,
        "signature": signature,
        "reinspected_on": i.reinspected_on.isoformat() if i.reinspected_on else None,
        "reinspection_passed": i.reinspection_passed,
        "reinspection_result": i.reinspection_result,
        "five_seen": [SeenOut(key=s.key, label=s.label, done=s.done, detail=s.detail).model_dump() for s in v.seen],
        "problems": [
            InspectionProblemOut(
                id=p.id,
                number=p.number,
                text=p.text,
                level=p.level,
                category=p.category,
                deadline=p.deadline,
                hazard_id=p.hazard_id,
                hazard_status=p.hazard_status,
            ).model_dump(mode="json")
            for p in v.problems
        ],
    }
    return jsonify(body)
