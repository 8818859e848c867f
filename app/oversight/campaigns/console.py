"""Special campaigns (专项整治) in the console.

The bureau (menu 专项整治): the list, a new or edited draft, the campaign page (targets with
their progress, filtered by town and state, the per-town roll-up, launch / close / add and
remove a target, the history) and its Excel export. The bureau admin manages; staff watch
the campaigns and targets of their towns.

An enterprise (tab 专项整治): its campaigns, and the self-check form of one (every item of
the campaign's checklists answered; failed items become hazards in its ledger), read-only
once submitted. The 工作台 block of campaigns still owing a self-check is a template helper
registered here (`campaigns_due(e)`), as is the tab's condition (`campaign_tab_shown(e)`)."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    get_flashed_messages,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)

from app.accounts.console import current_actor, login_required
from app.accounts.domain import Action, Actor
from app.clock import local_today, to_local, utcnow
from app.enterprises import service as enterprise_service
from app.enterprises.models import Enterprise
from app.enterprises.queries import all_towns
from app.errors import DomainError
from app.extensions import db
from app.ids import parse_id
from app.oversight.campaigns import export, queries, service
from app.oversight.campaigns.domain import (
    ACTION_LABELS,
    RESULT_LABELS,
    STATUS_LABELS,
    TARGET_STATE_LABELS,
    TOPIC_FLAGS,
    TOPIC_LABELS,
    CampaignStatus,
    CampaignTopic,
    ItemResult,
    TargetState,
    default_title,
    may_watch,
)
from app.web import csrf_required

bp = Blueprint("campaigns_console", __name__, url_prefix="/console")

PER_PAGE = 30


@bp.context_processor
def _labels() -> dict[str, Any]:
    return {
        "TOPIC_LABELS": TOPIC_LABELS,
        "STATUS_LABELS": STATUS_LABELS,
        "STATE_LABELS": TARGET_STATE_LABELS,
        "ACTION_LABELS": ACTION_LABELS,
        "RESULT_LABELS": RESULT_LABELS,
        "CampaignStatus": CampaignStatus,
        "CampaignTopic": CampaignTopic,
        "TargetState": TargetState,
        "ItemResult": ItemResult,
    }


@bp.app_context_processor
def _campaign_helpers() -> dict[str, Any]:
    """`campaign_tab_shown(e)` for the tab bar, `campaigns_due(e)` for the 工作台."""

    def tab_shown(enterprise: Enterprise) -> bool:
        actor = current_actor()
        if actor is None or not actor.can(Action.VIEW_ENTERPRISE, enterprise.ref):
            return False
        return actor.can(Action.DO_CAMPAIGN_CHECK, enterprise.ref) or queries.has_campaigns(db.session, enterprise.id)

    def due(enterprise: Enterprise) -> list[queries.EnterpriseCampaign]:
        actor = current_actor()
        if actor is None or not actor.can(Action.VIEW_ENTERPRISE, enterprise.ref):
            return []
        return queries.campaigns_due(db.session, enterprise.id, utcnow())

    return {"campaign_tab_shown": tab_shown, "campaigns_due": due}


def _bureau() -> Actor:
    """The console user, who must be a bureau user with the district figures."""
    actor = current_actor()
    if not actor.is_bureau or not actor.can(Action.VIEW_DISTRICT_STATS):
        abort(403)
    return actor


def _topic_checklists() -> dict[CampaignTopic, list[str]]:
    """The standard checklists each topic would use (shown on the draft form)."""
    standard = queries.standard_checklists(db.session)
    return {t: [c.name for c in standard if c.topics & TOPIC_FLAGS[t]] for t in CampaignTopic}


# --- bureau: list, new, edit -----------------------------------------------------------------


@bp.get("/campaigns")
@login_required
def index():
    """专项整治: the campaigns the user may see, newest first, with their progress."""
    actor = _bureau()
    status = None
    if request.args.get("status") in CampaignStatus._value2member_map_:
        status = CampaignStatus(request.args["status"])
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    items, total = queries.list_campaigns(db.session, actor, status, page, PER_PAGE)
    return render_template(
        "oversight/campaigns/console_list.html",
        items=items,
        total=total,
        page=page,
        pages=max((total + PER_PAGE - 1) // PER_PAGE, 1),
        status=status,
        progress=queries.campaign_progress(db.session, actor, items, utcnow()),
        town_names=queries.town_names(db.session),
        scope_label=queries.scope_label,
        can_manage=actor.can(Action.MANAGE_CAMPAIGNS),
        messages=get_flashed_messages(),
    )


def _form_values() -> dict[str, Any]:
    form = request.form
    return {
        "topic": form.get("topic", ""),
        "title": form.get("title", ""),
        "description": form.get("description", ""),
        "starts_on": form.get("starts_on", ""),
        "deadline": form.get("deadline", ""),
        "scope": form.get("scope", "all"),
        "town_ids": form.getlist("town_ids"),
    }


def _render_form(values: dict[str, Any], error: str | None, campaign=None):
    return render_template(
        "oversight/campaigns/console_form.html",
        values=values,
        chosen_towns={str(t) for t in values.get("town_ids") or ()},
        towns=all_towns(db.session),
        topic_checklists=_topic_checklists(),
        campaign=campaign,
        error=error,
    ), (422 if error else 200)


@bp.route("/campaigns/new", methods=["GET", "POST"])
@login_required
@csrf_required
def new():
    """新建专项整治 (a draft): topic, name, requirements, dates, the towns."""
    actor = _bureau()
    if not actor.can(Action.MANAGE_CAMPAIGNS):
        abort(403)
    now = utcnow()
    today = local_today(now)
    values: dict[str, Any] = {
        "topic": CampaignTopic.DUST_EXPLOSION.value,
        "title": default_title(CampaignTopic.DUST_EXPLOSION, today.year),
        "description": "",
        "starts_on": today.isoformat(),
        "deadline": "",
        "scope": "all",
        "town_ids": [],
    }
    if request.method == "POST":
        values = _form_values()
        try:
            campaign = service.create(db.session, actor, now, values)
        except DomainError as exc:
            if exc.http_status == 403:
                raise
            db.session.rollback()
            return _render_form(values, exc.message)
        db.session.commit()
        flash("专项整治草稿已保存：核对范围和期限后点“启动”，系统将按专项标签确定对象企业并通知企业。")
        return redirect(url_for("campaigns_console.detail", campaign_id=campaign.id))
    return _render_form(values, None)


@bp.route("/campaigns/<id:campaign_id>/edit", methods=["GET", "POST"])
@login_required
@csrf_required
def edit(campaign_id: int):
    """修改草稿."""
    actor = _bureau()
    campaign = queries.get_campaign(db.session, actor, campaign_id)
    if not actor.can(Action.MANAGE_CAMPAIGNS):
        abort(403)
    if request.method == "POST":
        values = _form_values()
        try:
            service.edit(db.session, actor, utcnow(), campaign.id, values)
        except DomainError as exc:
            if exc.http_status in (403, 404):
                raise
            db.session.rollback()
            return _render_form(values, exc.message, campaign)
        db.session.commit()
        flash("已保存。")
        return redirect(url_for("campaigns_console.detail", campaign_id=campaign.id))
    values = {
        "topic": campaign.topic.value,
        "title": campaign.title,
        "description": campaign.description,
        "starts_on": campaign.starts_on.isoformat(),
        "deadline": campaign.deadline.isoformat(),
        "scope": "all" if campaign.all_towns else "towns",
        "town_ids": [str(t) for t in sorted(campaign.town_ids)],
    }
    error = None if campaign.status is CampaignStatus.DRAFT else "该专项整治已启动，不能再修改范围和期限。"
    return _render_form(values, error, campaign)


# --- bureau: the campaign page ----------------------------------------------------------------


def _filters() -> tuple[int | None, TargetState | None]:
    town_id = parse_id(request.args.get("town_id")) if request.args.get("town_id") else None
    state = request.args.get("state") or None
    return town_id, (TargetState(state) if state in TargetState._value2member_map_ else None)


def _page_of(actor: Actor, campaign_id: int) -> dict[str, Any]:
    campaign = queries.get_campaign(db.session, actor, campaign_id)
    if not may_watch(actor, campaign.all_towns, campaign.town_ids):
        abort(403)
    now = utcnow()
    rows = queries.target_rows(db.session, actor, campaign, now)
    names = queries.town_names(db.session)
    return {
        "c": campaign,
        "now": now,
        "rows": rows,
        "total": queries.totals(rows),
        "towns": queries.town_rollup(rows),
        "scope": queries.scope_label(campaign, names),
        "checklists": queries.pinned_checklists(db.session, campaign.id),
    }


@bp.get("/campaigns/<id:campaign_id>")
@login_required
def detail(campaign_id: int):
    """A campaign: its progress (totals, per town, per enterprise), actions and history."""
    actor = _bureau()
    page = _page_of(actor, campaign_id)
    campaign = page["c"]
    town_id, state = _filters()
    shown = [
        r for r in page["rows"]
        if (town_id is None or r.town_id == town_id) and (state is None or r.state is state)
    ]
    can_manage = actor.can(Action.MANAGE_CAMPAIGNS)
    return render_template(
        "oversight/campaigns/console_detail.html",
        **page,
        shown=shown,
        town_filter=town_id,
        state_filter=state,
        can_manage=can_manage,
        topic_checklists=_topic_checklists() if campaign.status is CampaignStatus.DRAFT else {},
        addable=queries.addable_enterprises(db.session, campaign)
        if can_manage and campaign.status is CampaignStatus.ACTIVE
        else [],
        deadline_passed=queries.local_deadline_passed(campaign, page["now"]),
        events=queries.campaign_events(db.session, campaign.id),
        messages=get_flashed_messages(),
    )


def _act(campaign_id: int, action, anchor: str = "") -> Any:
    """Run a console action on a campaign; a refused one is shown on the campaign's page."""
    actor = _bureau()
    try:
        message = action(actor, utcnow())
    except DomainError as exc:
        if exc.http_status in (403, 404):
            raise
        db.session.rollback()
        flash(exc.message)
    else:
        db.session.commit()
        flash(message)
    return redirect(url_for("campaigns_console.detail", campaign_id=campaign_id) + anchor)


