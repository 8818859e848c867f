"""The bureau's district dashboard (辖区概况): figures per town and in total for a month, with
ECharts charts; every number links to the list behind it; the table as Excel.

Bureau users only (VIEW_DISTRICT_STATS, 403 otherwise); a bureau staff member sees the
towns they are bound to."""

from __future__ import annotations

import io
from typing import Any

from flask import Blueprint, render_template, request, send_file

from app.accounts.console import current_actor, login_required
from app.clock import local_today, utcnow
from app.enterprises.domain import STANDARDIZATION_LABELS, STANDARDIZATION_TARGET
from app.errors import NotFound, ValidationFailed
from app.extensions import db
from app.hazard_reporting.checks.domain import CHECK_LEVEL_LABELS, CheckLevel
from app.hazard_reporting.hazards.domain import LEVEL_LABELS, STATUS_LABELS
from app.ids import MAX_ID, parse_id
from app.oversight.stats import queries
from app.oversight.stats.domain import (
    CERTIFICATE_STANDING_LABELS,
    COMPLETION_LABELS,
    EXPIRY_WARNING_DAYS,
    FIGURE_LABELS,
    Completion,
    Figure,
    Month,
    parse_figure,
    parse_level,
    parse_month,
    percent,
    percent_value,
)

bp = Blueprint("oversight_stats", __name__, url_prefix="/console/oversight", template_folder="../../templates")

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _town_arg() -> int | None:
    raw = request.args.get("town", "")
    if raw.strip() == "":
        return None
    town_id = parse_id(raw)
    if town_id is None:
        raise NotFound(queries.TOWN_NOT_FOUND)
    return town_id


def _page_arg() -> int:
    raw = request.args.get("page", "1")
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_ID:
        raise ValidationFailed.for_field("page", "页码应为正整数")
    return int(raw)


def chart_data(board: queries.Dashboard) -> dict[str, Any]:
    """The charts' data: per town (standardization rate vs target, on-time rate per level,
    hazards) and the 12-month trend."""
    towns = board.towns
    return {
        "towns": [t.name for t in towns],
        "town_ids": [t.town_id for t in towns],
        "target": float(STANDARDIZATION_TARGET * 100),
        "std_rate": [percent_value(t.score.rate) for t in towns],
        "levels": [
            {"name": CHECK_LEVEL_LABELS[lv], "values": [percent_value(t.checks[lv].on_time_rate) for t in towns]}
            for lv in CheckLevel
        ],
        "found": [t.hazards.found for t in towns],
        "rectified": [t.hazards.rectified for t in towns],
        "overdue": [t.hazards.overdue for t in towns],
        "trend": {
            "months": [p.month.key for p in board.trend],
            "on_time": [percent_value(p.checks.on_time_rate) for p in board.trend],
            "found": [p.hazards_found for p in board.trend],
            "rectified": [p.hazards_rectified for p in board.trend],
        },
    }


def _board():
    now = utcnow()
    month = parse_month(request.args.get("month"), local_today(now))
    town_id = _town_arg()
    return queries.dashboard(db.session, current_actor(), month, now, town_id), town_id, now


@bp.get("/dashboard")
@login_required
def dashboard():
    board, town_id, now = _board()
    current = Month.of(local_today(now))
    return render_template(
        "oversight/stats/dashboard.html",
        board=board,
        town_id=town_id,
        chart=chart_data(board),
        current_month=current,
        Figure=Figure,
        CheckLevel=CheckLevel,
        CHECK_LEVEL_LABELS=CHECK_LEVEL_LABELS,
        percent=percent,
        target=STANDARDIZATION_TARGET,
        warning_days=EXPIRY_WARNING_DAYS,
    )


@bp.get("/dashboard.xlsx")
@login_required
def dashboard_export():
    board, _, _ = _board()
    return send_file(
        io.BytesIO(queries.dashboard_workbook(board)),
        mimetype=XLSX,
        as_attachment=True,
        download_name=f"辖区概况-{board.month.key}.xlsx",
    )


@bp.get("/lists/<figure>")
@login_required
def figure_list(figure: str):
    now = utcnow()
    chosen = parse_figure(figure)
    month = parse_month(request.args.get("month"), local_today(now))
    level = parse_level(request.args.get("level"))
    town_id = _town_arg()
    listing = queries.figure_list(db.session, current_actor(), chosen, month, now, town_id, level, _page_arg())
    towns = queries.chosen_towns(db.session, current_actor(), town_id)
    return render_template(
        "oversight/stats/list.html",
        listing=listing,
        month=month,
        level=level,
        town=towns[0] if town_id else None,
        title=FIGURE_LABELS[chosen],
        Figure=Figure,
        Completion=Completion,
        COMPLETION_LABELS=COMPLETION_LABELS,
        CERTIFICATE_STANDING_LABELS=CERTIFICATE_STANDING_LABELS,
        STANDARDIZATION_LABELS=STANDARDIZATION_LABELS,
        CHECK_LEVEL_LABELS=CHECK_LEVEL_LABELS,
        HAZARD_LEVEL_LABELS=LEVEL_LABELS,
        HAZARD_STATUS_LABELS=STATUS_LABELS,
        percent=percent,
        town_names={t.id: t.name for t in towns},
        args={k: v for k, v in request.args.items() if k in ("month", "town", "level")},
    )


@bp.get("/risks")
@login_required
def risks():
    """风险分级管控 across the district: 重大/较大 risks per town and per enterprise, and the
    enterprises without a risk register."""
    town_id = _town_arg()
    return render_template(
        "oversight/stats/risks.html",
        board=queries.risk_board(db.session, current_actor(), town_id),
        town_id=town_id,
    )
