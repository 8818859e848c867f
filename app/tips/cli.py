"""`flask --app app tips …`: load the safety-tip library (安全提示库)."""

from __future__ import annotations

from pathlib import Path

import click


@click.group("tips", help="Safety-tip library (安全提示库).")
def tips_group() -> None:
    pass


@tips_group.command("load")
@click.option(
    "--file",
    "path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Library YAML (default: the bundled app/tips/data/tips.yaml).",
)
def load(path: Path | None) -> None:
    """Store the library; idempotent (unchanged entries are left alone)."""
    from app.extensions import db
    from app.tips.service import load_tip_library

    with db.new_session() as session:
        try:
            result = load_tip_library(session, path)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        session.commit()
    for line in result.report_lines():
        click.echo(line)
