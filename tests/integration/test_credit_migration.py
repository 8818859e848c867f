"""Migration a14c0e5e0002 (credit records) on a database with data: enterprises already
marked through the old credit_status field get an active record each, so the status and the
list agree from the upgrade on; a normal enterprise gets none."""

from __future__ import annotations

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, insert, select

from app.cli import alembic_config
from app.models import Base
from tests.fixtures.builders import valid_uscc
from tests.integration.test_migrations import empty_database_url  # noqa: F401  (the fixture)

REVISION = "a14c0e5e0002"


def test_the_upgrade_lists_the_enterprises_already_marked(empty_database_url):  # noqa: F811
    cfg = alembic_config(empty_database_url)
    before = ScriptDirectory.from_config(cfg).get_revision(REVISION).down_revision
    command.upgrade(cfg, before)
    towns, enterprises = Base.metadata.tables["towns"], Base.metadata.tables["enterprises"]
    engine = create_engine(empty_database_url)
    try:
        with engine.begin() as conn:
            town_id = conn.execute(insert(towns).values(code="410108101", name="花园口镇").returning(towns.c.id)).scalar_one()
            ids = {}
            for status in ("normal", "watchlist", "serious_discredit"):
                ids[status] = conn.execute(
                    insert(enterprises)
                    .values(uscc=valid_uscc(), name=f"企业{status}", address="路1号", town_id=town_id,
                            industry="machinery", scale="above", credit_status=status)
                    .returning(enterprises.c.id)
                ).scalar_one()
        command.upgrade(cfg, REVISION)
        records = Base.metadata.tables["credit_records"]
        with engine.connect() as conn:
            rows = conn.execute(
                select(records.c.enterprise_id, records.c.list_kind, records.c.listed_on, records.c.review_on,
                       records.c.delisted_on, records.c.reason).order_by(records.c.enterprise_id)
            ).all()
    finally:
        engine.dispose()
    assert [(r.enterprise_id, r.list_kind) for r in rows] == [
        (ids["watchlist"], "watchlist"), (ids["serious_discredit"], "serious_discredit"),
    ]
    watch, serious = rows
    assert watch.delisted_on is None and "补录" in watch.reason
    assert watch.review_on.year - watch.listed_on.year == 1 and serious.review_on.year - serious.listed_on.year == 3
