"""Safety tips in the bureau's console: the library, broadcasts, counts, reminders."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, abort, flash, get_flashed_messages, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from app.accounts.console import current_actor, login_required
from app.accounts.domain import ROLE_LABELS, Action, Role, require
from app.clock import to_local, utcnow
from app.enterprises.domain import INDUSTRY_LABELS, TOPIC_LABELS, Industry, Topic
from app.errors import DomainError, ValidationFailed
from app.extensions import db
from app.ids import parse_id
from app.tips import queries, service
from app.tips.domain import (
    BROADCAST_ACTION_LABELS,
    BROADCAST_STATUS_LABELS,
    DELIVERY_LABELS,
    DELIVERY_RULE,
    MASS_STATUS_LABELS,
    RECIPIENT_STATE_LABELS,
    TIP_KIND_LABELS,
    Audience,
    BroadcastStatus,
    Delivery,
    MassStatus,
    RecipientState,
    TipKind,
    article_blocks,
    default_requires_ack,
    delivery_for,
)
from app.web import csrf_required

console_bp = Blueprint("tips_console", __name__, url_prefix="/console/tips")

FORM_TIME = "%Y-%m-%dT%H:%M"  # <input type="datetime-local">, Asia/Shanghai wall time


@console_bp.context_processor
def _labels() -> dict[str, Any]:
    return {
        "STATUS_LABELS": BROADCAST_STATUS_LABELS,
        "ACTION_LABELS": BROADCAST_ACTION_LABELS,
        "TIP_KIND_LABELS": TIP_KIND_LABELS,
        "BroadcastStatus": BroadcastStatus,
        "DELIVERY_LABELS": DELIVERY_LABELS,
        "DELIVERY_RULE": DELIVERY_RULE,
        "MASS_STATUS_LABELS": MASS_STATUS_LABELS,
        "MassStatus": MassStatus,
        "Delivery": Delivery,
        "delivery_for": delivery_for,
        "RECIPIENT_STATE_LABELS": RECIPIENT_STATE_LABELS,
        "industry_choices": [(i.value, INDUSTRY_LABELS[i]) for i in Industry],
        "topic_choices": [(t.value, TOPIC_LABELS[t]) for t in Topic],
        "role_choices": [(r.value, ROLE_LABELS[r]) for r in Role],
    }


def _require_broadcaster():
    actor = current_actor()
    require(actor, Action.BROADCAST_TIP)
    return actor


def _audience_form(form: MultiDict[str, str]) -> dict[str, Any]:
    return {
        "towns": form.getlist("towns"),
        "industries": form.getlist("industries"),
        "topics": form.getlist("topics"),
        "roles": form.getlist("roles"),
        "send_at": form.get("send_at", ""),
        # The forms send a hidden "0" before the checkbox's "1": absent means "not said"
        # (the service's default rule applies).
        "requires_ack": ("1" in form.getlist("requires_ack")) if "requires_ack" in form else None,
    }


def _form_values(audience: Audience, send_at, requires_ack: bool = False) -> dict[str, Any]:
    """Pre-filled form fields for an audience and a send time."""
    return {
        "requires_ack": requires_ack,
        "towns": {str(t) for t in audience.town_ids},
        "industries": {i.value for i in audience.industries},
        "topics": {t.value for t in audience.topics},
        "roles": {r.value for r in audience.roles},
        "send_at": to_local(send_at).strftime(FORM_TIME),
    }


def _soon(now) -> Any:
    """A default send time: the next quarter hour at least ten minutes ahead."""
    local = to_local(now + timedelta(minutes=10))
    return (local + timedelta(minutes=(15 - local.minute % 15) % 15)).replace(second=0, microsecond=0)


@console_bp.get("/")
@login_required
def broadcasts():
    """安全提示推送: drafts to review, scheduled, released with their counts."""
    _require_broadcaster()
    lists = queries.list_broadcasts(db.session)
    counts = queries.broadcast_counts(db.session, [b.id for b in lists.released])
    return render_template(
        "tips/console_list.html",
        lists=lists,
        counts=counts,
        town_names=queries.town_names(db.session),
        audience_of=Audience.from_json,
        library_size=len(queries.library(db.session)),
        messages=get_flashed_messages(),
    )


@console_bp.get("/library")
@login_required
def library():
    """安全提示库: every library tip with its months and default audience."""
    _require_broadcaster()
    return render_template(
        "tips/console_library.html",
        tips=queries.library(db.session),
        audience_of=Audience.from_json,
    )


@console_bp.get("/library/<id:tip_id>")
@login_required
def library_tip(tip_id: int):
    """A tip's article as members will see it."""
    _require_broadcaster()
    tip = queries.tip(db.session, tip_id)
    if tip is None:
        abort(404)
    return render_template(
        "tips/console_tip.html",
        tip=tip,
        blocks=article_blocks(tip.body),
        audience=Audience.from_json(tip.audience),
    )


