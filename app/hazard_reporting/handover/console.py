"""待交接事项 in the console: a member who left, their open hazards (each reassignable to an
active member through the hazards' own assign action) and the open checks their role owed."""

from __future__ import annotations

from flask import Blueprint, abort, flash, get_flashed_messages, redirect, render_template, request, url_for

from app.accounts.console import current_actor, login_required
from app.accounts.domain import ROLE_LABELS
from app.clock import utcnow
from app.errors import DomainError, NotFound, readable_message
from app.extensions import db
from app.hazard_reporting.checks.domain import CHECK_LEVEL_LABELS
from app.hazard_reporting.handover import queries
from app.hazard_reporting.hazards import service as hazards_service
from app.hazard_reporting.hazards.domain import LEVEL_LABELS, STATUS_LABELS, HazardAction
from app.web import csrf_required

bp = Blueprint("handover", __name__, url_prefix="/console")

# Ids in these URLs stay within PostgreSQL's integer: a larger one is a 404.
ID = "id"


def _actor():
    actor = current_actor()
    if actor is None:
        abort(401)
    return actor


@bp.get(f"/members/<{ID}:membership_id>/handover")
@login_required
def member(membership_id: int):
    """待交接事项 of one member (usually one who left)."""
    found = queries.handover(db.session, _actor(), membership_id, utcnow())
    return render_template(
        "handover/member.html",
        h=found,
        enterprise=found.enterprise,
        role_labels=ROLE_LABELS,
        level_labels=LEVEL_LABELS,
        status_labels=STATUS_LABELS,
        check_level_labels=CHECK_LEVEL_LABELS,
        messages=get_flashed_messages(),
    )


@bp.post(f"/members/<{ID}:membership_id>/handover/hazards/<{ID}:hazard_id>/assign")
@login_required
@csrf_required
def reassign(membership_id: int, hazard_id: int):
    """Hand one of the member's open hazards to another active member (the hazards'
    assign action: its rules, event row and notice)."""
    actor = _actor()
    membership = queries.membership_to_hand_over(db.session, actor, membership_id)
    held = {h.id for h in queries.open_hazards_of(db.session, membership.enterprise_id, membership.user_id)}
    if hazard_id not in held:
        raise NotFound("该隐患不在此成员的待交接事项中。")
    raw = request.form.get("assignee_id", "").strip()
    try:
        hazards_service.act(
            db.session, actor, utcnow(), hazard_id, HazardAction.ASSIGN,
            {"assignee_id": raw if raw else None},
        )
    except NotFound:
        raise
    except DomainError as exc:
        db.session.rollback()
        flash(readable_message(exc, {"assignee_id": "整改责任人"}))
    else:
        db.session.commit()
        flash("已改派整改责任人。")
    return redirect(url_for("handover.member", membership_id=membership_id))
