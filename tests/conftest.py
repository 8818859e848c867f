"""Test set-up: a real database (PostgreSQL by default, SQLite in the quick pass) migrated
with Alembic once per run, one rolled-back transaction per test, real Redis (or fakeredis
in the SQLite pass) flushed per test.

    TEST_DATABASE_URL  default postgresql+psycopg://postgres@127.0.0.1:5432/ancha_test
    TEST_REDIS_URL     default redis://127.0.0.1:6379/15
    ANCHA_TEST_BACKEND=sqlite   SQLite file + in-process fakeredis
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from tests.fixtures.builders import Builders

BACKEND = os.environ.get("ANCHA_TEST_BACKEND", "postgresql")
TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"


def _worker_suffix() -> str:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return f"_{worker}" if worker else ""


def _postgres_url() -> str:
    base = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/ancha_test")
    url = make_url(base.replace("postgresql://", "postgresql+psycopg://", 1))
    return url.set(database=f"{url.database}{_worker_suffix()}").render_as_string(hide_password=False)


def recreate_postgres_database(url: str) -> None:
    """Drop and create the database named in `url` (connecting to the `postgres` database)."""
    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()


def pytest_collection_modifyitems(config, items):
    if BACKEND != "sqlite":
        return
    skip = pytest.mark.skip(reason="PostgreSQL only")
    for item in items:
        if "postgres_only" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    if BACKEND == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    url = _postgres_url()
    recreate_postgres_database(url)
    return url


@pytest.fixture(scope="session")
def redis_url() -> str | None:
    if BACKEND == "sqlite":
        return None
    base = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if worker:  # one Redis database per xdist worker
        number = 14 - int(worker.removeprefix("gw") or 0)
        base = base.rsplit("/", 1)[0] + f"/{number}"
    return base


@pytest.fixture(scope="session")
def settings_overrides(database_url, redis_url, tmp_path_factory) -> dict:
    return {
        "ANCHA_ENV": "testing",
        "SECRET_KEY": TEST_SECRET,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url or "",
        "PUBLIC_BASE_URL": "http://ancha.test",
        "MEDIA_ROOT": str(tmp_path_factory.mktemp("media")),
        "WECHAT_SPOOL_DIR": str(tmp_path_factory.mktemp("spool")),
    }


@pytest.fixture(scope="session")
def app(settings_overrides):
    """The app, with the test database migrated to head by Alembic (not create_all)."""
    from alembic import command

    from app import create_app
    from app.cli import alembic_config

    application = create_app(settings_overrides)
    command.upgrade(alembic_config(settings_overrides["DATABASE_URL"]), "head")
    return application


@pytest.fixture
def redis(app):
    from app.extensions import redis_client

    client = redis_client()
    client.flushdb()
    yield client
    client.flushdb()


@pytest.fixture(autouse=True)
def _fresh_lookup_caches():
    """Process-local caches may hold rows a test rolled back; and the Redis generation they
    were checked against is flushed with the test's Redis data."""
    from app import cache

    cache.clear_all()
    yield
    cache.clear_all()


@pytest.fixture
def db_session(app, redis) -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test.

    Every session the code opens (request sessions, `db.new_session()`) joins the same
    connection; their commits become savepoint releases.
    """
    from app.extensions import db

    connection = db.engine.connect()
    outer = connection.begin()
    db.session_factory.configure(bind=connection, join_transaction_mode="create_savepoint")
    session = db.session_factory()
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        connection.close()
        db.session_factory.configure(bind=db.engine, join_transaction_mode="conditional_savepoint")


@pytest.fixture
def client(app, db_session):
    return app.test_client()


@pytest.fixture
def build(db_session) -> Builders:
    return Builders(db_session)


@pytest.fixture
def tmp_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)
