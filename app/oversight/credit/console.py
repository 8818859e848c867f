"""The credit list (失信名单) in the bureau's console: the active list with its filters and the
history of delisted records, the listing form (an enterprise found by name or credit code,
or named by the dossier's link) and the delisting form. Bureau users with the district view
see the list (staff: their towns); only the bureau admin lists and delists.

Also the `credit_status_of(subject)` template global behind the shared `credit_tag` macro
(templates/oversight/credit/_tag.html): an enterprise's list, from the enterprise itself or,
given only its id, from the active records (read once per request)."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    get_flashed_messages,
    redirect,
    render_template,
    request,
    url_for,
)

from app.accounts.console import current_actor, login_required
from app.accounts.domain import Actor
from app.clock import local_today, utcnow
from app.enterprises import service as enterprise_service
from app.enterprises.domain import CREDIT_LABELS, CreditStatus
from app.enterprises.queries import all_towns
from app.errors import DomainError, NotFound, PermissionDenied
from app.extensions import db
from app.ids import parse_id
from app.oversight.credit import queries, service
from app.oversight.credit.domain import (
    DEFAULT_TERM_YEARS,
    FLAG_HINTS,
    FLAGS,
    LIST_KIND_LABELS,
    LIST_KINDS,
    MANAGE_REFUSED,
    MAX_BASIS,
    MAX_DECISION_NO,
    MAX_REASON,
    TAG_LABELS,
    may_manage_any,
    may_view_list,
)
from app.web import csrf_required

bp = Blueprint("credit_console", __name__, url_prefix="/console/credit")

PER_PAGE = 50


@bp.app_template_global("credit_status_of")
def credit_status_of(subject: Any) -> str | None:
    """The list an enterprise is on ('watchlist' | 'serious_discredit'), None when on none.
    `subject` is an enterprise (its credit_status) or an enterprise id."""
    status = getattr(subject, "credit_status", None)
    if status is None and isinstance(subject, int) and not isinstance(subject, bool):
        if "credit_marks" not in g:
            g.credit_marks = queries.active_marks(db.session)
        status = g.credit_marks.get(subject)
    if status is None or status == CreditStatus.NORMAL:
        return None
    return CreditStatus(status).value


@bp.context_processor
def _labels() -> dict[str, Any]:
    return {
        "LIST_KINDS": LIST_KINDS,
        "LIST_KIND_LABELS": LIST_KIND_LABELS,
        "TAG_LABELS": TAG_LABELS,
        "FLAGS": FLAGS,
        "FLAG_HINTS": FLAG_HINTS,
        "CREDIT_LABELS": CREDIT_LABELS,
        "DEFAULT_TERM_YEARS": DEFAULT_TERM_YEARS,
        "MAX_REASON": MAX_REASON,
        "MAX_BASIS": MAX_BASIS,
        "MAX_DECISION_NO": MAX_DECISION_NO,
    }


def _bureau() -> Actor:
    """The console user, who must be a bureau user with the district view."""
    actor = current_actor()
    if not may_view_list(actor):
        abort(403)
    return actor


def _manager() -> Actor:
    """A bureau user who may list and delist (the bureau admin); staff are told whom to ask."""
    actor = _bureau()
    if not may_manage_any(actor):
        raise PermissionDenied(MANAGE_REFUSED)
    return actor


def _kind_arg(value: str | None) -> CreditStatus | None:
    try:
        kind = CreditStatus(value or "")
    except ValueError:
        return None
    return kind if kind in LIST_KINDS else None


@bp.get("")
@login_required
def index():
    """失信名单: the active listings (filters: list, town) and the delisted history."""
    actor = _bureau()
    kind = _kind_arg(request.args.get("kind"))
    town_id = parse_id(request.args.get("town_id")) if request.args.get("town_id") else None
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    hpage = max(request.args.get("hpage", 1, type=int) or 1, 1)
    active, active_total = queries.list_records(
        db.session, actor, queries.CreditFilter(active=True, list_kind=kind, town_id=town_id), page, PER_PAGE
    )
    past, past_total = queries.list_records(
        db.session, actor, queries.CreditFilter(active=False, list_kind=kind, town_id=town_id), hpage, PER_PAGE
    )
    scope = actor.enterprise_scope()
    towns = [t for t in all_towns(db.session) if scope.all or t.id in scope.town_ids]
    return render_template(
        "oversight/credit/console_list.html",
        active=active,
        active_total=active_total,
        past=past,
        past_total=past_total,
        page=page,
        pages=max((active_total + PER_PAGE - 1) // PER_PAGE, 1),
        hpage=hpage,
        hpages=max((past_total + PER_PAGE - 1) // PER_PAGE, 1),
        kind=kind,
        town_id=town_id,
        towns=towns,
        today=local_today(utcnow()),
        can_manage=may_manage_any(actor),
        messages=get_flashed_messages(),
    )


_FORM_FIELDS = ("enterprise_id", "list_kind", "reason", "basis", "decision_no", "listed_on", "review_on")


@bp.route("/new", methods=["GET", "POST"])
@login_required
@csrf_required
def new():
    """列入名单: find the enterprise (by name or credit code; the dossier's link names it),
    then the list, reason, basis, dates and the 四个一律 flags."""
    actor = _manager()
    now = utcnow()
    error = None
    status = 200
    fields: dict[str, str] = {}
    values: dict[str, Any] = {name: "" for name in _FORM_FIELDS}
    values["list_kind"] = CreditStatus.WATCHLIST.value
    values["flags"] = set()
    q = (request.values.get("q") or "").strip()
    if request.method == "POST":
        form = request.form
        values = {name: form.get(name, "") for name in _FORM_FIELDS}
        values["flags"] = {name for name, _ in FLAGS if form.get(name)}
        data = {**values, **{name: name in values["flags"] for name, _ in FLAGS}}
        try:
            record = service.list_enterprise(db.session, actor, now, data)
        except DomainError as exc:
            if exc.http_status == 403:
                raise
            db.session.rollback()
            error = exc.message
            status = exc.http_status
            fields = dict(getattr(exc, "fields", {}) or {})
        else:
            db.session.commit()
            row = queries.record_row(db.session, record.id)
            flash(f"已将{row.enterprise_name}列入{row.list_label}，复核（到期）日期 {row.review_on.isoformat()}；"
                  "已通知该企业的主要负责人和企业管理员。")
            return redirect(url_for("credit_console.index"))
    else:
        chosen = parse_id(request.args.get("enterprise_id")) if request.args.get("enterprise_id") else None
        if chosen is not None:
            values["enterprise_id"] = str(chosen)
    enterprise = None
    if values.get("enterprise_id"):
        enterprise_id = parse_id(str(values["enterprise_id"]))
        try:
            enterprise = _enterprise_of(actor, enterprise_id)
        except NotFound:
            enterprise = None
            values["enterprise_id"] = ""
            error = error or "所选企业不存在或不在您的辖区，请重新查找。"
    candidates = queries.search_enterprises(db.session, actor, q) if q and enterprise is None else []
    current = queries.active_record(db.session, enterprise.id) if enterprise is not None else None
    return render_template(
        "oversight/credit/console_new.html",
        values=values,
        q=q,
        candidates=candidates,
        enterprise=enterprise,
        current=current,
        error=error,
        fields=fields,
        today=local_today(now),
    ), status


def _enterprise_of(actor: Actor, enterprise_id: int | None):
    if enterprise_id is None:
        raise NotFound("企业不存在或您无权查看。")
    return enterprise_service.get_enterprise(db.session, actor, enterprise_id)


@bp.route("/<id:credit_record_id>/delist", methods=["GET", "POST"])
@login_required
@csrf_required
def delist(credit_record_id: int):
    """移出名单: the record, and the reason (required)."""
    actor = _bureau()
    record = queries.get_record(db.session, actor, credit_record_id)
    error = None
    status = 200
    reason = ""
    if request.method == "POST":
        _manager()
        reason = request.form.get("delist_reason", "")
        try:
            service.delist(db.session, actor, utcnow(), record.id, {"delist_reason": reason})
        except DomainError as exc:
            if exc.http_status in (403, 404):
                raise
            db.session.rollback()
            error = exc.message
            status = exc.http_status
        else:
            db.session.commit()
            row = queries.record_row(db.session, credit_record_id)
            flash(f"已将{row.enterprise_name}移出{row.list_label}，理由已记录；已通知该企业的主要负责人和企业管理员。")
            return redirect(url_for("credit_console.index"))
    row = queries.record_row(db.session, credit_record_id)
    return render_template(
        "oversight/credit/console_delist.html",
        r=row,
        reason=reason,
        error=error,
        can_manage=may_manage_any(actor),
        today=local_today(utcnow()),
    ), status
