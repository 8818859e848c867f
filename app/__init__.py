"""AnCha (安查): hazard investigation behind a WeChat Official Account.

`create_app(config=None)` builds the web application in named steps. `config` is either
a ready `Settings` object or a dict of setting overrides (tests use both).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from config import ConfigError, Settings, load_settings
from config.settings import INSTANCE_DIR

__all__ = ["create_app", "ConfigError"]


def create_app(config: Settings | dict[str, Any] | None = None) -> Flask:
    """Build the app. Bad settings stop the process with one message naming every bad
    setting (SystemExit, so CLI, gunicorn and `make run` print it without a traceback)."""
    try:
        settings = config if isinstance(config, Settings) else load_settings(config)
    except ConfigError as exc:
        raise SystemExit(f"AnCha cannot start. {exc}") from None
    app = Flask(__name__, instance_path=str(INSTANCE_DIR), instance_relative_config=False)
    configure_app(app, settings)
    register_extensions(app, settings)
    register_blueprints(app, settings)
    register_template_helpers(app)
    register_notification_kinds()
    register_error_handlers(app)
    register_cli(app)
    return app


def configure_app(app: Flask, settings: Settings) -> None:
    app.config.update(
        SETTINGS=settings,
        SECRET_KEY=settings.SECRET_KEY,
        TESTING=settings.ANCHA_ENV == "testing",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.PUBLIC_BASE_URL.startswith("https://"),
        # Photos are the largest legitimate uploads; anything above is refused with 413.
        MAX_CONTENT_LENGTH=20 * 1024 * 1024,
        JSON_AS_ASCII=False,
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    if not app.debug and not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


def register_extensions(app: Flask, settings: Settings) -> None:
    from app.extensions import db, redis_client
    from app.web import init_csrf, init_security_headers, init_url_converters

    if settings.DATABASE_URL.startswith("sqlite:///"):
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    if settings.PROXY_HOPS:
        # Behind nginx every request comes from 127.0.0.1: believe its X-Forwarded-* (and
        # only as many hops as there are proxies), or the login lock would count the whole
        # world as one address, and https would look like http.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=settings.PROXY_HOPS, x_proto=settings.PROXY_HOPS, x_host=settings.PROXY_HOPS
        )
    db.init(settings.DATABASE_URL)
    redis_client.init(settings.REDIS_URL)
    app.teardown_appcontext(db.close_request_session)
    init_url_converters(app)
    init_csrf(app)
    init_security_headers(app, settings.PUBLIC_BASE_URL.startswith("https://"))


def register_blueprints(app: Flask, settings: Settings) -> None:
    from app.accounts.console import bp as accounts_bp
    from app.accounts.h5_login import bp as h5_identity_bp
    from app.api.views import register_api
    from app.enterprises.console import bp as enterprises_bp
    from app.enterprises.organisation.console import bp as organisation_bp
    from app.enterprises.organisation.h5 import bp as organisation_h5_bp
    from app.hazard_reporting.checks.console import bp as checks_console_bp
    from app.hazard_reporting.checks.h5 import bp as checks_h5_bp
    from app.hazard_reporting.confined_space.console import bp as confined_space_console_bp
    from app.hazard_reporting.dashboard.console import bp as dashboard_console_bp
    from app.hazard_reporting.handover.console import bp as handover_bp
    from app.hazard_reporting.hazards.console import console_bp as hazards_console_bp
    from app.hazard_reporting.hazards.h5 import h5_bp as hazards_h5_bp
    from app.hazard_reporting.risks.console import bp as risks_console_bp
    from app.hazard_reporting.schedules.console import bp as schedules_console_bp
    from app.hazard_reporting.sites.console import bp as sites_console_bp
    from app.hazard_reporting.work_calendar.console import bp as calendar_console_bp
    from app.health import bp as health_bp
    from app.metrics import bp as metrics_bp
    from app.notifications.h5 import bp as notifications_h5_bp
    from app.oversight.bulletins.console import bp as bulletins_console_bp
    from app.oversight.bulletins.h5 import h5_bp as bulletins_h5_bp
    from app.oversight.campaigns.console import bp as campaigns_console_bp
    from app.oversight.census.console import bp as census_console_bp
    from app.oversight.credit.console import bp as credit_console_bp
    from app.oversight.dossier.console import bp as dossier_console_bp
    from app.oversight.enforcement.console import bp as enforcement_console_bp
    from app.oversight.stats.console import bp as oversight_stats_bp
    from app.oversight.training.console import bp as training_console_bp
    from app.tips.console import console_bp as tips_console_bp
    from app.tips.h5 import h5_bp as tips_h5_bp
    from app.wechat_inbound.callback import install as install_wechat_callback

    app.register_blueprint(health_bp)
    app.register_blueprint(metrics_bp)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(enterprises_bp)
    app.register_blueprint(organisation_bp)
    app.register_blueprint(organisation_h5_bp)
    app.register_blueprint(h5_identity_bp)
    app.register_blueprint(notifications_h5_bp)
    app.register_blueprint(tips_console_bp)
    app.register_blueprint(tips_h5_bp)
    app.register_blueprint(hazards_h5_bp)
    app.register_blueprint(checks_h5_bp)
    app.register_blueprint(hazards_console_bp)
    app.register_blueprint(checks_console_bp)
    app.register_blueprint(schedules_console_bp)
    app.register_blueprint(confined_space_console_bp)
    app.register_blueprint(dashboard_console_bp)
    app.register_blueprint(calendar_console_bp)
    app.register_blueprint(handover_bp)
    app.register_blueprint(sites_console_bp)
    app.register_blueprint(risks_console_bp)
    app.register_blueprint(dossier_console_bp)
    app.register_blueprint(oversight_stats_bp)
    app.register_blueprint(bulletins_console_bp)
    app.register_blueprint(bulletins_h5_bp)
    app.register_blueprint(census_console_bp)
    app.register_blueprint(credit_console_bp)
    app.register_blueprint(campaigns_console_bp)
    app.register_blueprint(training_console_bp)
    app.register_blueprint(enforcement_console_bp)
    if settings.sandbox:
        # The fake WeChat API, OAuth page and simulator; never registered otherwise.
        from app.sandbox.api import register_fake_wechat
        from app.sandbox.simulator import bp as sandbox_simulator_bp
        from app.sandbox.store import record_passive_reply
        from app.wechat_inbound.callback import observe_replies

        register_fake_wechat(app)
        app.register_blueprint(sandbox_simulator_bp)
        # Every passive reply the callback sends is logged, not only the simulator's.
        observe_replies(app, record_passive_reply)
    register_api(app)
    # Not a blueprint: served ahead of Flask's dispatch (see CallbackEndpoint).
    install_wechat_callback(app)


def register_notification_kinds() -> None:
    """The features' notification kinds, handed to the outbox (importing registers them)."""
    import app.notices  # noqa: F401


def register_template_helpers(app: Flask) -> None:
    """Filters and context every template may use, whichever blueprint renders it."""
    from app.accounts.console import console_context
    from app.enterprises.console import label_context
    from app.hazard_reporting.work_calendar.console import banner_context
    from app.web import register_filters

    register_filters(app)
    for processor in (console_context, label_context, banner_context):
        app.context_processor(processor)


def register_error_handlers(app: Flask) -> None:
    from app.errors import register_error_handlers as register

    register(app)


def register_cli(app: Flask) -> None:
    from app.cli import register_commands

    register_commands(app)
