"""Safety tips on the members' phones: the list of tips received and the article with
我已阅读并知晓."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from app.accounts.h5_login import current_h5_actor, h5_login_required
from app.clock import utcnow
from app.extensions import db
from app.tips import queries, service
from app.tips.domain import article_blocks
from app.web import csrf_required

h5_bp = Blueprint("tips_h5", __name__, url_prefix="/h5/tips")


@h5_bp.get("")
@h5_login_required
def received():
    """我收到的安全提示, newest first."""
    actor = current_h5_actor()
    return render_template("tips/h5_list.html", rows=queries.received_tips(db.session, actor.user_id))


@h5_bp.get("/<id:tip_id>")
@h5_login_required
def article(tip_id: int):
    """The tip's article. Opening it counts as read for every broadcast of it received."""
    actor = current_h5_actor()
    reading = service.open_tip(db.session, actor, utcnow(), tip_id)
    db.session.commit()
    return render_template(
        "tips/h5_article.html",
        reading=reading,
        tip=reading.tip,
        blocks=article_blocks(reading.tip.body),
        acknowledged_now=request.args.get("ok") == "1",
    )


@h5_bp.post("/<id:tip_id>/acknowledge")
@h5_login_required
@csrf_required
def acknowledge(tip_id: int):
    """我已阅读并知晓 (recorded once); back to the article, which shows the confirmation."""
    actor = current_h5_actor()
    service.acknowledge_tip(db.session, actor, utcnow(), tip_id)
    db.session.commit()
    return redirect(url_for("tips_h5.article", tip_id=tip_id, ok=1))
