"""Shift-start load test (issue 16): N virtual team leaders start a shift within a window —
each follows the account, scans their point's QR, opens the check form through WeChat's
OAuth, uploads a photo and submits the daily check with one hazard — against gunicorn +
PostgreSQL + Redis while the dispatcher and the scheduler run; the bare Flask app on the
same gunicorn settings takes the same arrival pattern (one GET per step) as the floor.

    .venv/bin/python bench/shift_start.py [--workers 500] [--window 600] [--compressed 60]
                                          [--threads 100] [--seed 16]

Each window gets a fresh database `ancha_bench_shift` (migrated, standard checklists), N
team leaders in ceil(N/10) enterprises of 10 teams (5 departments × 2 teams), each team
with a point (site, QR scene) and a daily schedule whose task of today is open now
(whatever the weekday and hour: the schedules ignore the working-day calendar and today's
tasks are due later today, as the browser walks do), and one safety officer per enterprise
who gets the 新隐患待指派 notice of every hazard (quiet hours off for them, so the
dispatcher sends now even at night). Arrivals are a Poisson process conditioned on N
arrivals in the window (N sorted uniform times); each virtual worker is one
`requests.Session`, like one phone, on a thread pool sized for the peak.

Processes (same environment): the app on 127.0.0.1:8200 and the bare app on :8201 under
`deploy/gunicorn.conf.py`; `flask notifications dispatch` and `flask scheduler run`; and
the sandbox's fake WeChat API on :8202, a separate gunicorn of the same app standing in
for api.weixin.qq.com, so the web's OAuth code exchange and the dispatcher's sends go over
HTTP as in production. (Not the app's own server: a sync worker that calls its own server
waits for the other worker, and two OAuth callbacks at once would wait on each other
until the client's 10 s read timeout.)

Writes bench/results/shift_start.json and prints Markdown tables for docs/PERFORMANCE.md.
Goal (issue 16): 500 workers within 10 minutes, p99 < 300 ms per step, no error; and in
the database afterwards exactly N submissions, N hazards, every hazard's notice sent once.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.callback import GUNICORN, signed_query, stop  # noqa: E402
from bench.callback import env as callback_env  # noqa: E402

DB_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/ancha_bench_shift")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/8")
APP_PORT, BARE_PORT, WECHAT_PORT = 8200, 8201, 8202
BASE = f"http://127.0.0.1:{APP_PORT}"
BARE = f"http://127.0.0.1:{BARE_PORT}"
WECHAT_API = f"http://127.0.0.1:{WECHAT_PORT}/sandbox/wx"
# The fake WeChat API: threads, so it never holds up a caller behind another.
WECHAT_GUNICORN = ["-k", "gthread", "--workers", "1", "--threads", "16", "--log-level", "warning", "--timeout", "30"]
WORK_DIR = Path(tempfile.gettempdir()) / "ancha-bench-shift"
RESULTS = ROOT / "bench/results"
FLASK = [str(ROOT / ".venv/bin/flask"), "--app", "app"]
TEAMS_PER_ENTERPRISE = 10
TEAMS_PER_DEPARTMENT = 2
# What a person waits for, in order: the follow's reply, the scan's reply, the point page
# (the reply's link, through WeChat OAuth the first time), the check form (开始检查), the
# photo staged, the check submitted and its result page shown.
STEPS = ("follow", "scan", "point", "form", "photo", "submit")
GOAL_P99_MS = 300.0
PHOTO_VARIANTS = 12
HAZARD_NOTE = "配电箱门未关闭，箱内接线端子裸露"
# Where the phone says it is (the form's optional location).
PLANT = ("34.86412", "113.62535", "15")
WECHAT_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN"
)


def env() -> dict[str, str]:
    """The environment of every process of the run (web, dispatcher, scheduler, fake API)."""
    return {
        **callback_env(),
        "DATABASE_URL": DB_URL,
        "REDIS_URL": REDIS_URL,
        "PUBLIC_BASE_URL": BASE,
        "WECHAT_API_BASE_URL": WECHAT_API,
        "MEDIA_ROOT": str(WORK_DIR / "media"),
        "WECHAT_SPOOL_DIR": str(WORK_DIR / "spool"),
    }


def settings() -> dict[str, str]:
    keys = ("ANCHA_ENV", "SECRET_KEY", "DATABASE_URL", "REDIS_URL", "WECHAT_SANDBOX", "WECHAT_TOKEN",
            "PUBLIC_BASE_URL", "WECHAT_API_BASE_URL", "MEDIA_ROOT", "WECHAT_SPOOL_DIR")
    e = env()
    return {k: e[k] for k in keys}


# --- set-up -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Worker:
    n: int
    openid: str
    site_token: str
    task_id: int


def open_now(now: datetime) -> tuple[datetime, datetime]:
    """(due_at, grace_until) of a task of today open for the whole run whatever the hour: due
    three hours from now but never past the local day's last second (a task due after
    midnight is tomorrow's), two hours of grace after that (tests/browser `open_for_the_walk`)."""
    from datetime import time as clock_time

    from app.clock import LOCAL_TZ, to_local

    end_of_day = datetime.combine(to_local(now).date(), clock_time(23, 59, 59), LOCAL_TZ)
    due_at = min(now + timedelta(hours=3), end_of_day)
    return due_at, due_at + timedelta(hours=2)