@console_bp.route("/new", methods=["GET", "POST"])
@login_required
@csrf_required
def new_broadcast():
    """新建推送: a library tip or a new one, an audience, a time."""
    actor = _require_broadcaster()
    now = utcnow()
    error = None
    if request.method == "POST":
        form = request.form
        data = {
            **_audience_form(form),
            "tip_id": form.get("tip_id") or None,
            "title": form.get("title") or None,
            "summary": form.get("summary") or None,
            "body": form.get("body") or None,
        }
        try:
            broadcast = service.create_broadcast(db.session, actor, now, data)
        except DomainError as exc:
            db.session.rollback()
            error = exc.message
            values = {
                "towns": set(form.getlist("towns")),
                "industries": set(form.getlist("industries")),
                "topics": set(form.getlist("topics")),
                "roles": set(form.getlist("roles")),
                "send_at": form.get("send_at", ""),
                "requires_ack": "1" in form.getlist("requires_ack"),
                "tip_id": form.get("tip_id", ""),
                "title": form.get("title", ""),
                "summary": form.get("summary", ""),
                "body": form.get("body", ""),
            }
        else:
            db.session.commit()
            flash("推送已排期，将在发送时间自动发出。")
            return redirect(url_for("tips_console.broadcast_detail", broadcast_id=broadcast.id))
    else:
        chosen = queries.tip(db.session, request.args.get("tip", type=int))
        if chosen is not None and (chosen.kind is TipKind.CUSTOM or not chosen.active):
            chosen = None  # only the library can be picked
        audience = Audience.from_json(chosen.audience) if chosen is not None else Audience()
        requires_ack = default_requires_ack(chosen.kind, audience) if chosen is not None else False
        values = {**_form_values(audience, _soon(now), requires_ack), "tip_id": str(chosen.id) if chosen else ""}
    return render_template(
        "tips/console_new.html",
        library=queries.library(db.session),
        towns=queries.all_towns(db.session),
        values=values,
        error=error,
        quota_towns=queries.quota_by_town(db.session, now),
        quota_month=to_local(now).strftime("%Y年%m月"),
    ), (422 if error else 200)


@console_bp.get("/broadcasts/<id:broadcast_id>")
@login_required
def broadcast_detail(broadcast_id: int):
    """One broadcast: the article, audience, counts, history and the actions it allows."""
    actor = _require_broadcaster()
    broadcast = service.get_broadcast(db.session, actor, broadcast_id)
    audience = Audience.from_json(broadcast.audience)
    now = utcnow()
    pending = broadcast.status in (BroadcastStatus.DRAFT, BroadcastStatus.SCHEDULED)
    # A suggestion that has passed while the draft waited is replaced by "soon".
    send_at = broadcast.send_at if broadcast.send_at > now else _soon(now)
    mass = delivery_for(broadcast.requires_ack) is Delivery.MASS
    return render_template(
        "tips/console_broadcast.html",
        b=broadcast,
        tip=broadcast.tip,
        blocks=article_blocks(broadcast.tip.body),
        audience=audience,
        town_names=queries.town_names(db.session),
        towns=queries.all_towns(db.session),
        counts=queries.broadcast_counts(db.session, [broadcast.id]).get(broadcast.id),
        reach=queries.count_audience(db.session, audience) if pending else None,
        events=queries.broadcast_events(db.session, broadcast.id),
        values=_form_values(audience, send_at, broadcast.requires_ack),
        messages=get_flashed_messages(),
        quota=queries.quota_preview(db.session, audience, max(broadcast.send_at, now)) if pending and mass else None,
        mass_sends=queries.mass_sends(db.session, broadcast.id),
    )


