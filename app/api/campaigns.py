"""API v1 of special campaigns (专项整治): `GET /campaigns` (paginated; filter `status`) and
`GET /campaigns/{id}` with the progress per target and per town. Scoped like the console:
the bureau admin sees every campaign, bureau staff those covering the district or their
towns (and only the targets in their towns), an enterprise's token only the launched
campaigns its enterprise is a target of (and only its own target row). Errors are
application/problem+json."""

from __future__ import annotations

from flask import g, jsonify, request
from spectree import Response

from app.api.sites import _PROBLEMS, _page_args, problem_json
from app.api.views import bp, spec, token_required
from app.clock import utcnow
from app.errors import ValidationFailed
from app.extensions import db
from app.oversight.campaigns import queries
from app.oversight.campaigns.domain import CampaignStatus, Progress
from app.oversight.campaigns.models import Campaign
from app.oversight.campaigns.schemas import (
    CampaignOut,
    CampaignPage,
    CampaignQuery,
    CampaignSummaryOut,
    ProgressOut,
    TargetOut,
    TownProgressOut,
)

_DOC = {"skip_validation": True, "tags": ["campaigns"]}


def _status() -> CampaignStatus | None:
    raw = request.args.get("status")
    if not raw:
        return None
    if raw not in CampaignStatus._value2member_map_:
        raise ValidationFailed("status：应为 draft、active 或 closed", fields={"status": "应为 draft、active 或 closed"})
    return CampaignStatus(raw)


def _progress(p: Progress) -> dict:
    return ProgressOut(
        targets=p.targets, checked=p.checked, late=p.late, pending=p.pending, overdue=p.overdue,
        hazards=p.hazards, rectified=p.rectified,
    ).model_dump()


def _summary(c: Campaign, progress: Progress | None) -> dict:
    return CampaignSummaryOut(
        id=c.id,
        topic=c.topic,
        title=c.title,
        status=c.status,
        starts_on=c.starts_on,
        deadline=c.deadline,
        all_towns=c.all_towns,
        town_ids=sorted(c.town_ids),
        launched_at=c.launched_at,
        closed_at=c.closed_at,
        progress=ProgressOut(**_progress(progress)) if progress is not None else None,
    ).model_dump(mode="json")


@bp.get("/campaigns")
@spec.validate(query=CampaignQuery, resp=Response(HTTP_200=CampaignPage, **_PROBLEMS), **_DOC)
@problem_json
@token_required
def list_campaigns():
    """Special campaigns the token's user may see, newest first; paginated."""
    page, per_page = _page_args()
    items, total = queries.list_campaigns(db.session, g.actor, _status(), page, per_page)
    progress = queries.campaign_progress(db.session, g.actor, items, utcnow())
    return jsonify(
        {"items": [_summary(c, progress.get(c.id)) for c in items], "total": total, "page": page, "per_page": per_page}
    )


@bp.get("/campaigns/<id:campaign_id>")
@spec.validate(resp=Response(HTTP_200=CampaignOut, **_PROBLEMS), **_DOC)
@problem_json
@token_required
def get_campaign(campaign_id: int):
    """One campaign with its checklists, progress per town and per target enterprise."""
    c = queries.get_campaign(db.session, g.actor, campaign_id)
    rows = queries.target_rows(db.session, g.actor, c, utcnow())
    total = queries.totals(rows) if c.status is not CampaignStatus.DRAFT else None
    body = {
        **_summary(c, total),
        "description": c.description,
        "checklists": [f"{p.name}（第 {p.version} 版）" for p in queries.pinned_checklists(db.session, c.id)],
        "towns": [
            TownProgressOut(town_id=t.town_id, town_name=t.town_name, **_progress(t.progress)).model_dump()
            for t in queries.town_rollup(rows)
        ],
        "targets": [
            TargetOut(
                enterprise_id=r.enterprise_id,
                enterprise_name=r.enterprise_name,
                town_id=r.town_id,
                town_name=r.town_name,
                state=r.state,
                checked_at=r.checked_at,
                hazards=r.hazards,
                rectified=r.rectified,
                by_rule=r.by_rule,
                added_reason=r.added_reason,
                removed_reason=r.removed_reason,
            ).model_dump(mode="json")
            for r in rows
        ],
    }
    return jsonify(body)
