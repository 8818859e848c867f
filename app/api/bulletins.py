"""API v1 of bulletins (通报): `GET /bulletins` (paginated; filters `month`, `town_id`,
`kind`) and `GET /bulletins/{id}`. Scoped like the console: the bureau admin sees every
bulletin, bureau staff the district's and their towns', an enterprise's token only the
published bulletins that name its enterprise (and only their lists, not what a draft
removed). Errors are application/problem+json."""

from __future__ import annotations

from flask import g, jsonify, request
from spectree import Response

from app.api.sites import _PROBLEMS, _page_args, problem_json
from app.api.views import bp, spec, token_required
from app.errors import ValidationFailed
from app.extensions import db
from app.ids import parse_id
from app.oversight.bulletins import queries
from app.oversight.bulletins.domain import BulletinKind, Month, Verdict
from app.oversight.bulletins.models import Bulletin
from app.oversight.bulletins.schemas import (
    BulletinEntryOut,
    BulletinOut,
    BulletinPage,
    BulletinQuery,
    BulletinSummaryOut,
)

_DOC = {"skip_validation": True, "tags": ["bulletins"]}


def _filter() -> queries.BulletinFilter:
    fields: dict[str, str] = {}
    month = town_id = kind = None
    if request.args.get("month"):
        try:
            month = Month.parse(request.args["month"])
        except ValidationFailed:
            fields["month"] = "应为 YYYY-MM 格式的月份，如 2026-11"
    if request.args.get("town_id"):
        town_id = parse_id(request.args["town_id"])
        if town_id is None:
            fields["town_id"] = "应为镇（街道）的编号"
    if request.args.get("kind"):
        try:
            kind = BulletinKind(request.args["kind"])
        except ValueError:
            fields["kind"] = "应为 monthly 或 supervision"
    if fields:
        raise ValidationFailed("；".join(f"{k}：{v}" for k, v in fields.items()), fields=fields)
    return queries.BulletinFilter(kind=kind, month=month, town_id=town_id)


def _summary(b: Bulletin, counts: dict[Verdict, int]) -> dict:
    return BulletinSummaryOut(
        id=b.id,
        kind=b.kind,
        status=b.status,
        title=b.title,
        town_id=b.town_id,
        month=b.month.strftime("%Y-%m") if b.month else None,
        visit_date=b.visit_date,
        praised=counts.get(Verdict.PRAISED, 0),
        warned=counts.get(Verdict.WARNED, 0),
        visited=counts.get(Verdict.VISITED, 0),
        created_at=b.created_at,
        published_at=b.published_at,
        supersedes_id=b.supersedes_id,
    ).model_dump(mode="json")


@bp.get("/bulletins")
@spec.validate(query=BulletinQuery, resp=Response(HTTP_200=BulletinPage, **_PROBLEMS), **_DOC)
@problem_json
@token_required
def list_bulletins():
    """Bulletins the token's user may see, newest first; paginated."""
    page, per_page = _page_args()
    items, total = queries.list_bulletins(db.session, g.actor, _filter(), page, per_page)
    counts = queries.listed_counts(db.session, [b.id for b in items])
    return jsonify(
        {
            "items": [_summary(b, counts.get(b.id, {})) for b in items],
            "total": total,
            "page": page,
            "per_page": per_page,
        }
    )


@bp.get("/bulletins/<id:bulletin_id>")
@spec.validate(resp=Response(HTTP_200=BulletinOut, **_PROBLEMS), **_DOC)
@problem_json
@token_required
def get_bulletin(bulletin_id: int):
    """One bulletin with its text, figures and lists (each enterprise's reasons)."""
    b = queries.get_bulletin(db.session, g.actor, bulletin_id)
    rows = queries.entry_rows(db.session, b.id)
    if not g.actor.is_bureau:
        rows = [r for r in rows if r.listed]
    counts = queries.listed_counts(db.session, [b.id]).get(b.id, {})
    body = {
        **_summary(b, counts),
        "body": b.body,
        "requirements": b.requirements,
        "deadline": b.deadline.isoformat() if b.deadline else None,
        "figures": {k: int(v) for k, v in (b.figures or {}).items()},
        "entries": [
            BulletinEntryOut(
                enterprise_id=r.enterprise_id,
                enterprise_name=r.enterprise_name,
                town_name=r.town_name,
                verdict=r.verdict,
                reasons=r.reasons,
                by_rule=r.by_rule,
                removed=not r.listed,
                removed_reason=r.removed_reason,
            ).model_dump(mode="json")
            for r in rows
        ],
    }
    return jsonify(body)
