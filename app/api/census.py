"""API v1 of the census (普查, CONTRACT.md): `GET /census/export` (the xlsx of every
enterprise in the token user's scope, the import's own format) and `POST /census/import?
dry_run=true|false` (multipart `file`) → {"created", "updated", "unchanged", "rows": [{"row",
"uscc", "action", "errors"}]}. A real import with any error row answers 422 with the same
report and writes nothing. A refused file (too large, not an .xlsx, wrong columns, too many
rows) is problem+json (413 or 422); a row that cannot be written at the last moment (a code
registered by someone else meanwhile) is a 409, nothing written."""

from __future__ import annotations

from urllib.parse import quote

from flask import g, jsonify, make_response, request
from spectree import Response
from werkzeug.exceptions import RequestEntityTooLarge

from app.api.sites import ProblemOut, problem_json
from app.api.views import bp, spec, token_required
from app.clock import utcnow
from app.errors import ValidationFailed
from app.extensions import db
from app.oversight.census import domain, queries, service
from app.oversight.census.schemas import (
    CensusImportQuery,
    CensusRefusedOut,
    CensusReportOut,
    CensusUpload,
    report_body,
)

_DOC = {"skip_validation": True, "tags": ["census"]}
_PROBLEMS = {"HTTP_401": ProblemOut, "HTTP_403": ProblemOut}
BODY_LIMIT = domain.MAX_BYTES + 64 * 1024


@bp.get("/census/export")
@spec.validate(resp=Response(HTTP_200=(None, "the census workbook (.xlsx)"), **_PROBLEMS), **_DOC)
@problem_json
@token_required
def census_export():
    """The census sheet (xlsx) of every enterprise the token's user may see; bureau users who
    may register enterprises only. Its format is the import's."""
    file = queries.census_export(db.session, g.actor, utcnow())
    response = make_response(file.content)
    response.headers["Content-Type"] = domain.XLSX_MIME
    response.headers["Content-Disposition"] = "attachment; filename=census.xlsx; filename*=UTF-8''" + quote(
        file.filename
    )
    return response


def _dry_run() -> bool:
    value = request.args.get("dry_run", "true").strip().lower()
    if value not in ("true", "false"):
        raise ValidationFailed.for_field("dry_run", "应为 true 或 false")
    return value == "true"


def _upload() -> bytes:
    request.max_content_length = BODY_LIMIT
    try:
        upload = request.files.get("file")
    except RequestEntityTooLarge:
        raise domain.CensusFileRefused(domain.TOO_LARGE, http_status=413) from None
    if upload is None:
        raise domain.CensusFileRefused("请以 multipart/form-data 的 file 字段上传普查文件（.xlsx）。")
    return upload.stream.read(domain.MAX_BYTES + 1)


@bp.post("/census/import")
@spec.validate(
    query=CensusImportQuery,
    form=CensusUpload,
    resp=Response(
        HTTP_200=CensusReportOut,
        HTTP_409=ProblemOut,
        HTTP_413=ProblemOut,
        HTTP_422=(CensusRefusedOut, "error rows (the report) or a refused file (problem+json, no rows)"),
        **_PROBLEMS,
    ),
    **_DOC,
)
@problem_json
@token_required
def census_import():
    """Plan every row of an uploaded census sheet (`dry_run=true`, the default) or import it
    (`dry_run=false`): creates and updates by credit code, all rows or none."""
    dry_run = _dry_run()
    data = _upload()
    report = service.import_census(db.session, g.actor, utcnow(), data, apply=not dry_run)
    body = report_body(report.rows, report.counts, report.applied)
    if dry_run or report.applied:
        if report.applied:
            db.session.commit()
        else:
            db.session.rollback()
        return jsonify(body)
    db.session.rollback()
    refused = {
        "type": "about:blank",
        "title": "输入有误",
        "status": 422,
        "detail": f"有 {report.counts[domain.ERROR]} 行错误，未导入任何企业。请按 rows 中每行的 errors 修改后重新上传。",
        **body,
    }
    response = jsonify(refused)
    response.status_code = 422
    response.mimetype = "application/problem+json"
    return response
