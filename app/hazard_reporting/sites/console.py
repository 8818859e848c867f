"""排查点位 in the console: an enterprise's QR points — add, edit, retire, reactivate, the
four-colour risk level, and the downloads (QR image, A4 poster, A4 PDF of every site in use).

Everyone who may see the enterprise reads the page and downloads; changes need
MANAGE_STRUCTURE. Downloads are drawn on request (app.enterprises.posters) with the site's
permanent WeChat QR, obtained once and stored as the `qr posters` command does."""

from __future__ import annotations

import io
import logging
from typing import Any
from urllib.parse import quote

import requests
from flask import (
    Blueprint,
    current_app,
    flash,
    get_flashed_messages,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from wechatpy.exceptions import WeChatClientException

from app.accounts.console import current_actor, login_required
from app.accounts.domain import Action
from app.clock import utcnow
from app.enterprises import service as enterprise_service
from app.enterprises.domain import site_entry_url
from app.enterprises.models import Enterprise, Site
from app.enterprises.posters import FontNotFound, find_cjk_font, poster_png, posters_pdf, site_qr_png
from app.enterprises.site_codes import SiteCodes, plan_site_codes
from app.enterprises.sites import service as site_service
from app.enterprises.sites.domain import SITE_AREA_MAX, SITE_NAME_MAX, SITE_STATUS_LABELS
from app.enterprises.sites.queries import departments_of
from app.errors import DomainError, NotFound, ValidationFailed, readable_message
from app.extensions import db
from app.hazard_reporting.schedules.domain import RISK_LEVEL_LABELS, RiskLevel
from app.hazard_reporting.sites import queries, service
from app.web import csrf_required
from app.wechat.client import get_wechat_client

log = logging.getLogger(__name__)

bp = Blueprint("sites_console", __name__, url_prefix="/console/enterprises/<id:enterprise_id>/sites")

# Ids in URLs are PostgreSQL integers: anything larger is no such page (404), never a 500.
SITE_ID = "<id:site_id>"

FIELD_LABELS = {"name": "点位名称", "area": "区域", "department_id": "所属部门", "risk_level": "风险等级"}


@bp.app_context_processor
def _site_helpers() -> dict[str, Any]:
    """`site_overview(enterprise)` for the enterprise file's 排查点位 section, and the tags."""

    def site_overview(enterprise: Enterprise) -> list[queries.SiteRow]:
        return queries.site_rows(db.session, enterprise.id)

    return {"site_overview": site_overview, "RISK_TAGS": queries.RISK_TAGS, "SITE_STATUS_LABELS": SITE_STATUS_LABELS}


def _enterprise(enterprise_id: int) -> Enterprise:
    return enterprise_service.get_enterprise(db.session, current_actor(), enterprise_id)


def _site(enterprise_id: int, site_id: int) -> Site:
    """The site, if the actor may see it and it belongs to the enterprise of the URL."""
    site = site_service.get_site(db.session, current_actor(), site_id)
    if site.enterprise_id != enterprise_id:
        raise NotFound(site_service.SITE_NOT_VISIBLE)
    return site


def _form() -> dict[str, Any]:
    department = request.form.get("department_id", "").strip()
    return {
        "name": request.form.get("name", ""),
        "area": request.form.get("area", ""),
        "department_id": department or None,
    }


def _page(enterprise_id: int, *, values=None, editing: Site | None = None, error: str | None = None, status=200):
    actor = current_actor()
    enterprise = _enterprise(enterprise_id)
    rows = queries.site_rows(db.session, enterprise.id)
    return (
        render_template(
            "sites/console_sites.html",
            e=enterprise,
            rows=rows,
            active_count=sum(1 for r in rows if r.site.active),
            departments=departments_of(db.session, enterprise.id),
            can_edit=actor.can(Action.MANAGE_STRUCTURE, enterprise.ref),
            values=values or {},
            editing=editing,
            error=error,
            messages=get_flashed_messages(),
            RiskLevel=RiskLevel,
            RISK_LEVEL_LABELS=RISK_LEVEL_LABELS,
            NAME_MAX=SITE_NAME_MAX,
            AREA_MAX=SITE_AREA_MAX,
        ),
        status,
    )


def _back(enterprise_id: int):
    return redirect(url_for("sites_console.sites", enterprise_id=enterprise_id))


@bp.get("/")
@login_required
def sites(enterprise_id: int):
    """排查点位: the sites with level, status and downloads; the add form."""
    return _page(enterprise_id)


@bp.post("/")
@login_required
@csrf_required
def add_site(enterprise_id: int):
    values = _form()
    try:
        site = service.add_site(db.session, current_actor(), utcnow(), enterprise_id, values)
    except ValidationFailed as exc:
        db.session.rollback()
        return _page(enterprise_id, values=values, error=readable_message(exc, FIELD_LABELS), status=422)
    db.session.commit()
    flash(f"已添加点位「{site.name}」，可下载二维码或海报张贴到现场。")
    return _back(enterprise_id)


@bp.get(f"/{SITE_ID}/edit")
@login_required
def edit_site(enterprise_id: int, site_id: int):
    site = _site(enterprise_id, site_id)
    values = {"name": site.name, "area": site.area, "department_id": site.department_id}
    return _page(enterprise_id, values=values, editing=site)


@bp.post(f"/{SITE_ID}/edit")
@login_required
@csrf_required
def update_site(enterprise_id: int, site_id: int):
    site = _site(enterprise_id, site_id)
    values = _form()
    try:
        service.edit_site(db.session, current_actor(), utcnow(), site.id, values)
    except ValidationFailed as exc:
        db.session.rollback()
        editing = _site(enterprise_id, site_id)
        return _page(enterprise_id, values=values, editing=editing, error=readable_message(exc, FIELD_LABELS), status=422)
    db.session.commit()
    flash(f"已保存点位「{site.name}」。")
    return _back(enterprise_id)


@bp.get(f"/{SITE_ID}/retire")
@login_required
def confirm_retire(enterprise_id: int, site_id: int):
    """The confirmation page of retiring a site (what it means, then the button)."""
    site = _site(enterprise_id, site_id)
    site_service.site_to_manage(db.session, current_actor(), site.id)
    return render_template("sites/console_retire.html", e=site.enterprise, site=site)


def _transition(enterprise_id: int, site_id: int, verb, done: str):
    site = _site(enterprise_id, site_id)
    try:
        verb(db.session, current_actor(), utcnow(), site.id)
    except DomainError as exc:
        if exc.http_status in (403, 404):
            raise
        db.session.rollback()
        flash(readable_message(exc, FIELD_LABELS))
        return _back(enterprise_id)
    db.session.commit()
    flash(done.format(name=site.name))
    return _back(enterprise_id)


@bp.post(f"/{SITE_ID}/retire")
@login_required
@csrf_required
def retire_site(enterprise_id: int, site_id: int):
    return _transition(
        enterprise_id, site_id, service.retire_site, "点位「{name}」已停用：扫描其二维码会提示已停用，风险点巡查随之停止。"
    )


@bp.post(f"/{SITE_ID}/reactivate")
@login_required
@csrf_required
def reactivate_site(enterprise_id: int, site_id: int):
    return _transition(enterprise_id, site_id, service.reactivate_site, "点位「{name}」已重新启用，原二维码和海报继续有效。")


@bp.post(f"/{SITE_ID}/risk")
@login_required
@csrf_required
def set_risk(enterprise_id: int, site_id: int):
    site = _site(enterprise_id, site_id)
    data = {
        "risk_level": request.form.get("risk_level", ""),
        "is_major_risk_point": request.form.get("is_major_risk_point") == "1",
    }
    try:
        service.set_risk_level(db.session, current_actor(), utcnow(), site.id, data)
    except ValidationFailed as exc:
        db.session.rollback()
        return _page(enterprise_id, error=f"点位「{site.name}」：{readable_message(exc, FIELD_LABELS)}", status=422)
    db.session.commit()
    flash(f"已保存点位「{site.name}」的风险等级，风险点巡查计划已随之调整。")
    return _back(enterprise_id)


# --- downloads ---------------------------------------------------------------------------


class SiteRetired(DomainError):
    http_status = 409
    code = "site_retired"


def _codes(sites: list[Site]) -> list[SiteCodes]:
    """Each site's codes as the `qr posters` command decides them: the stored WeChat QR, or a
    new one obtained now (committed at once: it used up quota). If WeChat cannot be reached
    the posters carry the stored codes, and the plain-URL QR for sites without one."""
    base_url = current_app.config["SETTINGS"].PUBLIC_BASE_URL
    try:
        plan = plan_site_codes(
            db.session,
            sites,
            base_url=base_url,
            now=utcnow(),
            client=get_wechat_client(),
            on_created=lambda _site: db.session.commit(),
        )
    except (WeChatClientException, requests.RequestException) as exc:
        db.session.rollback()
        log.warning("site QR: WeChat unavailable, printing stored or plain-URL codes: %s", exc)
        return [SiteCodes(site, site_entry_url(base_url, site.token), site.wx_qr_url) for site in sites]
    if plan.notice:
        log.warning("site QR: %s", plan.notice)
    db.session.commit()
    return plan.codes


def _active_site(enterprise_id: int, site_id: int) -> Site:
    site = _site(enterprise_id, site_id)
    if not site.active:
        raise SiteRetired(f"点位「{site.name}」已停用，不能下载其二维码或海报；如需使用请先重新启用。")
    return site


def _font():
    try:
        return find_cjk_font()
    except FontNotFound as exc:
        raise DomainError(str(exc), http_status=503) from None


def _download(data: bytes, mimetype: str, filename: str, ascii_name: str):
    """An attachment named in Chinese (RFC 5987 `filename*`) with an ASCII `filename` for old
    clients, never cached (a retired or renamed site must not linger in a cache)."""
    response = send_file(io.BytesIO(data), mimetype=mimetype, as_attachment=True, download_name=ascii_name)
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get(f"/{SITE_ID}/qr.png")
@login_required
def site_qr(enterprise_id: int, site_id: int):
    """The site's QR alone: its WeChat QR (or the plain-URL QR when it has none)."""
    site = _active_site(enterprise_id, site_id)
    (codes,) = _codes([site])
    return _download(site_qr_png(codes.wechat_url or codes.entry_url), "image/png", f"{site.name}-二维码.png", f"site-{site.id}-qr.png")


# The poster's colour band: fill and text colour of each level (as the console's tags).
POSTER_RISK_COLOURS = {
    RiskLevel.RED: ("#d9001b", "#ffffff"),
    RiskLevel.ORANGE: ("#f27100", "#ffffff"),
    RiskLevel.YELLOW: ("#f5c400", "#3a2e00"),
    RiskLevel.BLUE: ("#1466c8", "#ffffff"),
}


def _poster_risk(site: Site) -> tuple[str, str, str] | None:
    """The site's level as printed on its poster (none while it has no level)."""
    profile = queries.profile_of(db.session, site.id)
    if profile is None:
        return None
    level = RiskLevel(profile.risk_level)
    return (f"风险等级：{RISK_LEVEL_LABELS[level]}", *POSTER_RISK_COLOURS[level])


@bp.get(f"/{SITE_ID}/poster.png")
@login_required
def site_poster(enterprise_id: int, site_id: int):
    """The site's A4 poster (PNG, 300 dpi)."""
    site = _active_site(enterprise_id, site_id)
    font = _font()
    (codes,) = _codes([site])
    return _download(poster_png(site.enterprise, codes, font=font, risk=_poster_risk(site)), "image/png", f"{site.name}-海报-A4.png", f"site-{site.id}-poster-A4.png")


@bp.get("/posters.pdf")
@login_required
def posters(enterprise_id: int):
    """The A4 PDF of every site in use, one page each."""
    enterprise = _enterprise(enterprise_id)
    rows = queries.site_rows(db.session, enterprise.id, active_only=True)
    if not rows:
        raise SiteRetired("本企业还没有在用的排查点位，请先添加点位。")
    font = _font()
    codes = _codes([row.site for row in rows])
    enterprise = _enterprise(enterprise_id)  # reloaded: a code commit expires loaded rows
    return _download(posters_pdf(enterprise, codes, font=font, risk_for=_poster_risk), "application/pdf", f"{enterprise.name}-排查点位海报-A4.pdf", f"enterprise-{enterprise.id}-posters-A4.pdf")
