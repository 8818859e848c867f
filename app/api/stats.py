"""API v1 of the bureau's figures: standardization against the 70 % target and check
completion, per town and in total, for a month. Bureau users only (403 otherwise); a bureau
staff member's token sees their towns. The numbers are the console dashboard's
(oversight.stats.queries.dashboard). Errors are application/problem+json."""

from __future__ import annotations

from flask import g, jsonify, request
from spectree import Response

from app.api.sites import ProblemOut, problem_json
from app.api.views import bp, spec, token_required
from app.clock import local_today, utcnow
from app.errors import ValidationFailed
from app.extensions import db
from app.ids import parse_id
from app.oversight.stats import queries
from app.oversight.stats.domain import parse_month
from app.oversight.stats.schemas import (
    ChecksOut,
    StandardizationOut,
    StatsQuery,
    checks_out,
    standardization_out,
)

_PROBLEMS = {"HTTP_401": ProblemOut, "HTTP_403": ProblemOut, "HTTP_404": ProblemOut, "HTTP_422": ProblemOut}
_DOC = {"skip_validation": True, "tags": ["stats"]}


def _board():
    now = utcnow()
    month = parse_month(request.args.get("month"), local_today(now))
    raw = request.args.get("town_id", "")
    town_id = None
    if raw.strip():
        town_id = parse_id(raw)
        if town_id is None:
            raise ValidationFailed.for_field("town_id", "镇街 id 应为正整数")
    return queries.dashboard(db.session, g.actor, month, now, town_id)


@bp.get("/stats/standardization")
@spec.validate(query=StatsQuery, resp=Response(HTTP_200=StandardizationOut, **_PROBLEMS), **_DOC)
@problem_json
@token_required
def stats_standardization():
    """规上企业安全生产标准化 per town and in total: valid certificates on the month's last day
    (today for the current month), rate, shortfall and deduction against 70 %, certificates
    expiring within 90 days and lapsed."""
    return jsonify(standardization_out(_board()).model_dump(mode="json"))


@bp.get("/stats/checks")
@spec.validate(query=StatsQuery, resp=Response(HTTP_200=ChecksOut, **_PROBLEMS), **_DOC)
@problem_json
@token_required
def stats_checks():
    """Check tasks due in the month per town and level: on time, late, missed, excused,
    overdue (within grace), open, and the on-time rate."""
    return jsonify(checks_out(_board()).model_dump(mode="json"))
