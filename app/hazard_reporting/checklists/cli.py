"""`flask --app app checklists …`: load the standard checklists (隐患排查标准清单)."""

from __future__ import annotations

from pathlib import Path

import click


@click.group("checklists", help="Standard checklists (隐患排查标准清单).")
def checklists_group() -> None:
    pass


@checklists_group.command("load")
@click.option(
    "--file",
    "path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Checklist YAML (default: the bundled app/hazard_reporting/checklists/data/checklists.yaml).",
)
def load(path: Path | None) -> None:
    """Store the standard templates; idempotent (unchanged templates are left alone)."""
    from app.clock import utcnow
    from app.extensions import db
    from app.hazard_reporting.checklists.service import load_standard_checklists

    with db.new_session() as session:
        try:
            result = load_standard_checklists(session, utcnow(), path)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        session.commit()
    for line in result.report_lines():
        click.echo(line)
