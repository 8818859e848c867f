"""H5 「我的岗位风险」 (/h5/my-post-risks): the risk cards (岗位风险告知卡) of the posts the
WeChat user holds, in every enterprise where they are an active member, each with its
较大危险因素. Reached from 我的; identity layer (it reads enterprises and accounts only)."""

from __future__ import annotations

from flask import Blueprint, render_template

from app.accounts.h5_login import current_h5_user, h5_login_required
from app.enterprises.organisation.queries import my_post_cards
from app.extensions import db

bp = Blueprint("organisation_h5", __name__, url_prefix="/h5")


@bp.get("/my-post-risks")
@h5_login_required
def my_post_risks():
    """The cards of my posts, by enterprise; a friendly note when no post is assigned."""
    user = current_h5_user()
    return render_template("organisation/h5_my_post_risks.html", groups=my_post_cards(db.session, user.id))
