"""Dispatcher benchmark on PostgreSQL + Redis, against the sandbox's fake WeChat API served by
gunicorn on a loopback port (real HTTP, as in production).

    .venv/bin/python bench/dispatch.py [--messages 3000] [--profile]

(a) the dispatcher's own cost per message: once with a client that answers at once (nothing
    but claim, plan, render, quota, record), and once against the fake API with its latency
    at 0, where the time spent inside the API call is measured and subtracted;
(b) throughput with the fake API's latency at 50 ms, for several send concurrencies.

Every run checks that every message ended `sent`. Writes bench/results/dispatch.json and the
`## Dispatcher` section of docs/PERFORMANCE.md (other sections are left alone). Target of
issue "Notifications": < 2 ms of dispatcher overhead per message.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import itertools
import json
import os
import pstats
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DB_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/ancha_bench_dispatch")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/10")
PORT = 8110
API_BASE = f"http://127.0.0.1:{PORT}/sandbox/wx"
GUNICORN = ["-k", "gthread", "--workers", "2", "--threads", "48", "--log-level", "warning", "--timeout", "30"]
USERS = 100
BATCH = 50
GENEROUS = "1000000/minute;100000000/day"


def server_env() -> dict[str, str]:
    return {
        **os.environ,
        "ANCHA_ENV": "development",
        "SECRET_KEY": "bench-secret-key-0123456789abcdef0123456789",
        "DATABASE_URL": DB_URL,
        "REDIS_URL": REDIS_URL,
        "WECHAT_SANDBOX": "1",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{PORT}",
    }


def dispatcher_settings() -> dict[str, str]:
    # Another public URL than the server's, so the client goes over HTTP to the fake API
    # instead of calling it in-process.
    return {
        "ANCHA_ENV": "development",
        "SECRET_KEY": "bench-secret-key-0123456789abcdef0123456789",
        "DATABASE_URL": DB_URL,
        "REDIS_URL": REDIS_URL,
        "WECHAT_SANDBOX": "1",
        "PUBLIC_BASE_URL": "http://ancha.bench",
        "WECHAT_API_BASE_URL": API_BASE,
        "NOTIFY_RATE_TEMPLATE": GENEROUS,
        "NOTIFY_RATE_CUSTOM": GENEROUS,
    }


def prepare():
    """Fresh database at head, empty Redis, the dispatcher's app, USERS followers."""
    from alembic import command

    from app import create_app
    from app.accounts.models import User
    from app.cli import alembic_config
    from app.extensions import db, redis_client
    from app.sandbox.store import SandboxStore
    from tests.conftest import recreate_postgres_database

    recreate_postgres_database(DB_URL)
    command.upgrade(alembic_config(DB_URL), "head")
    app = create_app(dispatcher_settings())
    redis_client().flushdb()
    store = SandboxStore(redis_client(), user_source=lambda openid: [])
    store.ensure_seeded()
    with db.new_session() as session:
        users = [User(display_name=f"用户{n}", openid=f"o-bench-{n:020d}", subscribed=True) for n in range(USERS)]
        session.add_all(users)
        session.commit()
        for user in users:
            store.create_user(openid=user.openid, nickname=user.display_name)
        user_ids = [u.id for u in users]
    return app, user_ids


def serve() -> subprocess.Popen:
    proc = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), *GUNICORN, "--bind", f"127.0.0.1:{PORT}", "app:create_app()"],
        env=server_env(), cwd=ROOT, start_new_session=True,
    )
    for _ in range(150):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{PORT}/sandbox/api/config", timeout=1)
            return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the fake WeChat API did not start")


def stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)


def set_latency(ms: int) -> None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{PORT}/sandbox/api/config", data=json.dumps({"latency_ms": ms}).encode(),
        headers={"Content-Type": "application/json"}, method="POST",
    )
    urllib.request.urlopen(request, timeout=5).read()


_keys = itertools.count()


def queue(user_ids: list[int], count: int, now: datetime) -> list[int]:
    """`count` hazard notices spread over the users, due at `now`, in one INSERT."""
    from sqlalchemy import insert

    from app.extensions import db
    from app.notifications.models import OutboxMessage

    payload = {
        "hazard_id": 4242, "enterprise_id": 1, "enterprise_name": "郑州市金水区某某精密机械制造有限公司",
        "level": "general", "status": "assigned", "description": "冲压车间三号线安全防护罩缺失，存在机械伤害风险",
        "location": "冲压车间三号线", "deadline": (now + timedelta(hours=8)).isoformat(), "action": "assign",
        "actor_id": 1, "actor_name": "张经理", "note": None, "at": now.isoformat(),
    }
    rows = [
        {"kind": "hazard_assigned", "recipient_user_id": user_ids[n % len(user_ids)], "payload": payload,
         "dedupe_key": f"bench:{next(_keys)}", "status": "queued", "urgent": False, "attempts": 0,
         "next_attempt_at": now, "created_at": now}
        for n in range(count)
    ]
    with db.new_session() as session:
        ids = list(session.scalars(insert(OutboxMessage).returning(OutboxMessage.id), rows))
        session.commit()
    return ids


