"""Fault tests: the app against real PostgreSQL and Redis reached through proxies the test
can cut (tests/fixtures/tcp_proxy.py), in a database of their own — these tests commit, as
production does, so they must not share the rolled-back test database. PostgreSQL only
(the embedded default has no server to lose)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import TEST_SECRET, recreate_postgres_database
from tests.fixtures.tcp_proxy import TcpProxy


@dataclass
class Stores:
    app: object
    postgres: TcpProxy
    redis: TcpProxy
    spool_dir: Path

    def restore(self) -> None:
        self.postgres.restore()
        self.redis.restore()


@pytest.fixture(scope="module")
def stores(app, database_url, redis_url, tmp_path_factory) -> Iterator[Stores]:
    """A second app (the test app's extensions are saved and put back) whose database and
    Redis sit behind cuttable proxies."""
    from alembic import command

    from app import create_app
    from app.cli import alembic_config
    from app.extensions import db, redis_client

    if not redis_url:
        pytest.skip("fault tests need the PostgreSQL backend and a Redis server")
    fault_url = make_url(database_url)
    fault_url = fault_url.set(database=f"{fault_url.database}_faults").render_as_string(hide_password=False)
    recreate_postgres_database(fault_url)
    command.upgrade(alembic_config(fault_url), "head")
    parsed = make_url(fault_url)
    postgres = TcpProxy(parsed.host or "127.0.0.1", parsed.port or 5432)
    redis_target = redis_url.removeprefix("redis://").split("/", 1)[0]
    redis_host, _, redis_port = redis_target.partition(":")
    redis = TcpProxy(redis_host or "127.0.0.1", int(redis_port or 6379))
    saved = (db.engine, redis_client.client, redis_client.in_process)
    folder = tmp_path_factory.mktemp("faults")
    try:
        fault_app = create_app(
            {
                "ANCHA_ENV": "testing",
                "SECRET_KEY": TEST_SECRET,
                "DATABASE_URL": postgres.url_for(fault_url),
                "REDIS_URL": redis.url_for(redis_url),
                "PUBLIC_BASE_URL": "http://ancha.test",
                "MEDIA_ROOT": str(folder / "media"),
                "WECHAT_SPOOL_DIR": str(folder / "spool"),
            }
        )
        yield Stores(fault_app, postgres, redis, folder / "spool")
    finally:
        postgres.close()
        redis.close()
        if db.engine is not None and db.engine is not saved[0]:
            db.engine.dispose()
        db.engine, redis_client.client, redis_client.in_process = saved
        if saved[0] is not None:
            db.session_factory.configure(bind=saved[0])