def prepare(count: int) -> list[Worker]:
    """Fresh database and Redis, and `count` team leaders who each owe today's daily check."""
    from sqlalchemy import select

    from app import create_app
    from app.accounts.domain import Role
    from app.clock import local_today, utcnow
    from app.extensions import db, redis_client
    from app.hazard_reporting.checks.domain import CheckLevel, ScheduleKind
    from app.hazard_reporting.checks.models import CheckTask
    from app.hazard_reporting.schedules import service as schedule_service
    from app.hazard_reporting.schedules.domain import ROUTINE_DEFAULTS
    from app.hazard_reporting.schedules.models import CheckSchedule
    from app.notifications.models import NotificationPreference
    from tests.conftest import recreate_postgres_database
    from tests.fixtures.builders import Builders, valid_uscc

    recreate_postgres_database(DB_URL)
    for command in (["db", "upgrade"], ["checklists", "load"]):
        subprocess.run([*FLASK, *command], env=env(), cwd=ROOT, check=True, capture_output=True)
    shutil.rmtree(WORK_DIR, ignore_errors=True)
    (WORK_DIR / "media").mkdir(parents=True)
    (WORK_DIR / "spool").mkdir(parents=True)
    app = create_app(settings())
    redis_client().flushdb()
    daily = ROUTINE_DEFAULTS[CheckLevel.DAILY]
    now = utcnow()
    today = local_today(now)
    leaders: list[tuple[int, str, str, int]] = []  # (n, openid, site token, schedule id)
    with app.app_context(), db.new_session() as session:
        build = Builders(session)
        town = build.town(code="BENCH-SHIFT", name="压测镇")
        for e in range((count + TEAMS_PER_ENTERPRISE - 1) // TEAMS_PER_ENTERPRISE):
            enterprise = build.enterprise(
                town, uscc=valid_uscc(900_000 + e), name=f"郑州安查压测第{e + 1:02d}机械制造有限公司",
                address=f"压测路{e + 1}号",
            )
            officer = build.member(
                enterprise, Role.SAFETY_OFFICER,
                user=build.user(display_name=f"安全员{e + 1:02d}", openid=f"o-shift-officer-{e:06d}", subscribed=True),
            )
            # A safety officer on duty at night: no quiet hours, so the notices go out now.
            session.add(NotificationPreference(user_id=officer.id, digest_only=False, quiet_start=None,
                                               quiet_end=None, updated_at=now))
            teams = min(TEAMS_PER_ENTERPRISE, count - e * TEAMS_PER_ENTERPRISE)
            department = None
            for t in range(teams):
                n = e * TEAMS_PER_ENTERPRISE + t
                if t % TEAMS_PER_DEPARTMENT == 0:
                    department = build.department(enterprise, name=f"生产{t // TEAMS_PER_DEPARTMENT + 1}部")
                team = build.team(department, name=f"{t + 1}班")
                site = build.site(enterprise, name=f"{t + 1}班配电室", area="一号厂房", department_id=department.id)
                leader = build.user(display_name=f"班长{n + 1:03d}", openid=f"o-shift-leader-{n:06d}", subscribed=False)
                build.member(enterprise, Role.TEAM_LEADER, user=leader, team_id=team.id, department_id=department.id)
                schedule = CheckSchedule(
                    enterprise_id=enterprise.id, kind=ScheduleKind.ROUTINE, level=CheckLevel.DAILY,
                    slot=daily.slot, label=daily.label, team_id=team.id, department_id=department.id,
                    site_id=site.id, due_time=daily.timing.due_time, due_weekday=None, due_month_day=None,
                    grace_minutes=daily.timing.grace_minutes,
                    # Every day, so a weekend or holiday still has today's check.
                    workdays_only=False, starts_on=today, active=True,
                )
                session.add(schedule)
                session.flush()
                leaders.append((n, leader.openid, site.token, schedule.id))
        schedule_service.generate_tasks(session, now)
        due_at, grace_until = open_now(now)
        tasks = {
            t.schedule_id: t
            for t in session.scalars(select(CheckTask).where(CheckTask.period_start == today))
        }
        for task in tasks.values():
            task.due_at, task.grace_until = due_at, grace_until
        session.commit()
        workers = [Worker(n, openid, token, tasks[schedule_id].id) for n, openid, token, schedule_id in leaders]
    db.engine.dispose()
    return workers


def photos() -> list[bytes]:
    """Phone-like JPEGs of 100–300 KB (1280×960, a scene with sensor-like noise), all different."""
    from PIL import Image, ImageDraw

    out = []
    rng = random.Random(7)
    for k in range(PHOTO_VARIANTS):
        image = Image.new("RGB", (1280, 960), (90 + k * 5, 100, 110))
        draw = ImageDraw.Draw(image)
        draw.rectangle((0, 700, 1280, 960), fill=(70, 66, 60))
        draw.rectangle((300, 200, 980, 760), fill=(200, 170 - k * 6, 60), outline=(30, 30, 30), width=10)
        for _ in range(40):
            x, y = rng.randrange(300, 980), rng.randrange(200, 760)
            draw.line((x, y, x + rng.randrange(-200, 200), y + rng.randrange(-200, 200)), fill=(20, 20, 20), width=6)
        noise = Image.effect_noise((1280, 960), 24).convert("RGB")
        image = Image.blend(image, noise, 0.12)
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=80)
        out.append(buffer.getvalue())
    return out


