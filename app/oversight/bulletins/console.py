"""Bulletins (通报) in the bureau's console: the list, a new monthly or supervision bulletin,
the draft (text, lists, findings), the publish confirmation, the printable page and the
Excel export. Bureau users only; staff draft for their towns, the bureau admin publishes."""

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
from app.clock import local_today, utcnow
from app.enterprises.queries import all_towns
from app.errors import DomainError
from app.extensions import db
from app.ids import parse_id
from app.oversight.bulletins import export, queries, service
from app.oversight.bulletins.domain import (
    ACTION_LABELS,
    KIND_LABELS,
    STATUS_LABELS,
    VERDICT_LABELS,
    BulletinKind,
    BulletinStatus,
    Figures,
    Month,
    Verdict,
    in_scope,
    paragraphs,
)
from app.web import csrf_required

bp = Blueprint("bulletins_console", __name__, url_prefix="/console/bulletins")

PER_PAGE = 30


@bp.context_processor
def _labels() -> dict[str, Any]:
    return {
        "KIND_LABELS": KIND_LABELS,
        "STATUS_LABELS": STATUS_LABELS,
        "VERDICT_LABELS": VERDICT_LABELS,
        "ACTION_LABELS": ACTION_LABELS,
        "BulletinKind": BulletinKind,
        "BulletinStatus": BulletinStatus,
        "Verdict": Verdict,
        "paragraphs": paragraphs,
    }


def _bureau() -> Actor:
    """The console user, who must be a bureau user with the district figures."""
    actor = current_actor()
    if not actor.is_bureau or not actor.can(Action.VIEW_DISTRICT_STATS):
        abort(403)
    return actor


def _towns_for(actor: Actor) -> list:
    return [t for t in all_towns(db.session) if in_scope(actor, t.id)]


def _filter_args() -> queries.BulletinFilter:
    kind = request.args.get("kind") or None
    month = request.args.get("month") or None
    town = request.args.get("town_id") or None
    try:
        kind_value = BulletinKind(kind) if kind else None
    except ValueError:
        kind_value = None
    month_value = Month.parse(month) if month else None
    town_id = parse_id(town) if town else None
    return queries.BulletinFilter(kind=kind_value, month=month_value, town_id=town_id)


