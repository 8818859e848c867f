"""The embedded default's SQLite file takes concurrent writers from several threads (web,
scheduler, dispatcher) without "database is locked" failures."""

from __future__ import annotations

import threading

from sqlalchemy import func, select, text

from app.extensions import Database
from app.models import Base


def test_read_then_write_transactions_in_parallel_threads(tmp_path):
    threads = 4
    db = Database()
    db.init(f"sqlite:///{tmp_path / 'embedded.db'}")
    Base.metadata.create_all(db.engine, tables=[Base.metadata.tables["towns"]])
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads)

    def worker(n: int) -> None:
        try:
            barrier.wait()
            for i in range(20):
                with db.new_session() as session, session.begin():
                    # Read first, then write: the pattern that fails under deferred BEGIN.
                    session.execute(text("SELECT count(*) FROM towns")).scalar()
                    session.execute(
                        text("INSERT INTO towns (code, name) VALUES (:c, :n)"),
                        {"c": f"{n}-{i}", "n": f"镇{n}-{i}"},
                    )
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    workers = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(60)
    assert errors == []
    with db.new_session() as session:
        assert session.scalar(select(func.count()).select_from(Base.metadata.tables["towns"])) == threads * 20
    db.engine.dispose()
