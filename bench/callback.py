"""Callback benchmark: SCAN events through /wechat/callback under gunicorn against PostgreSQL +
Redis, measured in the same run as a bare Flask endpoint on the same gunicorn settings.

    .venv/bin/python bench/callback.py [--duration 20] [--connections 50]

Needs `wrk` (Debian package) and the local PostgreSQL/Redis. Writes bench/results/callback.json
and prints a Markdown table for docs/PERFORMANCE.md. Targets (issue "WeChat gateway"):
throughput ≥ 50 % of the bare endpoint, p99 < 50 ms at 50 concurrent connections.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DB_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/ancha_bench")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")
TOKEN = "bench-token"
# The paced runs: each connection waits this long after a reply (offered load <= 50/0.1 s).
PACE_MS = 100
# The production settings for both endpoints (BENCH_GUNICORN replaces them, to compare others).
GUNICORN = os.environ.get("BENCH_GUNICORN", "-c deploy/gunicorn.conf.py --log-level warning").split()


def env() -> dict[str, str]:
    return {
        **os.environ,
        "ANCHA_ENV": "development",
        "SECRET_KEY": "bench-secret-key-0123456789abcdef0123456789",
        "DATABASE_URL": DB_URL,
        "REDIS_URL": REDIS_URL,
        "WECHAT_SANDBOX": "1",
        "WECHAT_TOKEN": TOKEN,
        "PUBLIC_BASE_URL": "http://127.0.0.1:8100",
    }


def prepare() -> list[tuple[str, str]]:
    """Fresh database, migrations, demo seed; returns (openid, site token) pairs of members."""
    from tests.conftest import recreate_postgres_database

    recreate_postgres_database(DB_URL)
    flask = [str(ROOT / ".venv/bin/flask"), "--app", "app"]
    subprocess.run([*flask, "db", "upgrade"], env=env(), cwd=ROOT, check=True, capture_output=True)
    subprocess.run([*flask, "demo", "seed"], env=env(), cwd=ROOT, check=True, capture_output=True)
    out = subprocess.run([*flask, "demo", "seed", "--json"], env=env(), cwd=ROOT, check=True, capture_output=True)
    demo = json.loads(out.stdout)
    sites = {}
    for site in demo["sites"]:
        sites.setdefault(site["enterprise_id"], site["token"])
    pairs = [(u["openid"], sites[u["enterprise_id"]]) for u in demo["virtual_users"]]
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    return pairs


def serve(app_spec: str, port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), *GUNICORN, "--bind", f"127.0.0.1:{port}", app_spec],
        env=env(),
        cwd=ROOT,
        start_new_session=True,
    )
    for _ in range(100):
        try:
            # A signed URL verification, so the callback has nothing to log.
            urllib.request.urlopen(f"http://127.0.0.1:{port}/wechat/callback?{signed_query()}&echostr=1", timeout=1)
            return proc
        except urllib.error.HTTPError:
            return proc  # answering (the bare endpoint takes no GET: 405): up
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{app_spec} did not start")


def stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)


def signed_query(nonce: str = "benchnonce") -> str:
    timestamp = str(int(time.time()))
    signature = hashlib.sha1("".join(sorted([TOKEN, timestamp, nonce])).encode()).hexdigest()
    return f"signature={signature}&timestamp={timestamp}&nonce={nonce}"


QUERIES = ROOT / "bench/scan_queries.txt"
QUERY_COUNT = 200_000


def write_signed_queries() -> None:
    """A fresh signed query per request for the next wrk run (scan.lua reads them): the
    callback refuses a (timestamp, nonce) seen before with another body, as a replay."""
    run = secrets.token_hex(4)
    QUERIES.write_text("".join(signed_query(f"{run}{n:07d}") + "\n" for n in range(QUERY_COUNT)))


def wrk(url: str, duration: int, connections: int, pace_ms: int = 0) -> dict:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "-s", "bench/scan.lua", url],
        env={**os.environ, "WRK_PACE_MS": str(pace_ms)},
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    def ms(label: str) -> float:
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": ms("50"),
        "p99_ms": ms("99"),
        "non_2xx": int(errors.group(1)) if errors else 0,
        "raw": out,
    }


def median_round(runs: list[dict], by: str = "requests_per_s") -> dict:
    """The round with the median `by`, and every round's numbers beside it."""
    ordered = sorted(runs, key=lambda run: run[by])
    middle = dict(ordered[len(ordered) // 2])
    middle["rounds"] = [
        {k: run[k] for k in ("requests_per_s", "p50_ms", "p99_ms", "non_2xx")} for run in runs
    ]
    return middle


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--reuse", action="store_true", help="keep the database and users of the last run")
    args = parser.parse_args()

    if not args.reuse:
        pairs = prepare()
        (ROOT / "bench/scan_users.txt").write_text("".join(f"{o} {t}\n" for o, t in pairs))
    # Alternate the two endpoints for several rounds and keep each one's median round: the
    # machine's speed drifts over a minute, and both should see the same drift.
    rounds: dict[str, list[dict]] = {"bare": [], "callback": []}
    paced: dict[str, list[dict]] = {"bare": [], "callback": []}
    for _ in range(args.rounds):
        for name, spec, port in (("bare", "bench.bare_app:app", 8101), ("callback", "app:create_app()", 8100)):
            proc = serve(spec, port)
            try:
                url = f"http://127.0.0.1:{port}/wechat/callback?{signed_query()}"
                write_signed_queries()
                wrk(url, 3, args.connections)  # warm-up: connections, caches, pools
                write_signed_queries()
                rounds[name].append(wrk(url, args.duration, args.connections))
                write_signed_queries()
                paced[name].append(wrk(url, args.duration, args.connections, PACE_MS))
            finally:
                stop(proc)
    results = {name: median_round(runs) for name, runs in rounds.items()}
    paced_results = {name: median_round(runs, by="p99_ms") for name, runs in paced.items()}
    ratio = results["callback"]["requests_per_s"] / results["bare"]["requests_per_s"]
    summary = {
        "connections": args.connections,
        "duration_s": args.duration,
        "rounds": args.rounds,
        "gunicorn": " ".join(GUNICORN),
        "bare": {k: v for k, v in results["bare"].items() if k != "raw"},
        "callback": {k: v for k, v in results["callback"].items() if k != "raw"},
        "throughput_ratio": round(ratio, 3),
        "paced": {
            "pace_ms": PACE_MS,
            **{name: {k: v for k, v in r.items() if k != "raw"} for name, r in paced_results.items()},
        },
    }
    out_dir = ROOT / "bench/results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "callback.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
    print()
    print("| endpoint | req/s | p50 ms | p99 ms | non-2xx |")
    print("|---|---|---|---|---|")
    for name in ("bare", "callback"):
        r = results[name]
        print(f"| {name} | {r['requests_per_s']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['non_2xx']} |")
    print(f"\nthroughput ratio callback/bare: {ratio:.0%}")
    print(f"\npaced ({args.connections} connections, {PACE_MS} ms between a reply and the next request):")
    for name in ("bare", "callback"):
        r = paced_results[name]
        print(f"| {name} | {r['requests_per_s']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['non_2xx']} |")


if __name__ == "__main__":
    main()
