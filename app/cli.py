"""Flask CLI commands: `flask --app app <group> <command>`."""

from __future__ import annotations

import json
import sys

import click
from flask import Flask, current_app

from app.enterprises.cli import qr_group
from app.hazard_reporting.checklists.cli import checklists_group
from app.hazard_reporting.escalation.cli import digests_command
from app.hazard_reporting.work_calendar.cli import calendar_group
from app.notifications.cli import notifications_group
from app.scheduling.cli import scheduler_group
from app.tips.cli import tips_group
from app.wechat.cli import wechat_group
from app.wechat_inbound.cli import replay_spool_command
from config.settings import INSTANCE_DIR, PROJECT_ROOT


def alembic_config(url: str | None = None):
    """Alembic config pointing at migrations/, with the app's database URL."""
    from alembic.config import Config

    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    if url is None:
        url = current_app.config["SETTINGS"].DATABASE_URL
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def register_commands(app: Flask) -> None:
    app.cli.add_command(db_group)
    app.cli.add_command(demo_group)
    app.cli.add_command(serve)
    wechat_group.add_command(replay_spool_command)
    app.cli.add_command(wechat_group)
    app.cli.add_command(qr_group)
    app.cli.add_command(checklists_group)
    app.cli.add_command(calendar_group)
    app.cli.add_command(scheduler_group)
    app.cli.add_command(tips_group)
    notifications_group.add_command(digests_command)
    app.cli.add_command(notifications_group)


@click.group("db", help="Database migrations (Alembic).")
def db_group() -> None:
    pass


@db_group.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: head)."""
    from alembic import command

    command.upgrade(alembic_config(), revision)


@db_group.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION."""
    from alembic import command

    command.downgrade(alembic_config(), revision)


@db_group.command("current")
def db_current() -> None:
    """Show the revision the database is at."""
    from alembic import command

    command.current(alembic_config(), verbose=True)


@db_group.command("revision")
@click.option("-m", "--message", required=True)
def db_revision(message: str) -> None:
    """Draft a migration from the model changes (review it by hand before committing)."""
    from alembic import command

    command.revision(alembic_config(), message=message, autogenerate=True)


@click.group("demo", help="The demo district.")
def demo_group() -> None:
    pass


@demo_group.command("seed")
@click.option("--json", "as_json", is_flag=True, help="Print what exists as JSON.")
def demo_seed(as_json: bool) -> None:
    """Create the demo district (idempotent: running it again changes nothing)."""
    from app.clock import utcnow
    from app.demo.seed import demo_summary, seed_demo
    from app.extensions import db

    settings = current_app.config["SETTINGS"]
    if settings.is_production:
        raise click.ClickException("refusing to seed demo data in production")
    with db.new_session() as session:
        created = seed_demo(session, now=utcnow(), secret_key=settings.SECRET_KEY)
        session.commit()
        summary = demo_summary(session, settings)
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        click.echo(f"demo district ready ({created} new rows)", err=False)


@click.command("serve", help="Serve the embedded default: web, scheduler and dispatcher in one process.")
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int, envvar="PORT")
@click.option("--no-workers", is_flag=True, help="Web only: no in-process scheduler and dispatcher.")
def serve(host: str, port: int, no_workers: bool) -> None:
    from werkzeug.serving import run_simple

    from app.demo.seed import demo_summary
    from app.extensions import db, redis_client
    from app.notifications.dispatcher import start_background_dispatcher
    from app.scheduling.runner import start_background_scheduler

    settings = current_app.config["SETTINGS"]
    if settings.sandbox and redis_client.in_process:
        # The in-process Redis dies with the process; the simulator's message log must not.
        current_app.config.setdefault("SANDBOX_MESSAGE_LOG", str(INSTANCE_DIR / "sandbox-messages.sqlite3"))
    base = f"http://{host}:{port}"
    with db.new_session() as session:
        summary = demo_summary(session, settings)
    lines = [
        "",
        "AnCha 安查 — embedded default",
        f"  控制台 console:    {base}/console/",
        f"  健康检查 healthz:  {base}/healthz",
    ]
    if settings.sandbox:
        lines.append(f"  微信模拟器 sandbox: {base}/sandbox/")
    for login in summary.get("console_logins", []):
        lines.append(f"  登录 {login['username']} / {login['password']}  ({login['role_label']})")
    if settings.sandbox and summary.get("headline"):
        lines.append(f"  {summary['headline']['text']}")
    click.echo("\n".join(lines) + "\n", file=sys.stderr)
    app = current_app._get_current_object()
    if not no_workers:
        # One process for a single user's machine (DESIGN.md §2): the in-process fakeredis
        # and the SQLite file are only shared within this process.
        start_background_scheduler(app)
        start_background_dispatcher(app)
    run_simple(host, port, app, threaded=True, use_reloader=False)
