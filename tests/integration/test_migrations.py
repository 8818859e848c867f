"""Alembic migrations build the schema on empty PostgreSQL and SQLite databases, match the
models exactly (autogenerate finds nothing), and downgrade cleanly."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url

from app.cli import alembic_config
from app.models import Base
from tests.conftest import BACKEND, _postgres_url, recreate_postgres_database


@pytest.fixture
def empty_database_url(tmp_path) -> str:
    if BACKEND == "sqlite":
        return f"sqlite:///{tmp_path / 'migrations.db'}"
    url = make_url(_postgres_url())
    url = url.set(database=f"{url.database}_migrations").render_as_string(hide_password=False)
    recreate_postgres_database(url)
    return url


def _diff(url: str) -> list:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()


def test_upgrade_head_on_an_empty_database_matches_the_models(empty_database_url):
    command.upgrade(alembic_config(empty_database_url), "head")
    assert _diff(empty_database_url) == []
    engine = create_engine(empty_database_url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert set(Base.metadata.tables) <= tables


def test_downgrade_to_base_and_up_again(empty_database_url):
    cfg = alembic_config(empty_database_url)
    command.upgrade(cfg, "head")
    command.downgrade(cfg, "base")
    engine = create_engine(empty_database_url)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()
    command.upgrade(cfg, "head")
    assert _diff(empty_database_url) == []


def test_history_is_linear_and_files_are_date_prefixed():
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1, "migrations must form a single line"
    for revision in script.walk_revisions():
        filename = revision.path.rsplit("/", 1)[-1]
        assert filename[:8].isdigit() and filename[8] == "_", filename