@bp.post("/campaigns/<id:campaign_id>/launch")
@login_required
@csrf_required
def launch(campaign_id: int):
    def action(actor, now) -> str:
        targets, queued = service.launch(db.session, actor, now, campaign_id)
        return f"专项整治已启动：对象企业 {targets} 家，已向其负责人、安全管理员和企业管理员发送通知 {queued} 条。"

    return _act(campaign_id, action)


@bp.post("/campaigns/<id:campaign_id>/close")
@login_required
@csrf_required
def close(campaign_id: int):
    def action(actor, now) -> str:
        service.close(db.session, actor, now, campaign_id, request.form.get("note"))
        return "专项整治已结束，企业不能再提交自查。"

    return _act(campaign_id, action)


@bp.post("/campaigns/<id:campaign_id>/targets")
@login_required
@csrf_required
def add_target(campaign_id: int):
    def action(actor, now) -> str:
        service.add_target(db.session, actor, now, campaign_id, request.form.to_dict())
        return "已加入对象企业，并已通知该企业。"

    return _act(campaign_id, action, "#targets")


@bp.post("/campaigns/<id:campaign_id>/targets/<id:target_id>/remove")
@login_required
@csrf_required
def remove_target(campaign_id: int, target_id: int):
    def action(actor, now) -> str:
        service.remove_target(db.session, actor, now, campaign_id, target_id, request.form.get("reason"))
        return "已移出对象企业，理由已记录。"

    return _act(campaign_id, action, "#targets")


