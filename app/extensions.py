"""Process-wide singletons: the database engine + session factory, and the Redis client.

Only holders live here; `create_app` initialises them from the settings.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import redis
from flask import g
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker


class Database:
    """Engine + session factory, plus the request-scoped session used by views."""

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self.session_factory: sessionmaker[Session] = sessionmaker(expire_on_commit=False)

    def init(self, url: str, **engine_kwargs: Any) -> None:
        if url.startswith("sqlite"):
            engine_kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        else:
            engine_kwargs.setdefault("pool_pre_ping", True)
            # A server that is down must fail fast: the WeChat callback has 5 s to spool and answer.
            engine_kwargs.setdefault("connect_args", {"connect_timeout": 2})
        self.engine = create_engine(url, **engine_kwargs)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
            # pysqlite's own transaction handling breaks SAVEPOINT, so SQLAlchemy emits BEGIN.
            # IMMEDIATE: a deferred transaction that reads and then writes fails at once with
            # "database is locked" when another writer committed meanwhile (WAL snapshot), where
            # IMMEDIATE waits its turn under busy_timeout. The embedded default runs web,
            # scheduler and dispatcher threads against one file.
            event.listen(self.engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
        self.session_factory.configure(bind=self.engine)

    def new_session(self) -> Session:
        """A session the caller owns (jobs, CLI): commit/rollback/close are theirs."""
        return self.session_factory()

    @property
    def session(self) -> Session:
        """The session of the current request; the view owns its commit."""
        if "db_session" not in g:
            g.db_session = self.session_factory()
        return g.db_session

    def opened_request_session(self) -> Session | None:
        """The current request's session if something opened it, else None."""
        return g.get("db_session")

    def rollback_request_session(self) -> None:
        session = g.get("db_session")
        if session is not None:
            session.rollback()

    def close_request_session(self, _exc: BaseException | None = None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class RedisHolder:
    """The redis client: a real server when REDIS_URL is set, else in-process fakeredis."""

    def __init__(self) -> None:
        self.client: redis.Redis | None = None
        self.in_process = False
        self._local = threading.local()

    def init(self, url: str | None) -> None:
        self.in_process = not url
        if url:
            self.client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)
        else:
            import fakeredis

            # One shared in-process server so every client in this process sees the same data.
            self.client = fakeredis.FakeRedis(server=_fake_server())

    def __call__(self) -> redis.Redis:
        if self.client is None:
            raise RuntimeError("redis not initialised; call create_app() first")
        return self.client

    def dedicated(self) -> redis.Redis:
        """A client holding one connection of the pool for this thread of this process.

        For the hot path (the WeChat callback's round trip): no pool checkout, return and
        stale-data poll per command. A sync worker is one thread, so this is one extra
        connection per worker. Without a real server, the shared client."""
        client = self()
        if self.in_process:
            return client
        local = self._local
        if getattr(local, "pid", None) != os.getpid() or local.client.connection_pool is not client.connection_pool:
            local.client = redis.Redis(connection_pool=client.connection_pool, single_connection_client=True)
            local.pid = os.getpid()
        return local.client


_FAKE_SERVER = None


def _fake_server() -> Any:
    global _FAKE_SERVER
    if _FAKE_SERVER is None:
        import fakeredis

        _FAKE_SERVER = fakeredis.FakeServer()
    return _FAKE_SERVER


db = Database()
redis_client = RedisHolder()