# --- processes ----------------------------------------------------------------------------------


def logfile(name: str):
    (RESULTS / "shift_start_logs").mkdir(parents=True, exist_ok=True)
    return open(RESULTS / "shift_start_logs" / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process


def serve(app_spec: str, port: int, options: list[str], name: str) -> subprocess.Popen:
    log = logfile(name)
    proc = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), *options, "--bind", f"127.0.0.1:{port}", app_spec],
        env=env(), cwd=ROOT, start_new_session=True, stdout=log, stderr=subprocess.STDOUT,
    )
    for _ in range(150):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/wechat/callback?{signed_query()}&echostr=1", timeout=1)
            return proc
        except urllib.error.HTTPError:
            return proc  # answering (the bare app takes no GET there: 405)
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{app_spec} on :{port} did not start")


def background(args: list[str], name: str) -> subprocess.Popen:
    return subprocess.Popen(
        [*FLASK, *args], env=env(), cwd=ROOT, start_new_session=True,
        stdout=logfile(name), stderr=subprocess.STDOUT,
    )


def stop_flask(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


# --- CPU and memory per process, from /proc -----------------------------------------------------

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds user+system) of a live process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / CLK_TCK


def _memory(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in KiB; PSS shares each shared page among its users (forked workers,
    PostgreSQL's shared buffers), so sums over processes stay honest."""
    rss = pss = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


class ProcessMonitor:
    """Samples groups of processes every `interval` s: CPU seconds since `start()` and the
    peak of the group's summed RSS and PSS. A group is a root pid and its descendants, or
    every process whose command line matches a pattern (PostgreSQL backends)."""

    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        self.roots: dict[str, int] = {}
        self.alone: set[str] = set()  # roots counted without their descendants
        self.patterns: dict[str, re.Pattern] = {}
        self.first: dict[int, float] = {}  # pid → CPU seconds when first seen after start
        self.last: dict[tuple[str, int], float] = {}
        self.peak: dict[str, tuple[int, int]] = {}
        self.pids: dict[str, set[int]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add_root(self, name: str, pid: int, alone: bool = False) -> None:
        self.roots[name] = pid
        if alone:
            self.alone.add(name)

    def add_pattern(self, name: str, pattern: str) -> None:
        self.patterns[name] = re.compile(pattern)

    def _groups(self) -> dict[str, set[int]]:
        stats = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                stat = _stat(int(entry))
                if stat:
                    stats[int(entry)] = stat
        children: dict[int, list[int]] = {}
        for pid, (ppid, _) in stats.items():
            children.setdefault(ppid, []).append(pid)
        groups: dict[str, set[int]] = {}
        for name, root in self.roots.items():
            found, todo = set(), [root] if root in stats else []
            while todo:
                pid = todo.pop()
                found.add(pid)
                if name not in self.alone:
                    todo.extend(children.get(pid, []))
            groups[name] = found
        for name, pattern in self.patterns.items():
            groups[name] = {pid for pid in stats if pattern.search(_cmdline(pid))}
        self._stats = stats
        return groups

    def sample(self, baseline: bool = False) -> None:
        groups = self._groups()
        for name, pids in groups.items():
            self.pids.setdefault(name, set()).update(pids)
            rss = pss = 0
            for pid in pids:
                cpu = self._stats[pid][1]
                if baseline:
                    self.first[pid] = cpu
                else:
                    self.first.setdefault(pid, 0.0)  # started during the run: all of it counts
                self.last[(name, pid)] = cpu
                r, p = _memory(pid)
                rss, pss = rss + r, pss + p
            old = self.peak.get(name, (0, 0))
            self.peak[name] = (max(old[0], rss), max(old[1], pss))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def start(self) -> None:
        self.sample(baseline=True)
        self._thread = threading.Thread(target=self._run, name="monitor", daemon=True)
        self._thread.start()

    def finish(self) -> dict[str, dict]:
        self._stop.set()
        if self._thread:
            self._thread.join()
        self.sample()
        out = {}
        for name in [*self.roots, *self.patterns]:
            cpu = sum(v - self.first.get(pid, 0.0) for (g, pid), v in self.last.items() if g == name)
            rss, pss = self.peak.get(name, (0, 0))
            out[name] = {
                "cpu_s": round(cpu, 2),
                "peak_rss_mib": round(rss / 1024, 1),
                "peak_pss_mib": round(pss / 1024, 1),
                "processes": len(self.pids.get(name, ())),
            }
        return out


# --- the virtual workers ------------------------------------------------------------------------


class PageError(Exception):
    """A response that is not the page the step expects."""


@dataclass
class Record:
    """One virtual worker's run: per step (latency ms, status, error); per request too."""

    steps: dict[str, tuple[float, int, str | None]] = field(default_factory=dict)
    requests: list[tuple[str, float, int]] = field(default_factory=list)
    lag_ms: float = 0.0


class Phone:
    """One virtual worker's WeChat: the callback as WeChat posts it, and a webview session."""

    def __init__(self, record: Record, base: str) -> None:
        self.http = requests.Session()
        self.http.headers.update({"User-Agent": WECHAT_UA, "Accept-Language": "zh-CN"})
        self.record = record
        self.base = base
        self.spent = 0.0
        self.status = 0

    def request(self, label: str, method: str, url: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        start = time.perf_counter()
        response = self.http.request(method, url, allow_redirects=False, **kwargs)
        ms = (time.perf_counter() - start) * 1000
        self.spent += ms
        self.status = response.status_code
        self.record.requests.append((label, ms, response.status_code))
        if response.status_code >= 400:
            raise PageError(f"{label}: HTTP {response.status_code} {response.text[:200]!r}")
        return response

    def step(self, name: str, body) -> object:
        self.spent, self.status = 0.0, 0
        try:
            result = body()
        except (PageError, requests.RequestException) as exc:
            self.record.steps[name] = (self.spent, self.status, f"{type(exc).__name__}: {exc}"[:300])
            raise
        self.record.steps[name] = (self.spent, self.status, None)
        return result


_create_times = iter(range(1_700_000_000, 10**10))
_create_lock = threading.Lock()


def callback_xml(openid: str, event: str, event_key: str | None) -> str:
    with _create_lock:
        created = next(_create_times)
    key = f"<EventKey><![CDATA[{event_key}]]></EventKey><Ticket><![CDATA[bench]]></Ticket>" if event_key else ""
    return (
        "<xml><ToUserName><![CDATA[gh_ancha]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName><CreateTime>{created}</CreateTime>"
        f"<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[{event}]]></Event>{key}</xml>"
    )


_nonce_lock = threading.Lock()
_nonces = iter(range(10**9))
RUN_ID = f"{os.getpid():x}{int(time.time()) % 100000:05d}"


def unique_query() -> str:
    """A signed query with a nonce never used before (the callback refuses a replayed one)."""
    with _nonce_lock:
        n = next(_nonces)
    return signed_query(f"{RUN_ID}{n:07d}")


def post_event(phone: Phone, label: str, openid: str, event: str, key: str | None) -> str:
    response = phone.request(
        label, "POST", f"{phone.base}/wechat/callback?{unique_query()}",
        data=callback_xml(openid, event, key).encode(), headers={"Content-Type": "text/xml"},
    )
    return response.text


_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
_ITEM = re.compile(r'<section class="ck-item[^"]*" id="item-([^"]+)" data-item="[^"]+">(.*?)</section>', re.S)


def follow_redirects(phone: Phone, label: str, url: str, openid: str) -> tuple[requests.Response, str]:
    """GET `url` and follow redirects as a browser does; at WeChat's authorize page the user
    is `openid` (the sandbox takes `&openid=` as the choice)."""
    hops = 0
    while True:
        path = urlsplit(url).path
        hop = "authorize" if "/oauth2/authorize" in path else "oauth_callback" if path.endswith("/oauth/callback") else "page"
        if hop == "authorize":
            url = f"{url}&openid={openid}"
        response = phone.request(f"{label}:{hop}", "GET", url)
        if response.status_code not in (301, 302, 303, 307, 308):
            return response, url
        url = urljoin(url, response.headers["Location"])
        hops += 1
        if hops > 6:
            raise PageError(f"{label}: too many redirects")


def shift_start(worker: Worker, photo: bytes, record: Record) -> None:
    """Follow, scan, open the point page (OAuth), open the form, stage a photo, submit."""
    phone = Phone(record, BASE)
    openid, token = worker.openid, worker.site_token

    def follow():
        reply = post_event(phone, "follow", openid, "subscribe", None)
        if "欢迎回来" not in reply:
            raise PageError(f"follow: unexpected reply {reply[:200]!r}")

    def scan() -> str:
        reply = post_event(phone, "scan", openid, "SCAN", f"site:{token}")
        match = re.search(r'href="([^"]*/h5/scan/' + re.escape(token) + ')"', reply)
        if not match:
            raise PageError(f"scan: no link to the point in {reply[:300]!r}")
        return match.group(1)

    phone.step("follow", follow)
    link = phone.step("scan", scan)

    def point() -> str:
        response, _ = follow_redirects(phone, "point", link, openid)
        href = f'href="/h5/checks/{worker.task_id}?site={token}"'
        if response.status_code != 200 or href not in response.text:
            raise PageError(f"point: no 开始检查 for task {worker.task_id} ({response.status_code})")
        return f"{BASE}/h5/checks/{worker.task_id}?site={token}"

    form_url = phone.step("point", point)

    def form() -> tuple[dict[str, str], list[str], str, str]:
        response = phone.request("form", "GET", form_url)
        page = response.text
        if response.status_code != 200 or "<h1>班组日排查</h1>" not in page:
            raise PageError(f"form: not the check form ({response.status_code})")
        hidden = dict(_HIDDEN.findall(page))
        meta = re.search(r'<meta name="csrf-token" content="([^"]+)"', page)
        items = _ITEM.findall(page)
        if not items or "csrf_token" not in hidden or not meta:
            raise PageError("form: no items or no CSRF token")
        codes = [code for code, _ in items]
        # One item fails: the first that is neither a major-hazard item nor one for review.
        failing = next((c for c, body in items if "不符合即重大隐患" not in body and "复核定级" not in body), codes[0])
        return hidden, codes, failing, meta.group(1)

    hidden, codes, failing, csrf_header = phone.step("form", form)
    origin = {"Origin": BASE, "Referer": form_url}

    def stage() -> str:
        response = phone.request(
            "photo", "POST", f"{BASE}/h5/checks/{worker.task_id}/photos",
            files={"photo": ("photo.jpg", photo, "image/jpeg")},
            headers={"Accept": "application/json", "X-CSRFToken": csrf_header, **origin},
        )
        answer = response.json() if response.status_code == 201 else {}
        if not answer.get("token"):
            raise PageError(f"photo: not staged ({response.status_code} {response.text[:200]!r})")
        return answer["token"]

    photo_token = phone.step("photo", stage)

    def submit() -> None:
        fields = [(name, hidden.get(name, "")) for name in ("csrf_token", "site_token", "idempotency_key")]
        fields += [("latitude", PLANT[0]), ("longitude", PLANT[1]), ("location_accuracy", PLANT[2])]
        for code in codes:
            fields.append((f"result-{code}", "hazard" if code == failing else "ok"))
        fields += [(f"note-{failing}", HAZARD_NOTE), (f"photo-{failing}", photo_token)]
        # multipart/form-data, as the page's FormData sends it.
        response = phone.request(
            "submit", "POST", f"{BASE}/h5/checks/{worker.task_id}",
            files=[(name, (None, value)) for name, value in fields],
            headers={"Accept": "application/json", **origin},
        )
        url = (response.json() if response.status_code == 200 else {}).get("url")
        if url != f"/h5/checks/{worker.task_id}/result":
            raise PageError(f"submit: {response.status_code} {response.text[:200]!r}")
        result = phone.request("submit:result", "GET", f"{BASE}{url}")
        if "已提交" not in result.text or "data-hazard" not in result.text:
            raise PageError("submit: the result page does not show the check and its hazard")

    phone.step("submit", submit)


def bare_shift(worker: Worker, photo: bytes, record: Record) -> None:
    """The floor: the same arrival, one GET of the bare app per step."""
    phone = Phone(record, BARE)
    for step in STEPS:
        phone.step(step, lambda step=step: phone.request(step, "GET", f"{BARE}/bare/{step}"))


# --- a run --------------------------------------------------------------------------------------


def arrivals(count: int, window: float, seed: int) -> list[float]:
    """A Poisson process conditioned on `count` arrivals in [0, window): sorted uniform times."""
    rng = random.Random(seed)
    return sorted(rng.uniform(0, window) for _ in range(count))


def drive(workers: list[Worker], times: list[float], flow, threads: int, pictures: list[bytes]) -> tuple[list[Record], float]:
    """Start each worker's flow at its arrival time on a pool of `threads`; (records, seconds)."""
    records = [Record() for _ in workers]
    start = time.perf_counter()

    def run(k: int) -> None:
        records[k].lag_ms = (time.perf_counter() - start - times[k]) * 1000
        try:
            flow(workers[k], pictures[k % len(pictures)], records[k])
        except Exception as exc:  # recorded in the step; anything else is a bench bug
            if not isinstance(exc, PageError | requests.RequestException):
                records[k].steps.setdefault("bench", (0.0, 0, f"{type(exc).__name__}: {exc}"))

    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="phone") as pool:
        for k, at in enumerate(times):
            delay = at - (time.perf_counter() - start)
            if delay > 0:
                time.sleep(delay)
            pool.submit(run, k)
    return records, time.perf_counter() - start


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def summarize(records: list[Record], expected: int) -> dict:
    steps = {}
    for step in STEPS:
        done = [r.steps[step] for r in records if step in r.steps]
        ok = [ms for ms, _, error in done if error is None]
        errors = [error for _, _, error in done if error is not None]
        steps[step] = {
            "count": len(done),
            "ok": len(ok),
            "errors": len(errors),
            "not_reached": expected - len(done),
            "p50_ms": round(percentile(ok, 50), 1),
            "p95_ms": round(percentile(ok, 95), 1),
            "p99_ms": round(percentile(ok, 99), 1),
            "max_ms": round(max(ok), 1) if ok else None,
            "error_examples": sorted(set(errors))[:5],
        }
    per_request: dict[str, list[float]] = {}
    statuses: dict[str, dict[int, int]] = {}
    for r in records:
        for label, ms, status in r.requests:
            per_request.setdefault(label, []).append(ms)
            bucket = statuses.setdefault(label, {})
            bucket[status] = bucket.get(status, 0) + 1
    requests_summary = {
        label: {
            "count": len(values),
            "p50_ms": round(percentile(values, 50), 1),
            "p99_ms": round(percentile(values, 99), 1),
            "max_ms": round(max(values), 1),
            "statuses": statuses[label],
        }
        for label, values in per_request.items()
    }
    lags = [r.lag_ms for r in records]
    bench_errors = [r.steps["bench"][2] for r in records if "bench" in r.steps]
    return {
        "steps": steps,
        "requests": requests_summary,
        "start_lag_ms": {"p50": round(percentile(lags, 50), 1), "max": round(max(lags), 1)},
        "bench_errors": bench_errors[:5],
        "completed": sum(1 for r in records if all(r.steps.get(s, (0, 0, "x"))[2] is None for s in STEPS)),
    }


def drain_outbox(expected: int, timeout: float = 180.0) -> float:
    """Wait until `expected` hazard notices are sent (or nothing is due any more); seconds."""
    from sqlalchemy import create_engine, text

    engine = create_engine(DB_URL)
    start = time.perf_counter()
    try:
        while time.perf_counter() - start < timeout:
            with engine.connect() as conn:
                sent = conn.scalar(text("SELECT count(*) FROM outbox_messages WHERE kind = 'hazard_reported' AND status = 'sent'"))
                due = conn.scalar(text("SELECT count(*) FROM outbox_messages WHERE status IN ('queued', 'retrying')"))
            if sent >= expected and not due:
                break
            time.sleep(0.5)
    finally:
        engine.dispose()
    return time.perf_counter() - start


def audit(workers: list[Worker]) -> dict:
    """The database and the fake WeChat after the run: submissions, hazards, photos, notices."""
    import redis
    from sqlalchemy import create_engine, text

    engine = create_engine(DB_URL)
    with engine.connect() as conn:
        def one(sql: str) -> int:
            return conn.scalar(text(sql))

        outbox = {
            f"{kind}:{status}": count
            for kind, status, count in conn.execute(
                text("SELECT kind, status, count(*) FROM outbox_messages GROUP BY kind, status ORDER BY 1, 2")
            )
        }
        per_hazard = conn.execute(text(
            "SELECT h.id, count(o.id), count(o.id) FILTER (WHERE o.status = 'sent') FROM hazards h "
            "LEFT JOIN outbox_messages o ON o.kind = 'hazard_reported' AND (o.payload->>'hazard_id')::int = h.id "
            "GROUP BY h.id"
        )).all()
        latency = conn.execute(text(
            "SELECT percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY extract(epoch FROM sent_at - created_at)), "
            "max(extract(epoch FROM sent_at - created_at)) FROM outbox_messages WHERE kind = 'hazard_reported' AND sent_at IS NOT NULL"
        )).one()
        result = {
            "submissions": one("SELECT count(*) FROM check_submissions"),
            "tasks_done": one("SELECT count(*) FROM check_tasks WHERE status IN ('done', 'done_late')"),
            "item_results": one("SELECT count(*) FROM check_item_results"),
            "hazards": one("SELECT count(*) FROM hazards"),
            "hazard_photos": one("SELECT count(*) FROM hazard_photos"),
            "hazards_with_one_notice_sent": sum(1 for _, rows, sent in per_hazard if rows == 1 and sent == 1),
            "hazards_without_notice": sum(1 for _, rows, _ in per_hazard if rows == 0),
            "hazards_with_several_notices": sum(1 for _, rows, _ in per_hazard if rows > 1),
            "users_following": one("SELECT count(*) FROM users WHERE openid LIKE 'o-shift-leader-%' AND subscribed"),
            "outbox": outbox,
            "notice_wait_s": {
                "p50": round(latency[0][0], 2) if latency[0] else None,
                "p99": round(latency[0][1], 2) if latency[0] else None,
                "max": round(float(latency[1]), 2) if latency[1] is not None else None,
            },
        }
    engine.dispose()
    # What reached the officers' phones: template messages per hazard (sandbox log in Redis).
    client = redis.Redis.from_url(REDIS_URL)
    delivered: dict[int, int] = {}
    for key in client.scan_iter("ancha:sandbox:messages:o-shift-officer-*"):
        for raw in client.lrange(key, 0, -1):
            entry = json.loads(raw)
            match = re.search(r"/h5/hazards/(\d+)", str(entry.get("body", {}).get("url", "")))
            if entry.get("kind") == "template" and match:
                delivered[int(match.group(1))] = delivered.get(int(match.group(1)), 0) + 1
    result["templates_delivered"] = sum(delivered.values())
    result["hazards_delivered_once"] = sum(1 for v in delivered.values() if v == 1)
    result["hazards_delivered_twice_or_more"] = sum(1 for v in delivered.values() if v > 1)
    result["expected"] = len(workers)
    return result


def log_problems() -> dict[str, int]:
    """Tracebacks and ERROR lines in the processes' logs of this run."""
    out = {}
    for path in sorted((RESULTS / "shift_start_logs").glob("*.log")):
        content = path.read_text(errors="replace")
        out[path.stem] = content.count("Traceback") + len(re.findall(r"\bERROR\b", content))
    return out


def app_run(count: int, window: float, threads: int, seed: int, pictures: list[bytes], warmup: int) -> dict:
    print(f"[{time.strftime('%H:%M:%S')}] app: set-up of {count} + {warmup} workers", flush=True)
    everyone = prepare(count + warmup)
    workers, warm = everyone[:count], everyone[count:]
    shutil.rmtree(RESULTS / "shift_start_logs", ignore_errors=True)
    wechat = serve("app:create_app()", WECHAT_PORT, WECHAT_GUNICORN, "fake_wechat_api")
    web = serve("app:create_app()", APP_PORT, GUNICORN, "web")
    dispatcher = background(["notifications", "dispatch"], "dispatcher")
    scheduler = background(["scheduler", "run"], "scheduler")
    monitor = ProcessMonitor()
    try:
        # Warm-up: a few extra workers go the whole way first, so each gunicorn worker has
        # imported, compiled its templates and opened its pools before the measured arrivals
        # (a server at a shift start has been up for hours); the scheduler's start-up jobs run.
        warm_records, _ = drive(warm, [k * 0.5 for k in range(warmup)], shift_start, threads, pictures)
        warm_errors = [e for r in warm_records for _, _, e in r.steps.values() if e]
        time.sleep(5)
        monitor.add_root("web (gunicorn master + workers)", web.pid)
        monitor.add_root("dispatcher", dispatcher.pid)
        monitor.add_root("scheduler", scheduler.pid)
        monitor.add_pattern("PostgreSQL backends of the run", r"^postgres: .*ancha_bench_shift ")
        monitor.add_root("fake WeChat API (stands in for WeChat)", wechat.pid)
        monitor.add_pattern("redis-server (shared)", r"^/usr/bin/redis-server|^redis-server")
        monitor.add_root("load generator (this process)", os.getpid(), alone=True)
        monitor.start()
        print(f"[{time.strftime('%H:%M:%S')}] app: {count} arrivals over {window:.0f} s", flush=True)
        records, seconds = drive(workers, arrivals(count, window, seed), shift_start, threads, pictures)
        drain = drain_outbox(count + warmup)
        processes = monitor.finish()
    finally:
        for proc in (scheduler, dispatcher):
            stop_flask(proc)
        stop(web)
        stop(wechat)
    summary = summarize(records, count)
    summary |= {"duration_s": round(seconds, 1), "outbox_drain_after_last_worker_s": round(drain, 1),
                "warmup_workers": warmup, "warmup_errors": warm_errors[:5],
                "processes": processes, "audit": audit(everyone), "log_problems": log_problems()}
    return summary


def bare_run(count: int, window: float, threads: int, seed: int, warmup: int) -> dict:
    print(f"[{time.strftime('%H:%M:%S')}] bare: {count} arrivals over {window:.0f} s", flush=True)
    workers = [Worker(n, "", "", 0) for n in range(count + warmup)]
    proc = serve("bench.bare_app:app", BARE_PORT, GUNICORN, "bare")
    monitor = ProcessMonitor()
    monitor.add_root("bare (gunicorn master + workers)", proc.pid)
    try:
        drive(workers[count:], [k * 0.5 for k in range(warmup)], bare_shift, threads, [b""])
        time.sleep(1)
        monitor.start()
        records, seconds = drive(workers[:count], arrivals(count, window, seed), bare_shift, threads, [b""])
        processes = monitor.finish()
    finally:
        stop(proc)
    return summarize(records, count) | {"duration_s": round(seconds, 1), "processes": processes}


# --- report -------------------------------------------------------------------------------------


def goal_met(run: dict, count: int) -> bool:
    """p99 under the goal and no error in every step; in the database every worker's check
    (the warm-up's too), hazard and notice exactly once."""
    steps = run["steps"]
    audit_ = run["audit"]
    count = audit_["expected"]
    return (
        all(s["errors"] == 0 and s["not_reached"] == 0 and s["p99_ms"] < GOAL_P99_MS for s in steps.values())
        and audit_["submissions"] == count
        and audit_["hazards"] == count
        and audit_["hazards_with_one_notice_sent"] == count
        and audit_["hazards_delivered_once"] == count
        and audit_["hazards_delivered_twice_or_more"] == 0
    )


def tables(result: dict) -> str:
    lines = ["| window | endpoint | step | p50 ms | p95 ms | p99 ms | max ms | errors |", "|---|---|---|---|---|---|---|---|"]
    for run in result["runs"]:
        for name in ("app", "bare"):
            for step, s in run[name]["steps"].items():
                errors = str(s["errors"]) + (f" (+{s['not_reached']} not reached)" if s["not_reached"] else "")
                lines.append(
                    f"| {run['window_s']:.0f} s | {name} | {step} | {s['p50_ms']:.1f} | {s['p95_ms']:.1f} | "
                    f"{s['p99_ms']:.1f} | {s['max_ms'] if s['max_ms'] is not None else '-'} | {errors} |"
                )
    lines += ["", "| window | process | CPU s | CPU ms per worker | peak RSS MiB | peak PSS MiB |", "|---|---|---|---|---|---|"]
    for run in result["runs"]:
        for name in ("app", "bare"):
            for proc, p in run[name]["processes"].items():
                per = p["cpu_s"] * 1000 / result["workers"]
                lines.append(
                    f"| {run['window_s']:.0f} s | {proc} | {p['cpu_s']:.1f} | {per:.1f} | {p['peak_rss_mib']:.0f} | {p['peak_pss_mib']:.0f} |"
                )
    lines += ["", "| window | duration s | workers completed | submissions | hazards | hazard photos | notices: one row, sent | "
              "delivered to WeChat once | goal |", "|---|---|---|---|---|---|---|---|---|"]
    for run in result["runs"]:
        a, app = run["app"]["audit"], run["app"]
        expected = a["expected"]
        lines.append(
            f"| {run['window_s']:.0f} s | {app['duration_s']} | {app['completed']}/{result['workers']} | "
            f"{a['submissions']}/{expected} | {a['hazards']}/{expected} | {a['hazard_photos']}/{expected} | "
            f"{a['hazards_with_one_notice_sent']}/{expected} | {a['hazards_delivered_once']}/{expected} | "
            f"{'met' if run['goal_met'] else 'missed'} |"
        )
    lines.append(f"\n(expected = {result['workers']} measured + {result['warmup_workers']} warm-up workers)")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=500)
    parser.add_argument("--window", type=float, default=600.0, help="arrival window, seconds")
    parser.add_argument("--compressed", type=float, default=60.0, help="the compressed window; 0 to skip")
    parser.add_argument("--threads", type=int, default=100)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=4, help="extra workers before the measured arrivals")
    parser.add_argument("--out", default=str(RESULTS / "shift_start.json"), help="where the JSON goes")
    parser.add_argument("--no-bare", action="store_true", help="skip the bare-app baseline")
    args = parser.parse_args()

    RESULTS.mkdir(exist_ok=True)
    pictures = photos()
    windows = [args.window] + ([args.compressed] if args.compressed else [])
    started = datetime.now(UTC)
    runs = []
    for window in windows:
        app = app_run(args.workers, window, args.threads, args.seed, pictures, args.warmup)
        # Keep this window's logs beside the results.
        logs = RESULTS / "shift_start_logs"
        if logs.exists():
            target = RESULTS / f"shift_start_logs_{window:.0f}s"
            shutil.rmtree(target, ignore_errors=True)
            logs.rename(target)
        bare = None if args.no_bare else bare_run(args.workers, window, args.threads, args.seed, args.warmup)
        run = {"window_s": window, "app": app, "bare": bare or {"steps": {}, "processes": {}}}
        run["goal_met"] = goal_met(app, args.workers)
        runs.append(run)
        print(json.dumps({k: v for k, v in app.items() if k != "requests"}, indent=2, ensure_ascii=False), flush=True)
    load = Path("/proc/loadavg").read_text().split()[:3]
    result = {
        "started_utc": started.isoformat(timespec="seconds"),
        "finished_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average_at_end": load,
        "workers": args.workers,
        "warmup_workers": args.warmup,
        "threads": args.threads,
        "seed": args.seed,
        "gunicorn": " ".join(GUNICORN),
        "photo_bytes": [len(p) for p in pictures],
        "goal": f"p99 < {GOAL_P99_MS:.0f} ms per step, no error, N submissions, N hazards, every notice sent once",
        "runs": runs,
    }
    Path(args.out).write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print()
    print(tables(result))


if __name__ == "__main__":
    main()
