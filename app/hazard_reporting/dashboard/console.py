"""The enterprise's own dashboard (工作台) in the console: today's checks by unit, the
30-day on-time rate by level (an ECharts chart, and the numbers as text), open / overdue /
major hazards linking to the filtered hazard list, and who has not bound WeChat.

For the members of the enterprise with a console login and the bureau in scope
(VIEW_ENTERPRISE); anyone else is told the enterprise does not exist (404)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template

from app.accounts.console import current_actor, login_required
from app.accounts.domain import Action
from app.clock import utcnow
from app.enterprises import service as enterprise_service
from app.extensions import db
from app.hazard_reporting.checks.domain import CHECK_LEVEL_LABELS, CHECK_TASK_STATUS_LABELS
from app.hazard_reporting.dashboard import queries
from app.hazard_reporting.dashboard.domain import TODAY_BUCKET_LABELS, TODAY_BUCKET_ORDER, TodayBucket

bp = Blueprint(
    "dashboard_console",
    __name__,
    url_prefix="/console/enterprises/<id:enterprise_id>",
    template_folder="../../templates",
)

NOT_FOUND = "企业不存在或您无权查看。"


def chart_data(rates: queries.OnTimeRates) -> dict[str, Any]:
    """The ECharts options' data: one x value per period start, one series per level
    (percent, null where that level had nothing due that day)."""
    days = sorted({point[0] for series in rates.series for point in series.points})
    series = []
    for s in rates.series:
        by_day = {day: rate for day, rate, _, _ in s.points}
        values = [None if by_day.get(day) is None else round(by_day[day] * 100, 1) for day in days]
        series.append({"name": CHECK_LEVEL_LABELS[s.level], "values": values})
    return {"days": [day.isoformat() for day in days], "series": series}


@bp.get("/dashboard")
@login_required
def dashboard(enterprise_id: int):
    actor = current_actor()
    enterprise = enterprise_service.get_enterprise(db.session, actor, enterprise_id)
    now = utcnow()
    board = queries.dashboard(db.session, enterprise.id, now)
    return render_template(
        "dashboard/console_dashboard.html",
        e=enterprise,
        board=board,
        now=now,
        chart=chart_data(board.rates),
        can_manage_members=actor.can(Action.MANAGE_MEMBERS, enterprise.ref),
        BUCKETS=TODAY_BUCKET_ORDER,
        BUCKET_LABELS=TODAY_BUCKET_LABELS,
        TodayBucket=TodayBucket,
        CHECK_LEVEL_LABELS=CHECK_LEVEL_LABELS,
        CHECK_TASK_STATUS_LABELS=CHECK_TASK_STATUS_LABELS,
    )
