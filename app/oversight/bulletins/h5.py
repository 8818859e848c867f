"""A published bulletin on the phone (/h5/bulletins/<id>), for the members of an
enterprise it names: the bulletin, its lists, and the reasons for the reader's own
enterprise first."""

from __future__ import annotations

from flask import Blueprint, render_template

from app.accounts.h5_login import current_h5_actor, h5_login_required
from app.extensions import db
from app.oversight.bulletins import queries
from app.oversight.bulletins.domain import (
    KIND_LABELS,
    STATUS_LABELS,
    VERDICT_LABELS,
    BulletinStatus,
    Verdict,
    paragraphs,
)

h5_bp = Blueprint("bulletins_h5", __name__, url_prefix="/h5/bulletins")


@h5_bp.get("/<id:bulletin_id>")
@h5_login_required
def bulletin(bulletin_id: int):
    """The bulletin; 404 for anyone whose enterprise it does not name."""
    view = queries.phone_view(db.session, current_h5_actor(), bulletin_id)
    town_names = queries.town_names(db.session)
    return render_template(
        "oversight/bulletins/h5_bulletin.html",
        b=view.bulletin,
        rows=view.rows,
        own=view.own,
        town_name=town_names.get(view.bulletin.town_id) if view.bulletin.town_id else None,
        paragraphs=paragraphs,
        KIND_LABELS=KIND_LABELS,
        STATUS_LABELS=STATUS_LABELS,
        VERDICT_LABELS=VERDICT_LABELS,
        BulletinStatus=BulletinStatus,
        Verdict=Verdict,
    )
