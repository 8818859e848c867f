"""Tip fan-out benchmark: one safety-tip broadcast released to N generated members on
PostgreSQL — one receipt and one outbox row per recipient, set-based — then the counts
query, the reminder to everyone who has not acknowledged, and an idempotent re-run.

    .venv/bin/python bench/fanout.py [--recipients 100000] [--repeat 3]

Needs the local PostgreSQL (BENCH_DATABASE_URL, default
postgresql+psycopg://postgres@127.0.0.1:5432/ancha_bench_fanout; the database is recreated).
Writes bench/results/fanout.json and prints a Markdown table for docs/PERFORMANCE.md.
Target (issue "Notifications"): 100 000 recipients enqueued in < 5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DB_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/ancha_bench_fanout"
)
ENTERPRISES = 200
NOW = datetime(2027, 6, 3, 1, 30, tzinfo=UTC)  # 09:30 in Asia/Shanghai


def prepare(recipients: int):
    """Fresh database at head; a town, ENTERPRISES confined-space enterprises and
    `recipients` subscribed members spread over them, generated in SQL; a bureau admin."""
    from alembic import command
    from sqlalchemy import create_engine, text

    from app.cli import alembic_config
    from tests.conftest import recreate_postgres_database

    recreate_postgres_database(DB_URL)
    command.upgrade(alembic_config(DB_URL), "head")
    engine = create_engine(DB_URL)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO towns (code, name) VALUES ('BENCH', '压测镇')"))
        conn.execute(
            text(
                """
                INSERT INTO enterprises (uscc, name, address, town_id, industry, scale, employee_count,
                    main_processes, principal_name, principal_phone, standardization_level,
                    dust_explosion, confined_space, ammonia_refrigeration, metallurgical_gas,
                    molten_metal, dust_worker_count, three_simultaneous, credit_status)
                SELECT 'B' || lpad(n::text, 17, '0'), '压测企业' || n, '压测路' || n || '号',
                    (SELECT id FROM towns WHERE code = 'BENCH'), 'light_industry', 'above', 500,
                    '', '', '', 'none', false, true, false, false, false, 0, 'not_applicable', 'normal'
                FROM generate_series(1, :enterprises) AS n
                """
            ),
            {"enterprises": ENTERPRISES},
        )
        conn.execute(
            text(
                """
                INSERT INTO users (display_name, phone, openid, subscribed, is_active)
                SELECT '工人' || n, '', 'o-bench-' || lpad(n::text, 20, '0'), true, true
                FROM generate_series(1, :recipients) AS n
                """
            ),
            {"recipients": recipients},
        )
        conn.execute(
            text(
                """
                INSERT INTO memberships (user_id, enterprise_id, role, active)
                SELECT u.id, e.ids[1 + (u.id % array_length(e.ids, 1))], 'worker', true
                FROM users u, (SELECT array_agg(id ORDER BY id) AS ids FROM enterprises) e
                WHERE u.openid LIKE 'o-bench-%'
                """
            )
        )
        admin = conn.execute(
            text(
                "INSERT INTO users (display_name, phone, subscribed, is_active) VALUES ('局管理员', '', false, true) RETURNING id"
            )
        ).scalar_one()
        conn.execute(
            text("INSERT INTO bureau_memberships (user_id, role) VALUES (:u, 'bureau_admin')"), {"u": admin}
        )
        conn.execute(text("ANALYZE"))
    return engine, admin


def backend_cpu(session) -> float:
    """CPU seconds (user + system) the session's PostgreSQL backend has used so far, from
    /proc (the server runs on this host). Wall time on a busy 2-core machine measures the
    neighbours too; the backend's CPU time is what the work itself costs."""
    from sqlalchemy import text

    pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_once(engine, admin_id: int, recipients: int) -> dict[str, float]:
    from sqlalchemy import delete, func, select, update
    from sqlalchemy.orm import Session

    from app.accounts.models import User
    from app.accounts.queries import load_actor
    from app.notifications.models import OutboxMessage
    from app.tips import queries, service
    from app.tips.models import TipBroadcast, TipReceipt

    timings: dict[str, float] = {}
    with Session(engine) as session:
        admin = load_actor(session, session.get(User, admin_id))
        broadcast = service.create_broadcast(
            session,
            admin,
            NOW,
            {
                "title": "高温季节有限空间中毒窒息高发警示",
                "body": "作业前必须审批，先通风、再检测、后作业。",
                "topics": ["confined_space"],
                "send_at": NOW.isoformat(),
            },
        )
        session.commit()

        cpu = backend_cpu(session)
        client_cpu = time.process_time()
        started = time.perf_counter()
        result = service.release_broadcast(session, broadcast.id, NOW)
        session.commit()
        timings["release_s"] = time.perf_counter() - started
        timings["release_server_cpu_s"] = backend_cpu(session) - cpu
        timings["release_client_cpu_s"] = time.process_time() - client_cpu
        assert result is not None and result.recipients == recipients == result.enqueued, result

        # The job runs again (a retry, a second host during a lease hand-over): a no-op.
        started = time.perf_counter()
        assert service.release_broadcast(session, broadcast.id, NOW + timedelta(minutes=1)) is None
        session.commit()
        timings["rerun_s"] = time.perf_counter() - started

        # Forced back to scheduled, as if a run had died after writing: every key conflicts.
        session.execute(
            update(TipBroadcast).where(TipBroadcast.id == broadcast.id).values(status="scheduled")
        )
        started = time.perf_counter()
        again = service.release_broadcast(session, broadcast.id, NOW + timedelta(minutes=2))
        session.commit()
        timings["forced_rerun_s"] = time.perf_counter() - started
        assert again is not None and again.enqueued == 0

        started = time.perf_counter()
        counts = queries.broadcast_counts(session, [broadcast.id])[broadcast.id]
        timings["counts_s"] = time.perf_counter() - started
        assert counts.recipients == counts.queued == recipients

        cpu = backend_cpu(session)
        started = time.perf_counter()
        reminded = service.send_reminders(session, admin, NOW + timedelta(days=1), broadcast.id)
        session.commit()
        timings["remind_s"] = time.perf_counter() - started
        timings["remind_server_cpu_s"] = backend_cpu(session) - cpu
        assert reminded == recipients

        rows = session.scalar(select(func.count()).select_from(OutboxMessage))
        assert rows == 2 * recipients
        # Clean up for the next repetition.
        session.execute(delete(OutboxMessage))
        session.execute(delete(TipReceipt))
        session.commit()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    engine, admin_id = prepare(args.recipients)
    runs = [run_once(engine, admin_id, args.recipients) for _ in range(args.repeat)]
    engine.dispose()
    summary = {
        name: {
            "median": round(statistics.median(r[name] for r in runs), 3),
            "max": round(max(r[name] for r in runs), 3),
        }
        for name in runs[0]
    }
    result = {
        "recipients": args.recipients,
        "enterprises": ENTERPRISES,
        "repeat": args.repeat,
        "seconds": summary,
        "recipients_per_s": round(args.recipients / summary["release_s"]["median"]),
    }
    out = ROOT / "bench" / "results" / "fanout.json"
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    labels = {
        "release_s": "release: receipts + outbox rows + status (one transaction)",
        "release_server_cpu_s": "… of which PostgreSQL backend CPU",
        "release_client_cpu_s": "… of which Python CPU",
        "rerun_s": "release again (already released: no-op)",
        "forced_rerun_s": "release forced again (every key conflicts: writes nothing)",
        "counts_s": "counts of the broadcast (receipts + outbox statuses)",
        "remind_s": "reminder to every non-acknowledger",
        "remind_server_cpu_s": "… of which PostgreSQL backend CPU",
    }
    print(f"| step ({args.recipients:,} recipients, median of {args.repeat}) | median s | max s |")
    print("|---|---:|---:|")
    for name, label in labels.items():
        print(f"| {label} | {summary[name]['median']:.2f} | {summary[name]['max']:.2f} |")
    load = os.getloadavg()[0]
    result["load_average_1min_at_end"] = round(load, 2)
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(
        f"\n{result['recipients_per_s']:,} recipients/s (wall); load average {load:.1f} on {os.cpu_count()} cores;"
    )
    print(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