def check_all_sent(ids: list[int]) -> None:
    from sqlalchemy import func, select

    from app.extensions import db
    from app.notifications.models import OutboxMessage

    with db.new_session() as session:
        counts = dict(session.execute(
            select(OutboxMessage.status, func.count()).where(OutboxMessage.id.in_(ids)).group_by(OutboxMessage.status)
        ).all())
    if {str(k): v for k, v in counts.items()} != {"sent": len(ids)}:
        raise RuntimeError(f"not every message was sent: {counts}")


class InstantClient:
    """Answers every send at once, like WeChat with zero latency and zero cost."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)

    def post(self, url: str, **kwargs) -> dict:
        return {"errcode": 0, "errmsg": "ok", "msgid": 2_000_000_000 + next(self._ids)}


class TimedClient:
    """The real client, with the time spent inside API calls added up."""

    def __init__(self, client) -> None:
        self._client = client
        self._lock = threading.Lock()
        self.seconds = 0.0

    def post(self, url: str, **kwargs):
        start = time.perf_counter()
        try:
            return self._client.post(url, **kwargs)
        finally:
            with self._lock:
                self.seconds += time.perf_counter() - start


def dispatcher(app, client, concurrency: int, batch_size: int = BATCH):
    from app.notifications.channels import SendQuota
    from app.notifications.dispatcher import Dispatcher
    from app.notifications.domain import Channel

    # The shared Redis quota, as in production (its Lua calls are part of the cost).
    quota = SendQuota(REDIS_URL, {Channel.TEMPLATE: GENEROUS, Channel.CUSTOM: GENEROUS}, identity="bench")
    quota.reset()
    return Dispatcher.for_app(app, client=client, quota=quota, batch_size=batch_size, concurrency=concurrency,
                              name=f"bench-c{concurrency}")


def run(app, user_ids, client, *, messages: int, concurrency: int, now: datetime, profile: bool = False,
        batch_size: int = BATCH) -> dict:
    ids = queue(user_ids, messages, now)
    worker = dispatcher(app, client, concurrency, batch_size)
    worker.dispatch_batch(now - timedelta(days=1))  # warm-up: connections, token, nothing due yet
    profiler = cProfile.Profile() if profile else None
    start = time.perf_counter()
    if profiler:
        profiler.enable()
    stats = worker.drain(clock=lambda: now)
    if profiler:
        profiler.disable()
    elapsed = time.perf_counter() - start
    worker.close()
    check_all_sent(ids)
    result = {"messages": messages, "concurrency": concurrency, "batch_size": batch_size,
              "seconds": round(elapsed, 3),
              "ms_per_message": round(elapsed * 1000 / messages, 3),
              "messages_per_second": round(messages / elapsed, 1), "sent": stats.sent}
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
        result["profile"] = out.getvalue()
    return result


def write_section(text: str) -> None:
    """Replace (or append) the `## Dispatcher` section of docs/PERFORMANCE.md only."""
    path = ROOT / "docs/PERFORMANCE.md"
    current = path.read_text() if path.exists() else "# Performance\n"
    pattern = re.compile(r"^## Dispatcher\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(current):
        updated = pattern.sub(lambda _m: text.rstrip() + "\n\n", current).rstrip() + "\n"
    else:
        updated = current.rstrip() + "\n\n" + text.rstrip() + "\n"
    path.write_text(updated)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=3000, help="messages per overhead run")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the instant-client run")
    parser.add_argument("--no-docs", action="store_true", help="do not touch docs/PERFORMANCE.md")
    args = parser.parse_args()

    app, user_ids = prepare()
    # 10:00 in Beijing today: daytime, so quiet hours hold nothing.
    today = datetime.now(UTC).astimezone(UTC).date()
    now = datetime(today.year, today.month, today.day, 2, 0, tzinfo=UTC)
    from app.wechat.client import get_wechat_client

    results: dict = {"batch_size": BATCH, "users": USERS}
    results["instant"] = run(app, user_ids, InstantClient(), messages=args.messages, concurrency=1, now=now,
                             profile=args.profile)
    if args.profile:
        print(results["instant"].pop("profile"))
    proc = serve()
    try:
        set_latency(0)
        timed = TimedClient(get_wechat_client(app))
        zero = run(app, user_ids, timed, messages=args.messages // 3, concurrency=1, now=now)
        zero["api_ms_per_message"] = round(timed.seconds * 1000 / zero["messages"], 3)
        zero["overhead_ms_per_message"] = round(zero["ms_per_message"] - zero["api_ms_per_message"], 3)
        results["latency_0"] = zero
        set_latency(50)
        results["latency_50"] = []
        for concurrency, batch_size in ((1, BATCH), (4, BATCH), (16, BATCH), (16, 128), (32, 128)):
            messages = max(100, min(2000, 60 * concurrency))
            outcome = run(app, user_ids, get_wechat_client(app), messages=messages, concurrency=concurrency,
                          now=now, batch_size=batch_size)
            outcome["ideal_messages_per_second"] = round(concurrency / 0.05, 1)
            results["latency_50"].append(outcome)
    finally:
        stop(proc)

    out_dir = ROOT / "bench/results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "dispatch.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))

    instant, zero = results["instant"], results["latency_0"]
    lines = [
        "## Dispatcher",
        "",
        "`.venv/bin/python bench/dispatch.py` — the outbox dispatcher (`app/notifications/dispatcher.py`) on",
        "PostgreSQL + Redis, sending template messages to the sandbox's fake WeChat API served by gunicorn",
        f"({' '.join(GUNICORN)}) over loopback HTTP; batches of {BATCH} rows unless said, {USERS}",
        "recipients, the shared Redis send quota on. Every run ends with every message `sent` (checked).",
        f"Load average when the run ended: {os.getloadavg()[0]:.1f} (other work shares the 2 cores).",
        "",
        "(a) Dispatcher overhead per message (target < 2 ms):",
        "",
        "| run | messages | total ms/msg | inside the API call ms/msg | dispatcher overhead ms/msg |",
        "|---|---|---|---|---|",
        f"| instant client (no network at all) | {instant['messages']} | {instant['ms_per_message']:.2f} | 0 "
        f"| {instant['ms_per_message']:.2f} |",
        f"| fake API, latency 0, concurrency 1 | {zero['messages']} | {zero['ms_per_message']:.2f} "
        f"| {zero['api_ms_per_message']:.2f} | {zero['overhead_ms_per_message']:.2f} |",
        "",
        "(b) Throughput with the fake API answering after 50 ms:",
        "",
        "| send concurrency | batch size | messages | seconds | messages/s | ideal (concurrency / 50 ms) |",
        "|---|---|---|---|---|---|",
    ]
    for outcome in results["latency_50"]:
        lines.append(
            f"| {outcome['concurrency']} | {outcome['batch_size']} | {outcome['messages']} | {outcome['seconds']:.2f} "
            f"| {outcome['messages_per_second']:.0f} | {outcome['ideal_messages_per_second']:.0f} |"
        )
    lines += [
        "",
        "Where the overhead goes, per batch of 50: the claim transaction (SELECT … FOR UPDATE SKIP",
        "LOCKED on the partial due index, one UPDATE … RETURNING, the recipients' preferences, COMMIT),",
        "planning and rendering in Python, the shared quota (one Lua call per window for the whole",
        "batch), and the result transactions: one executemany UPDATE and COMMIT, plus one MGET for",
        "delivery reports that beat the commit, per group of returned sends — up to 25, or each",
        "send on its own when it took 50 ms or more, so a dispatcher killed mid-batch sends twice",
        "only what was in flight or had just returned (issue 16). Profiling the first version",
        "(2.4 ms/message) showed two Redis round trips per message for the quota and one for early",
        "reports; batching them brought it to the numbers above. The claim's status is a SQL",
        "literal: as a bound parameter, psycopg's prepared statements get a generic plan that cannot",
        "use the partial index and scan the whole outbox history. Writing results in groups while",
        "sending costs little: the code before it, run minutes apart on the same machine",
        "(2026-12-05), measured 0.22 / 0.27 ms. (The first run's 1.02 / 1.08 ms was under load",
        "average 6.2.)",
        "",
        "Throughput is bound by concurrency / latency (`NOTIFY_CONCURRENCY`, default 4: at most 80",
        "messages/s, 288 000 an hour, more than the default 100 000 template messages a day allow),",
        "by the batch boundary (a batch waits for its slowest send before the next claim), and here by",
        "CPU: the fake API (Flask, several Redis calls per message), PostgreSQL, Redis and the",
        "dispatcher share two cores, so the higher concurrencies fall well short of the ideal.",
    ]
    section = "\n".join(lines) + "\n"
    print()
    print(section)
    if not args.no_docs:
        write_section(section)


if __name__ == "__main__":
    main()
