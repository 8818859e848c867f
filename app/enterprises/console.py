"""Console pages of the enterprise file (一企一档)."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from app.accounts.console import current_actor, login_required
from app.accounts.domain import BUREAU_ROLE_LABELS, ROLE_LABELS, Action
from app.clock import local_today, utcnow
from app.enterprises import queries, service
from app.enterprises.domain import (
    CREDIT_LABELS,
    INDUSTRY_LABELS,
    SCALE_LABELS,
    STANDARDIZATION_LABELS,
    STANDARDIZATION_TARGET,
    THREE_SIMULTANEOUS_LABELS,
    TOPIC_LABELS,
    site_scene,
    standardization_expires_on,
    standardization_valid_on,
)
from app.extensions import db

bp = Blueprint("enterprises", __name__, url_prefix="/console", template_folder="../templates")


def label_context() -> dict:
    """The enterprise file's labels, for every template (registered by the app factory)."""
    return {
        "INDUSTRY_LABELS": INDUSTRY_LABELS,
        "SCALE_LABELS": SCALE_LABELS,
        "STANDARDIZATION_LABELS": STANDARDIZATION_LABELS,
        "THREE_SIMULTANEOUS_LABELS": THREE_SIMULTANEOUS_LABELS,
        "CREDIT_LABELS": CREDIT_LABELS,
        "TOPIC_LABELS": TOPIC_LABELS,
        "ROLE_LABELS": ROLE_LABELS,
        "BUREAU_ROLE_LABELS": BUREAU_ROLE_LABELS,
        "STANDARDIZATION_TARGET": float(STANDARDIZATION_TARGET),
    }


# The dashboard of one enterprise (工作台, hazard_reporting.dashboard): by endpoint name,
# as identity may not import features.
DASHBOARD_ENDPOINT = "dashboard_console.dashboard"
# Enterprises per page of the list (the demo district alone has 160).
PAGE_SIZE = 50


@bp.get("/")
@login_required
def console_home():
    """The console's home. The bureau: district KPI cards and the enterprises in scope. A
    member of exactly one enterprise: that enterprise's dashboard. A member of several: the
    list of their enterprises (no district cards)."""
    actor = current_actor()
    if not actor.is_bureau and len(actor.roles) == 1:
        (enterprise_id,) = actor.roles
        return redirect(url_for(DASHBOARD_ENDPOINT, enterprise_id=enterprise_id))
    town_id = request.args.get("town", type=int)
    enterprises = queries.list_enterprises(db.session, actor, town_id)
    today = local_today(utcnow())
    pages = max(1, -(-len(enterprises) // PAGE_SIZE))
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), pages)
    shown = enterprises[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    return render_template(
        "enterprises/list.html",
        enterprises=shown,
        lapsed={
            e.id: standardization_expires_on(e.standardization_date)
            for e in shown
            if e.standardization_date is not None
            and not standardization_valid_on(e.standardization_level, e.standardization_date, today)
        },
        total=len(enterprises),
        page=page,
        pages=pages,
        today=today,
        towns=queries.visible_towns(db.session, actor),
        town_id=town_id,
        summary=queries.summarize(enterprises, today) if actor.is_bureau else None,
        actor=actor,
        dashboard_endpoint=DASHBOARD_ENDPOINT,
    )


@bp.get("/enterprises/<id:enterprise_id>")
@login_required
def enterprise_detail(enterprise_id: int):
    actor = current_actor()
    enterprise = service.get_enterprise(db.session, actor, enterprise_id)
    return render_template(
        "enterprises/detail.html",
        e=enterprise,
        file=queries.enterprise_file(db.session, enterprise),
        site_scene=site_scene,
        can_invite=actor.can(Action.MANAGE_MEMBERS, enterprise.ref),
    )