@bp.get("")
@login_required
def index():
    """通报: every bulletin the user may see, newest first, with filters."""
    actor = _bureau()
    flt = _filter_args()
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    items, total = queries.list_bulletins(db.session, actor, flt, page, PER_PAGE)
    return render_template(
        "oversight/bulletins/console_list.html",
        items=items,
        total=total,
        page=page,
        pages=max((total + PER_PAGE - 1) // PER_PAGE, 1),
        flt=flt,
        towns=all_towns(db.session),
        town_names=queries.town_names(db.session),
        messages=get_flashed_messages(),
    )


@bp.route("/new", methods=["GET", "POST"])
@login_required
@csrf_required
def new_monthly():
    """起草月度通报: a month and a scope; the lists are filled by the rule."""
    actor = _bureau()
    now = utcnow()
    error = None
    values = {"month": Month.of(local_today(now)).previous().key, "town_id": ""}
    if request.method == "POST":
        values = {"month": request.form.get("month", ""), "town_id": request.form.get("town_id", "")}
        try:
            bulletin = service.draft_monthly(db.session, actor, now, values)
        except DomainError as exc:
            if exc.http_status == 403:
                raise
            db.session.rollback()
            error = exc.message
        else:
            db.session.commit()
            flash("通报草稿已按规则生成：请核对名单、修改正文后发布。")
            return redirect(url_for("bulletins_console.detail", bulletin_id=bulletin.id))
    return render_template(
        "oversight/bulletins/console_new.html",
        towns=_towns_for(actor),
        district=actor.enterprise_scope().all,
        values=values,
        error=error,
    ), (422 if error else 200)


@bp.route("/new-supervision", methods=["GET", "POST"])
@login_required
@csrf_required
def new_supervision():
    """记录督导检查: the visit's date and town, the enterprises visited, the requirements."""
    actor = _bureau()
    now = utcnow()
    towns = _towns_for(actor)
    error = None
    town_id = parse_id(request.values.get("town_id", "")) if request.values.get("town_id") else None
    if town_id not in {t.id for t in towns}:  # only the towns the user works on
        town_id = towns[0].id if towns else None
    values: dict[str, Any] = {
        "town_id": town_id,
        "visit_date": local_today(now).isoformat(),
        "deadline": "",
        "requirements": "",
        "enterprise_ids": set(),
    }
    if request.method == "POST":
        form = request.form
        data = {
            "town_id": form.get("town_id", ""),
            "visit_date": form.get("visit_date", ""),
            "deadline": form.get("deadline", ""),
            "requirements": form.get("requirements", ""),
            "enterprise_ids": form.getlist("enterprise_ids"),
        }
        values = {**data, "town_id": town_id, "enterprise_ids": set(data["enterprise_ids"])}
        try:
            bulletin = service.draft_supervision(db.session, actor, now, data)
        except DomainError as exc:
            if exc.http_status == 403:
                raise
            db.session.rollback()
            error = exc.message
        else:
            db.session.commit()
            flash("督导通报草稿已建立：请逐家填写发现的问题后发布。")
            return redirect(url_for("bulletins_console.detail", bulletin_id=bulletin.id))
    candidates = queries.enterprises_of_town(db.session, town_id) if town_id else []
    return render_template(
        "oversight/bulletins/console_new_supervision.html",
        towns=towns,
        candidates=candidates,
        values=values,
        error=error,
    ), (422 if error else 200)


def _page_of(actor: Actor, bulletin_id: int) -> dict[str, Any]:
    bulletin = queries.get_bulletin(db.session, actor, bulletin_id)
    rows = queries.entry_rows(db.session, bulletin.id)
    town_names = queries.town_names(db.session)
    return {
        "b": bulletin,
        "rows": rows,
        "listed": [r for r in rows if r.listed],
        "removed": [r for r in rows if not r.listed],
        "town_name": town_names.get(bulletin.town_id) if bulletin.town_id else None,
        "figures": Figures.from_json(bulletin.figures) if bulletin.kind is BulletinKind.MONTHLY else None,
    }


@bp.get("/<id:bulletin_id>")
@login_required
def detail(bulletin_id: int):
    """A bulletin: the draft to edit, or the published text and lists (read-only)."""
    actor = _bureau()
    page = _page_of(actor, bulletin_id)
    bulletin = page["b"]
    editable = bulletin.status is BulletinStatus.DRAFT and in_scope(actor, bulletin.town_id)
    return render_template(
        "oversight/bulletins/console_detail.html",
        **page,
        editable=editable,
        can_publish=actor.can(Action.PUBLISH_BULLETIN) and in_scope(actor, bulletin.town_id),
        addable=queries.addable_enterprises(db.session, bulletin) if editable else [],
        events=queries.bulletin_events(db.session, bulletin.id),
        superseded_by=queries.corrections_of(db.session, bulletin.id),
        messages=get_flashed_messages(),
    )


def _act(bulletin_id: int, action, anchor: str = "") -> Any:
    """Run a console action on a bulletin; a refused one is shown on the bulletin's page."""
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
    return redirect(url_for("bulletins_console.detail", bulletin_id=bulletin_id) + anchor)


@bp.post("/<id:bulletin_id>/edit")
@login_required
@csrf_required
def edit(bulletin_id: int):
    def action(actor, now) -> str:
        service.edit(db.session, actor, now, bulletin_id, request.form.to_dict())
        return "已保存。"

    return _act(bulletin_id, action)


@bp.post("/<id:bulletin_id>/entries")
@login_required
@csrf_required
def add_entry(bulletin_id: int):
    def action(actor, now) -> str:
        service.add_entry(db.session, actor, now, bulletin_id, request.form.to_dict())
        return "已加入名单。"

    return _act(bulletin_id, action, "#lists")


@bp.post("/<id:bulletin_id>/entries/<id:entry_id>/remove")
@login_required
@csrf_required
def remove_entry(bulletin_id: int, entry_id: int):
    def action(actor, now) -> str:
        service.remove_entry(db.session, actor, now, bulletin_id, entry_id, request.form.get("reason"))
        return "已移出名单，理由已记录。"

    return _act(bulletin_id, action, "#lists")


@bp.post("/<id:bulletin_id>/entries/<id:entry_id>/restore")
@login_required
@csrf_required
def restore_entry(bulletin_id: int, entry_id: int):
    def action(actor, now) -> str:
        service.restore_entry(db.session, actor, now, bulletin_id, entry_id)
        return "已恢复到名单。"

    return _act(bulletin_id, action, "#lists")


@bp.get("/<id:bulletin_id>/publish")
@login_required
def confirm_publish(bulletin_id: int):
    """发布确认: what will be published, to whom notices go."""
    actor = _bureau()
    page = _page_of(actor, bulletin_id)
    enterprise_ids = sorted({r.enterprise_id for r in page["listed"]})
    return render_template(
        "oversight/bulletins/console_publish.html",
        **page,
        recipients=len(queries.recipients(db.session, enterprise_ids)),
        can_publish=actor.can(Action.PUBLISH_BULLETIN) and in_scope(actor, page["b"].town_id),
    )


@bp.post("/<id:bulletin_id>/publish")
@login_required
@csrf_required
def publish(bulletin_id: int):
    def action(actor, now) -> str:
        queued = service.publish(db.session, actor, now, bulletin_id)
        return f"通报已发布，已向涉及企业的 {queued} 名负责人和安全管理员发送通知。"

    return _act(bulletin_id, action)


@bp.post("/<id:bulletin_id>/correct")
@login_required
@csrf_required
def correct(bulletin_id: int):
    """起草更正通报: a copy to edit, which supersedes this one once published."""
    actor = _bureau()
    try:
        correction = service.draft_correction(db.session, actor, utcnow(), bulletin_id)
    except DomainError as exc:
        if exc.http_status in (403, 404):
            raise
        db.session.rollback()
        flash(exc.message)
        return redirect(url_for("bulletins_console.detail", bulletin_id=bulletin_id))
    db.session.commit()
    flash("更正通报草稿已建立：修改后发布，原通报将标为“已更正”。")
    return redirect(url_for("bulletins_console.detail", bulletin_id=correction.id))


@bp.get("/<id:bulletin_id>/print")
@login_required
def printable(bulletin_id: int):
    """The bulletin on A4 paper (a draft is marked 草稿)."""
    actor = _bureau()
    return render_template("oversight/bulletins/print.html", **_page_of(actor, bulletin_id))


@bp.get("/<id:bulletin_id>/export.xlsx")
@login_required
def export_xlsx(bulletin_id: int):
    """The bulletin's text and lists with reasons, as Excel."""
    actor = _bureau()
    page = _page_of(actor, bulletin_id)
    workbook = export.bulletin_workbook(page["b"], page["rows"], page["town_name"], utcnow(), actor.display_name)
    response = send_file(
        workbook.content,
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        as_attachment=True,
        download_name=workbook.filename,
        max_age=0,
    )
    response.headers["Cache-Control"] = "no-store"
    return response

