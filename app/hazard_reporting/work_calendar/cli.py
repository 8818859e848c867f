"""`flask --app app calendar …`: the working calendar from the command line — show a year,
import the State Council's arrangement, override a day, confirm a year. Changes act as a
bureau admin named with --user, so the calendar's change log says who."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import click


@click.group("calendar", help="The district's working calendar (工作日历).")
def calendar_group() -> None:
    pass


def _day(_ctx, _param, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("expected YYYY-MM-DD") from None


_USER = click.option("--user", "username", required=True, help="console username of a bureau admin (安监局管理员)")


def _run(username: str, change: Callable, *, commit: bool = True):
    """Run `change(session, actor, now)` as the bureau admin `username`; commit unless told
    not to. A refused change exits with its message (status 1), nothing written."""
    from sqlalchemy import select

    from app.accounts.models import User
    from app.accounts.queries import load_actor
    from app.clock import utcnow
    from app.errors import DomainError, readable_message
    from app.extensions import db

    with db.new_session() as session:
        user = session.scalar(select(User).where(User.username == username, User.is_active.is_(True)))
        if user is None:
            raise click.ClickException(f"no active console user {username!r}")
        try:
            result = change(session, load_actor(session, user), utcnow())
        except DomainError as exc:
            session.rollback()
            raise click.ClickException(readable_message(exc)) from None
        if commit:
            session.commit()
        else:
            session.rollback()
        return result


def _echo_changes(outcome) -> None:
    for change in outcome.changes:
        after = "上班" if change.after.workday else "休息"
        click.echo(f"  {change.day.isoformat()} → {after} {change.after.name}".rstrip())
    click.echo(outcome.describe())


@calendar_group.command("show")
@click.argument("year", type=int)
@click.option("--all", "every_day", is_flag=True, help="every day, not only holidays and adjusted working days")
def show(year: int, every_day: bool) -> None:
    """YEAR's holidays and adjusted working days with their source (tab-separated)."""
    from app.errors import DomainError, readable_message
    from app.extensions import db
    from app.hazard_reporting.work_calendar.queries import year_view

    with db.new_session() as session:
        try:
            view = year_view(session, year)
        except DomainError as exc:
            raise click.ClickException(readable_message(exc)) from None
    status = "official" if view.status.official else view.status.basis or "provisional"
    click.echo(f"# {year}: {status}; {view.counts['workdays']} working days, {view.counts['rest']} rest days")
    days = [d for _month, weeks in view.months for week in weeks for d in week if d] if every_day else view.special
    for d in days:
        flag = " (provisional)" if d.provisional else ""
        click.echo(f"{d.day.isoformat()}\t{'work' if d.workday else 'rest'}\t{d.name}\t{d.source.value}{flag}")


@calendar_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_USER
@click.option("--dry-run", is_flag=True, help="report what would change, write nothing")
def import_arrangement(path: Path, username: str, dry_run: bool) -> None:
    """Import the State Council's arrangement from PATH (CSV or YAML: date, workday, name).
    Idempotent; a malformed file is refused with its line numbers and nothing is written."""
    from app.hazard_reporting.work_calendar import service

    def change(session, actor, now: datetime):
        rows = service.read_arrangement(path.read_bytes(), path.name)
        return service.import_arrangement(session, actor, now, rows, dry_run=dry_run)

    report = _run(username, change, commit=not dry_run)
    click.echo(
        f"{'dry run: ' if dry_run else ''}{'、'.join(map(str, report.years))}: "
        f"{report.count('create')} created, {report.count('update')} updated, {report.count('unchanged')} unchanged"
    )
    _echo_changes(report.outcome)


@calendar_group.command("set")
@click.argument("day", callback=_day)
@click.option("--workday/--rest", required=True, help="a working day (调休上班) or a rest day")
@click.option("--name", default="", help="e.g. 春节, 春节调休上班, 区内停产")
@click.option("--note", default="")
@_USER
def set_day(day: date, workday: bool, name: str, note: str, username: str) -> None:
    """Override DAY for the whole district."""
    from app.hazard_reporting.work_calendar import service

    _echo_changes(_run(username, lambda s, a, now: service.set_day(s, a, now, day, workday, name, note)))


@calendar_group.command("unset")
@click.argument("day", callback=_day)
@_USER
def unset_day(day: date, username: str) -> None:
    """Remove the override of DAY."""
    from app.hazard_reporting.work_calendar import service

    _echo_changes(_run(username, lambda s, a, now: service.clear_day(s, a, now, day)))


@calendar_group.command("confirm")
@click.argument("year", type=int)
@_USER
def confirm(year: int, username: str) -> None:
    """Confirm YEAR as it stands (the statutory rule plus the overrides)."""
    from app.hazard_reporting.work_calendar import service

    _echo_changes(_run(username, lambda s, a, now: service.confirm_year(s, a, now, year)))
