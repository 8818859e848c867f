"""API v1 of safety training (安全培训): `GET|POST /enterprises/{id}/training-sessions` (the
enterprise's sessions, newest first, paginated; record one — principal, safety officer,
admin) and `GET /training/coverage?as_of=` (the bureau: coverage of principals and safety
officers per town and enterprise). Scoped like the console; errors are
application/problem+json."""

from __future__ import annotations

from datetime import date

from flask import g, jsonify, request
from spectree import Response

from app.accounts.domain import Action
from app.api.sites import _PROBLEMS, _page_args, problem_json
from app.api.views import bp, spec, token_required
from app.clock import local_today, utcnow
from app.enterprises import service as enterprise_service
from app.errors import PermissionDenied, ValidationFailed
from app.extensions import db
from app.oversight.training import queries, service
from app.oversight.training.domain import COVERING_KINDS, Coverage
from app.oversight.training.models import TrainingSession
from app.oversight.training.schemas import (
    AttendeeOut,
    CoverageQuery,
    CoverageReportOut,
    TrainingSessionIn,
    TrainingSessionOut,
    TrainingSessionPage,
    TrainingSessionsQuery,
)
from app.validation import parse

_DOC = {"skip_validation": True, "tags": ["training"]}


def session_out(row: TrainingSession) -> dict:
    attendees = queries.attendee_rows(db.session, row.id)
    return TrainingSessionOut(
        id=row.id,
        enterprise_id=row.enterprise_id,
        topic=row.topic,
        kind=row.kind,
        held_on=row.held_on,
        trainer=row.trainer,
        hours=f"{row.hours.normalize():f}",
        location=row.location,
        notes=row.notes,
        counts_for_coverage=row.kind in COVERING_KINDS,
        attendees=[
            AttendeeOut(
                membership_id=a.membership_id, user_id=a.user_id, name=a.name, role=a.role.value,
                passed=a.passed, certificate_no=a.certificate_no,
            )
            for a in attendees
        ],
        created_at=row.created_at,
        updated_at=row.updated_at,
    ).model_dump(mode="json")


@bp.get("/enterprises/<id:enterprise_id>/training-sessions")
@spec.validate(query=TrainingSessionsQuery, resp=Response(HTTP_200=TrainingSessionPage, **_PROBLEMS), **_DOC)
@problem_json
@token_required
def list_training_sessions(enterprise_id: int):
    """The enterprise's training sessions, newest first, each with its attendees; paginated."""
    page, per_page = _page_args()
    enterprise = enterprise_service.get_enterprise(db.session, g.actor, enterprise_id)
    rows, total = queries.sessions_page(db.session, enterprise.id, page, per_page)
    return jsonify(
        {"items": [session_out(r.session) for r in rows], "total": total, "page": page, "per_page": per_page}
    )


@bp.post("/enterprises/<id:enterprise_id>/training-sessions")
@spec.validate(json=TrainingSessionIn, resp=Response(HTTP_201=TrainingSessionOut, **_PROBLEMS), **_DOC)
@problem_json
@token_required
def create_training_session(enterprise_id: int):
    """Record a session the enterprise held (principal, safety officer or admin): `topic`,
    `kind`, `held_on` (not after today), `trainer`, `hours` (0.5–40), optional `location`,
    `notes`, and `attendees` — current members, each once, `passed` (default true) and an
    optional `certificate_no`."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationFailed("请求体须为 JSON 对象。")
    payload = parse(TrainingSessionIn, body)
    row = service.record_session(db.session, g.actor, utcnow(), enterprise_id, payload.model_dump())
    db.session.commit()
    return jsonify(session_out(row)), 201


def _as_of(today: date) -> date:
    raw = request.args.get("as_of", "")
    if not raw:
        return today
    try:
        as_of = date.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed.for_field("as_of", "应为 YYYY-MM-DD 格式的日期") from None
    if as_of > today:
        raise ValidationFailed.for_field("as_of", "不能晚于今天")
    return as_of


def _rate(c: Coverage) -> dict:
    return {"people": c.people, "covered": c.covered, "rate": float(c.rate) if c.rate is not None else None}


@bp.get("/training/coverage")
@spec.validate(query=CoverageQuery, resp=Response(HTTP_200=CoverageReportOut, **_PROBLEMS), **_DOC)
@problem_json
@token_required
def training_coverage():
    """Coverage on `as_of` (default today) of principals (`manager`) and safety officers:
    trained and passed in a `principal_officer` or `annual_refresher` session within the
    twelve months up to `as_of`. Per town and district, and per enterprise with a principal
    or safety officer registered (uncovered first). Bureau users, over their towns."""
    if not g.actor.is_bureau or not g.actor.can(Action.VIEW_DISTRICT_STATS):
        raise PermissionDenied("培训覆盖情况仅供安监局查看。")
    report = queries.coverage_report(db.session, g.actor, _as_of(local_today(utcnow())))
    body = {
        "as_of": report.as_of.isoformat(),
        "covering_kinds": sorted(k.value for k in COVERING_KINDS),
        "district": _rate(report.district),
        "towns": [
            {
                **_rate(t.coverage), "town_id": t.town_id, "town_name": t.name, "enterprises": t.enterprises,
                "enterprises_with_people": t.with_people, "enterprises_fully_covered": t.fully_covered,
            }
            for t in report.towns
        ],
        "enterprises": [
            {
                **_rate(e.coverage), "enterprise_id": e.enterprise_id, "enterprise_name": e.name, "town_id": e.town_id,
                "people_list": [
                    {
                        "user_id": p.user_id, "name": p.name, "roles": [r.value for r in p.roles], "covered": p.covered,
                        "last_trained_on": p.last_trained_on.isoformat() if p.last_trained_on else None,
                        "covered_until": p.covered_until.isoformat() if p.covered_until else None,
                    }
                    for p in e.people
                ],
            }
            for e in report.enterprises
        ],
    }
    return jsonify(body)


