"""Console pages of hazards (desktop, `/console`): the scoped list with filters, one hazard
with the desktop actions, the monthly ledger (台账) of an enterprise and the bureau's
district ledger.

The hazard page and its action flow are the H5 ones (h5.py) in the console's templates;
the console stages no photos, so its forms post their files.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template, request, send_file
from werkzeug.exceptions import RequestEntityTooLarge

from app.accounts.console import current_actor, login_required
from app.accounts.domain import Actor
from app.clock import utcnow
from app.errors import ValidationFailed, readable_message, too_large_message
from app.extensions import db
from app.hazard_reporting.hazards import ledger, queries
from app.hazard_reporting.hazards.h5 import hazard_page, page_labels, photo_file, take_action
from app.hazard_reporting.hazards.photos import MAX_BYTES
from app.hazard_reporting.hazards.queries import ListFilters
from app.ids import parse_id
from app.web import csrf_required

console_bp = Blueprint("hazards_console", __name__, url_prefix="/console")


@console_bp.context_processor
def _console_context() -> dict[str, Any]:
    return page_labels("console", "hazards_console.console_photo")


@console_bp.errorhandler(RequestEntityTooLarge)
def _console_too_large(_exc: RequestEntityTooLarge):
    db.rollback_request_session()
    return render_template("error.html", status=413, payload={"message": too_large_message(MAX_BYTES)}), 413


def _console_actor() -> Actor:
    actor = current_actor()
    if actor is None:
        abort(401)
    return actor


@console_bp.get("/hazards")
@login_required
def console_list():
    """隐患治理: the hazards in the actor's scope with filters, and the ledger export."""
    actor = _console_actor()
    filters = ListFilters.from_args(request.args)
    context = queries.console_list_context(db.session, actor, filters, utcnow())
    return render_template("hazards/console_list.html", filters=filters, **context)


@console_bp.get("/hazards/<id:hazard_id>")
@login_required
def console_detail(hazard_id: int):
    return hazard_page(_console_actor(), hazard_id, "hazards/console_detail.html")


@console_bp.post("/hazards/<id:hazard_id>/actions/<slug>")
@login_required
@csrf_required
def console_action(hazard_id: int, slug: str):
    endpoint, template = "hazards_console.console_detail", "hazards/console_detail.html"
    return take_action(_console_actor(), hazard_id, slug, None, endpoint, template)


@console_bp.get("/hazards/<id:hazard_id>/photos/<id:photo_id>")
@login_required
def console_photo(hazard_id: int, photo_id: int):
    photo = queries.hazard_photo(db.session, _console_actor(), hazard_id, photo_id)
    return photo_file(photo, request.args.get("size", ""))


# What the ledger downloads' arguments are called on the page (error messages name them).
LEDGER_LABELS = {"month": "月份", "enterprise_id": "企业", "town_id": "镇（街道）"}


@console_bp.errorhandler(ValidationFailed)
def _console_validation(exc: ValidationFailed):
    """A refused download (bad month, no enterprise): one clear Chinese message, without the
    raw argument names (the action forms show their refusals on the hazard page instead)."""
    db.rollback_request_session()
    message = readable_message(exc, LEDGER_LABELS)
    return render_template("error.html", status=exc.http_status, payload={"message": message}), exc.http_status


def _id_arg(name: str, missing: str | None = None) -> int | None:
    """A positive id from the query string. Raises ValidationFailed when it is not one (or
    is absent and `missing` says why it is needed)."""
    raw = request.args.get(name, "").strip()
    if not raw:
        if missing:
            raise ValidationFailed.for_field(name, missing)
        return None
    number = parse_id(raw)
    if number is None:
        raise ValidationFailed.for_field(name, "参数无效，请从页面上重新选择")
    return number


def _xlsx(workbook: ledger.LedgerFile):
    response = send_file(
        workbook.content,
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        as_attachment=True,
        download_name=workbook.filename,
        max_age=0,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@console_bp.get("/hazards/ledger.xlsx")
@login_required
def ledger_download():
    """台账 of one enterprise and month as .xlsx (EXPORT_LEDGER)."""
    actor = _console_actor()
    enterprise_id = _id_arg("enterprise_id", "请选择企业")
    year, month = ledger.parse_month(request.args.get("month", ""))
    return _xlsx(ledger.hazard_ledger(db.session, actor, utcnow(), enterprise_id, year, month))


@console_bp.get("/hazards/district-ledger.xlsx")
@login_required
def district_ledger_download():
    """辖区隐患台账 of a month (bureau users): every enterprise in their scope, or one town."""
    actor = _console_actor()
    town_id = _id_arg("town_id")
    year, month = ledger.parse_month(request.args.get("month", ""))
    return _xlsx(ledger.district_ledger(db.session, actor, utcnow(), year, month, town_id))
