"""H5 pages of hazards (inside WeChat, `/h5`): 随手拍 (`/h5/report`), my hazards
(`/h5/hazards`) and one hazard with the actions its viewer may take now.

Views stay thin: they read a form into the plain data a use case takes (schemas.py,
uploads.py), call it with (session, actor, now), commit, and redirect (post/redirect/get).
A DomainError rolls the whole request back and the page is shown again with the Chinese
message, so a refused action never leaves half of itself stored (a photo without its
submission, a hazard without its photos).

The hazard page and its action flow serve the console too (console.py): one flow, two looks.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.security import safe_join

from app.accounts.domain import Actor
from app.accounts.h5_login import current_h5_actor, current_h5_user, h5_login_required
from app.clock import utcnow
from app.enterprises.models import Enterprise, Site
from app.errors import (
    DomainError,
    NotFound,
    ValidationFailed,
    h5_domain_error,
    h5_notice,
    h5_too_large,
    readable_message,
    wants_json,
)
from app.extensions import db
from app.hazard_reporting.hazards import queries, schemas, service
from app.hazard_reporting.hazards.domain import (
    ACTION_LABELS,
    CATEGORY_LABELS,
    LEVEL_LABELS,
    SOURCE_LABELS,
    STATUS_LABELS,
    HazardAction,
    HazardLevel,
    HazardStatus,
)
from app.hazard_reporting.hazards.models import HazardPhoto
from app.hazard_reporting.hazards.photos import MAX_BYTES
from app.hazard_reporting.hazards.schemas import FIELD_LABELS
from app.hazard_reporting.uploads import (
    MAX_PHOTOS_PER_FORM,
    ReportClaim,
    StagedPhotos,
    form_photos,
    media_page_key,
)
from app.web import csrf_required

h5_bp = Blueprint("hazards_h5", __name__, url_prefix="/h5")

H5_TABS = {"todo": "待我处理", "assigned": "我的整改", "mine": "我上报的"}

# What a page says after an action, by the outcome service.act names (and "report").
DONE_MESSAGES = {
    "report": "隐患已上报，安全管理人员会尽快处理。",
    "assign": "已指派整改责任人。",
    "start_rectification": "已开始整改。",
    "submit_rectification": "整改结果已提交，等待复查验收。",
    "verify_passed": "复查通过，隐患已销号。",
    "verify_failed": "复查不通过，已退回重新整改。",
    "accept_passed": "验收通过，重大隐患已销号。",
    "accept_failed": "验收不通过，已退回重新整改。",
    "reject": "已驳回，认定不属于隐患。",
    "upgrade_to_major": "已升级为重大隐患，请按重大隐患流程评估认定。",
    "assess": "评估认定已完成。",
    "register": "已登记建档并上报监管部门。",
    "save_plan": "治理方案已保存。",
    "approve_plan": "治理方案已通过立项审核。",
    "supervise": "已挂牌督办。",
    "request_extension": "延期申请已提交，等待审批。",
    "extension_approved": "已同意延期，整改期限已更新。",
    "extension_refused": "已不同意延期。",
    "add_before_photo": "照片已上传。",
}

# What a refusal is titled on the hazard pages ("操作未完成" otherwise).
_H5_TITLES = {404: "内容不存在", 403: "没有权限", 409: "请稍候"}


# ---------------------------------------------------------------------------------------
# Shared with the console: labels, one hazard's page, its actions and photos
# ---------------------------------------------------------------------------------------


def page_labels(ui: str, photo_endpoint: str) -> dict[str, Any]:
    """What every hazard template may use, for the `ui` ("h5" or "console") it renders in."""
    return {
        "STATUS_LABELS": STATUS_LABELS,
        "LEVEL_LABELS": LEVEL_LABELS,
        "CATEGORY_LABELS": CATEGORY_LABELS,
        "SOURCE_LABELS": SOURCE_LABELS,
        "ACTION_LABELS": ACTION_LABELS,
        "DONE_MESSAGES": DONE_MESSAGES,
        "HazardAction": HazardAction,
        "HazardLevel": HazardLevel,
        "HazardStatus": HazardStatus,
        "MAX_PHOTOS": MAX_PHOTOS_PER_FORM,
        "MAX_PHOTO_MB": MAX_BYTES // (1024 * 1024),
        "ui": ui,
        "photo_endpoint": photo_endpoint,
    }


def hazard_page(actor: Actor, hazard_id: int, template: str):
    """One hazard with the message of the action just taken (`?done=`)."""
    context = queries.detail_context(db.session, actor, hazard_id, utcnow())
    done = request.args.get("done", "")
    return render_template(
        template,
        **context,
        done=DONE_MESSAGES.get(done),
        done_key=done,
        error=None,
        failed=None,
        form={},
        staged=[],
        user_id=actor.user_id,
    )


def take_action(
    actor: Actor, hazard_id: int, slug: str, stage: StagedPhotos | None, endpoint: str, template: str
):
    """Run one action form; on success redirect to the hazard page with its message, on a
    refusal show the page again (fresh state) with the message and the form as filled."""
    session = db.session
    action = schemas.form_action(slug)
    form, files = request.form, request.files
    now = utcnow()
    hazard = queries.get_hazard(session, actor, hazard_id)
    used: list[str] = []
    try:
        data = schemas.action_data(action, form, hazard.plan)
        if action in schemas.PHOTO_FORMS:
            data["photos"], used = form_photos(form, files, stage)
        media_root = current_app.config["SETTINGS"].MEDIA_ROOT
        done = service.act(session, actor, now, hazard_id, action, data, media_root=media_root)
        session.commit()
    except NotFound:
        session.rollback()
        raise
    except DomainError as exc:
        session.rollback()
        context = queries.detail_context(session, actor, hazard_id, now)
        return (
            render_template(
                template,
                **context,
                done=None,
                done_key="",
                error=readable_message(exc, FIELD_LABELS),
                failed=action,
                form=form,
                staged=stage.alive(form.getlist("staged")) if stage else [],
                user_id=actor.user_id,
            ),
            exc.http_status,
        )
    if stage is not None:
        stage.discard(used)
    return redirect(url_for(endpoint, hazard_id=hazard_id, done=done), code=303)


def photo_file(photo: HazardPhoto, size: str) -> Response:
    """A hazard photo's file (original or thumbnail) for a viewer who may see it; never a
    public static path. Raises NotFound when the file is gone."""
    relative = photo.thumb_path if size == "thumb" else photo.path
    path = safe_join(current_app.config["SETTINGS"].MEDIA_ROOT, relative)
    if path is None or not Path(path).is_file():
        raise NotFound("照片文件已丢失，请联系管理员。")
    response = send_file(path, mimetype="image/jpeg", conditional=True, max_age=86400)
    # Content-addressed files never change; only the viewer's own browser may keep them.
    response.cache_control.public = False
    response.cache_control.private = True
    return response


# ---------------------------------------------------------------------------------------
# H5: context and errors
# ---------------------------------------------------------------------------------------


@h5_bp.context_processor
def _h5_context() -> dict[str, Any]:
    return page_labels("h5", "hazards_h5.hazard_photo")


@h5_bp.errorhandler(DomainError)
def _h5_domain_error(exc: DomainError):
    return h5_domain_error(exc, _H5_TITLES, FIELD_LABELS)


@h5_bp.errorhandler(RequestEntityTooLarge)
def _h5_too_large(_exc: RequestEntityTooLarge):
    return h5_too_large(MAX_BYTES, url_for("hazards_h5.report"))


def _h5_actor() -> Actor:
    actor = current_h5_actor()
    if actor is None:  # h5_login_required ran first
        abort(401)
    return actor


# ---------------------------------------------------------------------------------------
# H5: 随手拍
# ---------------------------------------------------------------------------------------


def _report_page(
    enterprises: list[Enterprise],
    sites: list[Site],
    *,
    values: dict[str, Any],
    staged: list[str],
    key: str,
    error: str | None = None,
    notice: str | None = None,
    status: int = 200,
):
    user = current_h5_user()
    return (
        render_template(
            "hazards/h5_report.html",
            enterprises=enterprises,
            sites=sites,
            values=values,
            staged=staged,
            key=key,
            error=error,
            notice=notice,
            user_id=user.id if user else 0,
            categories=CATEGORY_LABELS,
        ),
        status,
    )


@h5_bp.get("/report")
@h5_login_required
def report():
    """随手拍 form. From a chat photo (`?media_id=`) the photo is fetched now and attached,
    and the page key derives from the media id: the link reports once, and opened again
    after its report it shows that hazard."""
    actor = _h5_actor()
    enterprises, sites = queries.reportable(db.session, actor)
    if not enterprises:
        return h5_notice(
            403,
            "暂不能上报隐患",
            ["您还不是任何企业的成员，不能上报隐患。", "请联系本单位企业管理员邀请您加入。"],
        )
    staged: list[str] = []
    notice = None
    media_id = request.args.get("media_id", "").strip()
    key = secrets.token_urlsafe(18)
    if media_id:
        key = media_page_key(media_id)
        earlier = queries.reported_with_key(db.session, actor, key)
        if earlier is not None:
            return _already_reported(earlier.id)
        try:
            staged.append(StagedPhotos.for_hazards(actor.user_id).put_media(media_id))
        except ValidationFailed as exc:
            notice = readable_message(exc, FIELD_LABELS)
    values = dict(schemas.REPORT_DEFAULTS)
    return _report_page(enterprises, sites, values=values, staged=staged, key=key, notice=notice)


@h5_bp.post("/report/photos")
@h5_login_required
@csrf_required
def stage_photo():
    """Stage one photo for a form: a posted file (`photo`) or WeChat media (`media_id`, the
    serverId of wx.uploadImage). Answers {token, thumb_url}; 422 with a Chinese message."""
    actor = _h5_actor()
    token = StagedPhotos.for_hazards(actor.user_id).put_posted(request.form, request.files, "请选择照片")
    return jsonify({"token": token, "thumb_url": url_for("hazards_h5.staged_thumb", token=token)}), 201


@h5_bp.get("/report/photos/<token>.jpg")
@h5_login_required
def staged_thumb(token: str):
    """The preview of a photo this user staged (nobody else's)."""
    return StagedPhotos.for_hazards(_h5_actor().user_id).thumb_response(token)


@h5_bp.post("/report")
@h5_login_required
@csrf_required
def submit_report():
    """Create the hazard with its photos in one transaction; the page's idempotency key
    makes a repeated submission show the hazard the first one created ("该隐患已上报"): the
    Redis claim answers a double tap at once, hazards.report_key (unique) holds the key for
    good, so a late repeat or a race between two requests still reports once."""
    actor = _h5_actor()
    session = db.session
    form, files = request.form, request.files  # parsing here raises 413 before anything else
    stage = StagedPhotos.for_hazards(actor.user_id)
    enterprises, sites = queries.reportable(session, actor)
    key = form.get("idempotency_key", "")
    claim = ReportClaim.of(actor.user_id, key)
    existing = claim.claim()
    if existing is not None:
        return _already_reported(existing)
    earlier = queries.reported_with_key(session, actor, key)
    if earlier is not None:
        claim.done(earlier.id)
        return _already_reported(earlier.id)
    now = utcnow()
    try:
        data = schemas.report_data(form, enterprises, sites)
        photos, used = form_photos(form, files, stage)
        media_root = current_app.config["SETTINGS"].MEDIA_ROOT
        hazard = service.report_with_photos(
            session, actor, now, data, photos, media_root, report_key=queries.report_key(actor.user_id, key)
        )
        session.commit()
    except IntegrityError:
        # Another request stored this key first (the Redis claim had lapsed or was lost).
        session.rollback()
        earlier = queries.reported_with_key(session, actor, key)
        if earlier is None:
            claim.release()
            raise
        claim.done(earlier.id)
        return _already_reported(earlier.id)
    except DomainError as exc:
        session.rollback()
        claim.release()
        if wants_json():
            return jsonify({**exc.to_dict(), "message": readable_message(exc, FIELD_LABELS)}), exc.http_status
        return _report_page(
            enterprises,
            sites,
            values=schemas.report_values(form),
            staged=stage.alive(form.getlist("staged")),
            key=key,
            error=readable_message(exc, FIELD_LABELS),
            status=exc.http_status,
        )
    except BaseException:
        session.rollback()
        claim.release()
        raise
    claim.done(hazard.id)
    stage.discard(used)
    return _report_done(hazard.id)


def _report_done(hazard_id: int):
    url = url_for("hazards_h5.hazard_detail", hazard_id=hazard_id, done="report")
    if wants_json():
        return jsonify({"hazard_id": hazard_id, "url": url})
    return redirect(url, code=303)


def _already_reported(hazard_id: int):
    """A repeat of a 随手拍 page already stored: the hazard it created, nothing new."""
    url = url_for("hazards_h5.hazard_detail", hazard_id=hazard_id)
    if wants_json():
        return jsonify({"hazard_id": hazard_id, "url": url, "already_reported": True})
    return h5_notice(
        200,
        "该隐患已上报",
        ["这张照片（这个上报页面）已经提交过，不会重复上报。", f"隐患编号 {hazard_id}，可点下方按钮查看处理进度。"],
        icon="success",
        link=(url, "查看该隐患"),
    )


# ---------------------------------------------------------------------------------------
# H5: my hazards and one hazard
# ---------------------------------------------------------------------------------------


@h5_bp.get("/hazards")
@h5_login_required
def hazard_list():
    """我的隐患: waiting for me / assigned to me / reported by me."""
    actor = _h5_actor()
    session = db.session
    now = utcnow()
    mine = queries.my_hazards(session, actor, now)
    tab = request.args.get("tab", "")
    if tab not in H5_TABS:
        tab = mine.default_tab
    return render_template(
        "hazards/h5_list.html",
        tab=tab,
        tabs=H5_TABS,
        counts=mine.counts,
        rows=queries.list_rows(session, mine.lists[tab], now),
        many_enterprises=len(actor.roles) > 1 or actor.is_bureau,
        # Every member may report (随手拍); bureau staff without a membership may not.
        can_report=bool(actor.roles),
    )


@h5_bp.get("/hazards/<id:hazard_id>")
@h5_login_required
def hazard_detail(hazard_id: int):
    return hazard_page(_h5_actor(), hazard_id, "hazards/h5_detail.html")


@h5_bp.post("/hazards/<id:hazard_id>/actions/<slug>")
@h5_login_required
@csrf_required
def hazard_action(hazard_id: int, slug: str):
    """Take one action on the hazard from its H5 page."""
    actor = _h5_actor()
    endpoint, template = "hazards_h5.hazard_detail", "hazards/h5_detail.html"
    return take_action(actor, hazard_id, slug, StagedPhotos.for_hazards(actor.user_id), endpoint, template)


@h5_bp.get("/hazards/<id:hazard_id>/photos/<id:photo_id>")
@h5_login_required
def hazard_photo(hazard_id: int, photo_id: int):
    photo = queries.hazard_photo(db.session, _h5_actor(), hazard_id, photo_id)
    return photo_file(photo, request.args.get("size", ""))