@bp.get("/campaigns/<id:campaign_id>/export.xlsx")
@login_required
def export_xlsx(campaign_id: int):
    """The campaign's targets and per-town roll-up, as Excel."""
    actor = _bureau()
    page = _page_of(actor, campaign_id)
    workbook = export.campaign_workbook(
        page["c"], page["rows"], page["towns"], page["total"], page["now"], actor.display_name
    )
    response = send_file(
        workbook.content,
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        as_attachment=True,
        download_name=workbook.filename,
        max_age=0,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


# --- an enterprise's campaigns ---------------------------------------------------------------


@bp.get("/enterprises/<id:enterprise_id>/campaigns")
@login_required
def enterprise_campaigns(enterprise_id: int):
    """The enterprise's tab 专项整治: the campaigns it is a target of."""
    actor = current_actor()
    enterprise = enterprise_service.get_enterprise(db.session, actor, enterprise_id)
    now = utcnow()
    return render_template(
        "oversight/campaigns/enterprise_list.html",
        e=enterprise,
        rows=queries.enterprise_campaigns(db.session, enterprise.id, now),
        can_check=actor.can(Action.DO_CAMPAIGN_CHECK, enterprise.ref),
        now=now,
        days_left=queries.days_left,
    )


@bp.route("/enterprises/<id:enterprise_id>/campaigns/<id:campaign_id>", methods=["GET", "POST"])
@login_required
@csrf_required
def self_check(enterprise_id: int, campaign_id: int):
    """The self-check of one campaign: the form (every item 合格/不合格/不适用, failed
    ones with what was found), or the submitted answers with the hazards they raised."""
    actor = current_actor()
    enterprise = enterprise_service.get_enterprise(db.session, actor, enterprise_id)
    campaign = queries.get_campaign(db.session, actor, campaign_id)
    target = queries.target_of(db.session, campaign.id, enterprise.id)
    if target is None or target.removed_at is not None or campaign.status is CampaignStatus.DRAFT:
        abort(404)
    error = None
    values: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        values = request.form.to_dict()
        try:
            service.submit_check(db.session, actor, utcnow(), enterprise.id, campaign.id, values)
        except DomainError as exc:
            if exc.http_status in (403, 404):
                raise
            db.session.rollback()
            error, status = exc.message, exc.http_status
            campaign = queries.get_campaign(db.session, actor, campaign_id)
            target = queries.target_of(db.session, campaign.id, enterprise.id)
        else:
            db.session.commit()
            flash("自查已提交。不合格项已登记为隐患，请在“隐患”中指派整改。")
            return redirect(url_for("campaigns_console.self_check", enterprise_id=enterprise.id, campaign_id=campaign.id))
    check = target.check
    return render_template(
        "oversight/campaigns/enterprise_check.html",
        e=enterprise,
        c=campaign,
        check=check,
        answered=queries.answered_items(db.session, check) if check else [],
        checker=queries.checker_name(db.session, check) if check else "",
        late=bool(check and to_local(check.checked_at).date() > campaign.deadline),
        items=queries.target_items(db.session, campaign.id, enterprise) if check is None else [],
        can_check=actor.can(Action.DO_CAMPAIGN_CHECK, enterprise.ref),
        values=values,
        error=error,
        now=utcnow(),
        days_left=queries.days_left,
        messages=get_flashed_messages(),
    ), status
