"""REST API v1: bearer-token auth, JSON errors, OpenAPI at /api/v1/openapi.json."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import wraps
from typing import Any

from flask import Blueprint, Flask, g, jsonify, request
from spectree import Response, SecurityScheme, SpecTree
from spectree.models import SecuritySchemeData

from app.accounts.queries import load_actor
from app.accounts.service import user_for_api_token
from app.api.schemas import EnterpriseList, EnterpriseOut, ErrorOut, TownOut
from app.clock import utcnow
from app.enterprises import queries, service
from app.enterprises.schemas import EnterpriseIn, EnterpriseUpdate
from app.errors import PermissionDenied, ValidationFailed
from app.extensions import db
from app.hazard_reporting.work_calendar.queries import calendar_days
from app.hazard_reporting.work_calendar.schemas import CalendarDayOut, CalendarOut, CalendarQuery

bp = Blueprint("api", __name__, url_prefix="/api/v1")

spec = SpecTree(
    "flask",
    title="安查 AnCha API",
    version="1",
    # Spectree leaves routes under its own doc path out of the spec, so it must not be
    # /api/v1; the document itself is served at /api/v1/openapi.json by `openapi()` below.
    path="apidoc",
    page_templates={},
    mode="strict",
    security_schemes=[
        SecurityScheme(name="bearer", data=SecuritySchemeData(type="http", scheme="bearer")),
    ],
    security={"bearer": []},
)

# Validation is done by the services (one place, Chinese messages); spectree documents.
_DOC = {"skip_validation": True, "tags": ["enterprises"]}
_ERRORS = {"HTTP_401": ErrorOut, "HTTP_403": ErrorOut, "HTTP_404": ErrorOut, "HTTP_422": ErrorOut}


def token_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise PermissionDenied("缺少 API 令牌：请在请求头中加入 Authorization: Bearer <令牌>。", http_status=401)
        user = user_for_api_token(db.session, token.strip(), utcnow())
        g.actor = load_actor(db.session, user)
        return view(*args, **kwargs)

    return wrapped


def _enterprise_out(enterprise) -> dict:
    return EnterpriseOut.model_validate(enterprise).model_dump(mode="json")


@bp.get("/towns")
@spec.validate(resp=Response(HTTP_200=list[TownOut], **_ERRORS), skip_validation=True, tags=["towns"])
@token_required
def list_towns():
    """Towns (镇/街道) of the district."""
    towns = queries.all_towns(db.session)
    return jsonify([TownOut.model_validate(t).model_dump() for t in towns])


@bp.get("/enterprises")
@spec.validate(resp=Response(HTTP_200=EnterpriseList, **_ERRORS), **_DOC)
@token_required
def list_enterprises():
    """Enterprises the token's user may see; `?town_id=` filters."""
    items = queries.list_enterprises(db.session, g.actor, request.args.get("town_id", type=int))
    return jsonify({"items": [_enterprise_out(e) for e in items], "total": len(items)})


@bp.post("/enterprises")
@spec.validate(json=EnterpriseIn, resp=Response(HTTP_201=EnterpriseOut, **_ERRORS), **_DOC)
@token_required
def create_enterprise():
    """Register an enterprise file (bureau users)."""
    enterprise = service.create_enterprise(db.session, g.actor, utcnow(), request.get_json(silent=True))
    db.session.commit()
    return jsonify(_enterprise_out(enterprise)), 201


@bp.get("/enterprises/<id:enterprise_id>")
@spec.validate(resp=Response(HTTP_200=EnterpriseOut, **_ERRORS), **_DOC)
@token_required
def get_enterprise(enterprise_id: int):
    """One enterprise file."""
    return jsonify(_enterprise_out(service.get_enterprise(db.session, g.actor, enterprise_id)))


@bp.patch("/enterprises/<id:enterprise_id>")
@spec.validate(json=EnterpriseUpdate, resp=Response(HTTP_200=EnterpriseOut, **_ERRORS), **_DOC)
@token_required
def update_enterprise(enterprise_id: int):
    """Change some fields of an enterprise file."""
    enterprise = service.update_enterprise(
        db.session, g.actor, utcnow(), enterprise_id, request.get_json(silent=True)
    )
    db.session.commit()
    return jsonify(_enterprise_out(enterprise))


def _date_arg(name: str):
    value = request.args.get(name, "")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed.for_field(name, "应为 YYYY-MM-DD 格式的日期") from None


@bp.get("/calendar")
@spec.validate(query=CalendarQuery, resp=Response(HTTP_200=CalendarOut, **_ERRORS), skip_validation=True, tags=["calendar"])
@token_required
def calendar():
    """The district's working calendar, day by day, with each day's source: `override` (the
    bureau's), `official` (the State Council's published arrangement), `statutory_rule`
    (holidays computed by law for a year not yet published) or `weekday`."""
    days = calendar_days(db.session, _date_arg("from"), _date_arg("to"))
    return jsonify(
        {
            "days": [
                CalendarDayOut(
                    date=d.day, workday=d.workday, name=d.name, source=d.source.value,
                    provisional=d.provisional, note=d.note,
                ).model_dump(mode="json")
                for d in days
            ]
        }
    )


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3 document of this API (CONTRACT.md)."""
    return jsonify(spec.spec)


def register_api(app: Flask) -> None:
    app.register_blueprint(bp)
    spec.register(app)


# Routes of other resources on the same blueprint (imported last: they use bp and spec).
import app.api.sites  # noqa: E402,F401  (routes of sites on `bp`)
from app.api import bulletins as _bulletins  # noqa: E402, F401
from app.api import campaigns as _campaigns  # noqa: E402, F401
from app.api import census as _census  # noqa: E402, F401
from app.api import check_tasks as _check_tasks  # noqa: E402, F401
from app.api import credit as _credit  # noqa: E402, F401
from app.api import inspections as _inspections  # noqa: E402, F401
from app.api import members as _members  # noqa: E402, F401
from app.api import risks as _risks  # noqa: E402, F401
from app.api import schedules  # noqa: E402, F401
from app.api import stats as _stats  # noqa: E402, F401
from app.api import training as _training  # noqa: E402, F401
