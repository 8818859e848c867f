"""The 一企一档 page in the console: one enterprise's whole file on one page, with a section
nav (anchors). For the bureau in scope and the enterprise's principal, safety officer and
admin (domain.may_view_dossier); another member of the enterprise is refused (403, told
whom to ask), anyone else is told the enterprise does not exist (404)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request

from app.accounts.console import current_actor, login_required
from app.accounts.domain import Action
from app.clock import local_today, utcnow
from app.enterprises import service as enterprise_service
from app.enterprises.models import Enterprise
from app.errors import PermissionDenied
from app.extensions import db
from app.hazard_reporting.checks.domain import CHECK_LEVEL_LABELS
from app.hazard_reporting.hazards.domain import LEVEL_LABELS, SOURCE_LABELS, STATUS_LABELS
from app.hazard_reporting.risks.domain import RISK_GRADE_LABELS
from app.oversight.credit import queries as credit_queries
from app.oversight.dossier import queries
from app.oversight.dossier.domain import (
    CERTIFICATE_STATE_LABELS,
    CERTIFICATE_STATE_TAGS,
    REFUSED,
    TIMELINE_KIND_LABELS,
    TIMELINE_MAX,
    TIMELINE_PAGE,
    may_view_dossier,
    timeline_limit,
)
from app.oversight.enforcement import queries as enforcement_queries
from app.oversight.training.domain import KIND_LABELS as TRAINING_KIND_LABELS
from app.oversight.training.queries import dossier_training

bp = Blueprint(
    "dossier_console",
    __name__,
    url_prefix="/console/enterprises/<id:enterprise_id>",
    template_folder="../../templates",
)

# The page's sections in order: (anchor, title) — the section nav at the top.
SECTIONS = (
    ("profile", "基本信息"),
    ("standardization", "标准化"),
    ("organisation", "组织与岗位"),
    ("sites", "排查点位"),
    ("members", "人员"),
    ("checks", "排查计划与按时率"),
    ("hazards", "隐患治理"),
    ("risks", "风险分级管控"),
    ("enforcement", "执法与信用"),
    ("credit", "信用记录"),
    ("training", "安全培训"),
    ("tips", "安全提示"),
    ("timeline", "时间线"),
)


@bp.app_context_processor
def _dossier_helpers() -> dict[str, Any]:
    """`may_view_dossier(e)` for the tab bar and the enterprise list."""

    def may_view(enterprise: Enterprise) -> bool:
        actor = current_actor()
        return actor is not None and may_view_dossier(actor, enterprise.ref)

    return {"may_view_dossier": may_view}


@bp.get("/dossier")
@login_required
def dossier(enterprise_id: int):
    actor = current_actor()
    enterprise = enterprise_service.get_enterprise(db.session, actor, enterprise_id)
    if not may_view_dossier(actor, enterprise.ref):
        raise PermissionDenied(REFUSED)
    now = utcnow()
    page = queries.dossier(db.session, enterprise, now, timeline_limit(request.args.get("timeline")))
    return render_template(
        "oversight/dossier/page.html",
        e=enterprise,
        d=page,
        sections=SECTIONS,
        credit=credit_queries.dossier_credit(db.session, actor, enterprise, local_today(utcnow())),
        inspections=enforcement_queries.of_enterprise(db.session, actor, enterprise.id),
        RISK_GRADE_NAMES=RISK_GRADE_LABELS,
        can_manage_members=actor.can(Action.MANAGE_MEMBERS, enterprise.ref),
        can_see_broadcasts=actor.can(Action.BROADCAST_TIP),
        CERTIFICATE_STATE_LABELS=CERTIFICATE_STATE_LABELS,
        CERTIFICATE_STATE_TAGS=CERTIFICATE_STATE_TAGS,
        TIMELINE_KIND_LABELS=TIMELINE_KIND_LABELS,
        TIMELINE_PAGE=TIMELINE_PAGE,
        TIMELINE_MAX=TIMELINE_MAX,
        CHECK_LEVEL_LABELS=CHECK_LEVEL_LABELS,
        HAZARD_LEVEL_LABELS=LEVEL_LABELS,
        HAZARD_STATUS_LABELS=STATUS_LABELS,
        HAZARD_SOURCE_LABELS=SOURCE_LABELS,
        training=dossier_training(db.session, enterprise.id, local_today(now)),
        TRAINING_KIND_LABELS=TRAINING_KIND_LABELS,
    )