def _act(broadcast_id: int, action) -> Any:
    """Run a console action on a broadcast; a refused one is shown on the detail page."""
    actor = _require_broadcaster()
    try:
        message = action(actor, utcnow())
    except DomainError as exc:
        if exc.http_status == 403:
            raise
        db.session.rollback()
        flash(exc.message)
    else:
        db.session.commit()
        flash(message)
    return redirect(url_for("tips_console.broadcast_detail", broadcast_id=broadcast_id))


@console_bp.post("/broadcasts/<id:broadcast_id>/schedule")
@login_required
@csrf_required
def schedule(broadcast_id: int):
    def action(actor, now) -> str:
        service.schedule_broadcast(db.session, actor, now, broadcast_id, _audience_form(request.form))
        return "推送已排期，将在发送时间自动发出。"

    return _act(broadcast_id, action)


@console_bp.post("/broadcasts/<id:broadcast_id>/cancel")
@login_required
@csrf_required
def cancel(broadcast_id: int):
    def action(actor, now) -> str:
        service.cancel_broadcast(db.session, actor, now, broadcast_id, request.form.get("note", ""))
        return "推送已取消。"

    return _act(broadcast_id, action)


@console_bp.post("/broadcasts/<id:broadcast_id>/remind")
@login_required
@csrf_required
def remind(broadcast_id: int):
    def action(actor, now) -> str:
        reminded = service.send_reminders(db.session, actor, now, broadcast_id)
        if not reminded:
            return "没有需要提醒的人员：未确认的人员都已提醒过（每人只提醒一次）。"
        return f"已向 {reminded} 名未确认人员发送提醒。"

    return _act(broadcast_id, action)


def _filters() -> queries.RecipientFilters:
    """The lists' filters from the query string. Raises ValidationFailed naming the bad one."""

    def id_arg(name: str) -> int | None:
        raw = request.args.get(name, "").strip()
        if not raw:
            return None
        number = parse_id(raw)
        if number is None:
            raise ValidationFailed.for_field(name, "筛选条件无效，请从页面上重新选择")
        return number

    raw_state = request.args.get("state", "").strip()
    try:
        state = RecipientState(raw_state) if raw_state else None
    except ValueError:
        raise ValidationFailed.for_field("state", "状态筛选无效，请从页面上重新选择") from None
    raw_page = request.args.get("page", "1").strip() or "1"
    page = parse_id(raw_page)
    if page is None or page > 100_000:
        raise ValidationFailed.for_field("page", "页码无效")
    return queries.RecipientFilters(id_arg("town"), id_arg("enterprise"), state, page)


@console_bp.get("/broadcasts/<id:broadcast_id>/enterprises")
@login_required
def broadcast_enterprises(broadcast_id: int):
    """接收企业: per enterprise of the actor's scope, recipients, read and acknowledged."""
    actor = _require_broadcaster()
    broadcast = service.get_broadcast(db.session, actor, broadcast_id)
    filters = _filters()
    return render_template(
        "tips/console_recipient_enterprises.html",
        b=broadcast,
        tip=broadcast.tip,
        filters=filters,
        towns=queries.broadcast_towns(db.session, actor),
        result=queries.enterprise_recipients(db.session, actor, broadcast, filters),
        mass=delivery_for(broadcast.requires_ack) is Delivery.MASS,
    )


@console_bp.get("/broadcasts/<id:broadcast_id>/people")
@login_required
def broadcast_people(broadcast_id: int):
    """接收人员: each person (and enterprise) of the actor's scope, with their state."""
    actor = _require_broadcaster()
    broadcast = service.get_broadcast(db.session, actor, broadcast_id)
    filters = _filters()
    result = queries.person_recipients(db.session, actor, broadcast, filters)
    enterprise = queries.enterprise_name(db.session, filters.enterprise_id)
    return render_template(
        "tips/console_recipient_people.html",
        b=broadcast,
        tip=broadcast.tip,
        filters=filters,
        towns=queries.broadcast_towns(db.session, actor),
        enterprise=enterprise,
        result=result,
        states=list(RecipientState),
        mass=delivery_for(broadcast.requires_ack) is Delivery.MASS,
    )
