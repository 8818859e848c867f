"""`flask --app app notifications digests`: write today's daily digests now (the scheduler
does it at 08:00). Added to the `notifications` group by app/cli.py."""

from __future__ import annotations

import click


@click.command("digests")
def digests_command() -> None:
    """Write today's daily digests (idempotent: once per user and local day)."""
    from app.clock import utcnow
    from app.extensions import db
    from app.hazard_reporting.escalation.service import build_daily_digests

    with db.new_session() as session:
        written = build_daily_digests(session, utcnow())
        session.commit()
    click.echo(f"{written} digests queued")
