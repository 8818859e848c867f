"""What both browser walks share: Debian's Chromium, launched headless with the flags this
closed network needs, able to draw Chinese, and the WeChat phone it pretends to be."""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any, TypeVar

import fakeredis
import pytest
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from app.clock import LOCAL_TZ, to_local
from app.enterprises.posters import FONT_PACKAGE

T = TypeVar("T")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WECHAT_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN"
)
SECRET = "browser-test-secret-key-that-is-long-enough-0123"
needs_chromium = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"Chromium is not installed at {CHROMIUM}")


def open_for_the_walk(task: Any, now: datetime) -> None:
    """Make today's `task` due later today (local) whatever the hour the suite runs at: three
    hours from `now`, but never past the local day's last second — a task due after midnight
    is tomorrow's on 工作台 — with two hours of grace after that."""
    end_of_day = datetime.combine(to_local(now).date(), time(23, 59, 59), LOCAL_TZ)
    task.due_at = min(now + timedelta(hours=3), end_of_day)
    task.grace_until = task.due_at + timedelta(hours=2)


def cjk_fontconfig(folder: Path) -> Path:
    """A fontconfig file: the system's fonts plus Noto Sans CJK from the runtime requirements
    (the poster font), so pages render Chinese on a machine without Debian's CJK fonts —
    phones have their own; screenshots of tofu boxes would show nobody anything."""
    spec = importlib.util.find_spec(FONT_PACKAGE)
    font_dir = Path(spec.origin).parent if spec and spec.origin else None
    (folder / "cache").mkdir(parents=True, exist_ok=True)
    conf = folder / "fonts.conf"
    conf.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n'
        '  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>\n'
        + (f"  <dir>{font_dir}</dir>\n" if font_dir else "")
        + f"  <cachedir>{folder / 'cache'}</cachedir>\n</fontconfig>\n",
        encoding="utf-8",
    )
    return conf


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    fonts = cjk_fontconfig(tmp_path_factory.mktemp("fontconfig"))
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, env={**os.environ, "FONTCONFIG_FILE": str(fonts)}
        )
        try:
            yield chromium
        finally:
            chromium.close()


# The app of the live server running now (a walk may drive its outbox dispatcher itself).
RUNNING: dict[str, object] = {}


def awake_now() -> datetime:
    """Now, or the end of the default quiet hours (22:00–07:00) when now falls in them: a walk
    run at night expects its notices now, not held until the morning."""
    from app.clock import utcnow
    from app.notifications.domain import DEFAULT_QUIET_END, DEFAULT_QUIET_START, quiet_until

    now = utcnow()
    quiet_end = quiet_until(now, DEFAULT_QUIET_START, DEFAULT_QUIET_END)
    return now if quiet_end is None else quiet_end + timedelta(minutes=1)


def dispatch_outbox(clock: Callable[[], Any] | None = None, **overrides: Any) -> Any:
    """What the dispatcher process does every few seconds (`make run` runs it in the
    background): send what the live server's outbox holds, by default at `awake_now()`.
    Returns its DispatchStats."""
    from app.notifications.dispatcher import Dispatcher

    app = RUNNING["app"]
    with app.app_context():
        dispatcher = Dispatcher.for_app(app, **overrides)
        try:
            return dispatcher.drain(clock=clock or awake_now)
        finally:
            dispatcher.close()


@contextmanager
def live_server(folder: Path, name: str, seed: Callable[[Session, str], T]) -> Iterator[tuple[str, T]]:
    """The app (sandbox on, SQLite in `folder`, in-process Redis) served on a free local port
    from a thread; yields (base URL, what `seed(session, base_url)` returned).

    The extensions are process singletons shared with the rest of the suite: they point at
    this server's database and Redis while it runs, and back afterwards."""
    from alembic import command

    from app import create_app
    from app.cli import alembic_config
    from app.extensions import db, redis_client

    saved_engine, saved_redis = db.engine, redis_client.client
    url = f"sqlite:///{folder / 'ancha.db'}"
    holder = {}
    thread = None
    server = make_server("127.0.0.1", 0, lambda environ, start: holder["app"](environ, start), threaded=True)
    base_url = f"http://127.0.0.1:{server.server_port}"
    try:
        holder["app"] = create_app(
            {
                "ANCHA_ENV": "testing",
                "SECRET_KEY": SECRET,
                "DATABASE_URL": url,
                "REDIS_URL": "",
                "PUBLIC_BASE_URL": base_url,
                "MEDIA_ROOT": str(folder / "media"),
                "WECHAT_SANDBOX": "1",
            }
        )
        redis_client.client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
        RUNNING["app"] = holder["app"]
        command.upgrade(alembic_config(url), "head")
        with db.new_session() as session:
            seeded = seed(session, base_url)
        thread = threading.Thread(target=server.serve_forever, name=f"{name}-server", daemon=True)
        thread.start()
        yield base_url, seeded
    finally:
        RUNNING.pop("app", None)
        if thread is not None:  # shutdown() waits for serve_forever, so only once it runs
            server.shutdown()
        server.server_close()
        if db.engine is not None and db.engine is not saved_engine:
            db.engine.dispose()
        db.engine = saved_engine
        if saved_engine is not None:
            db.session_factory.configure(bind=saved_engine)
        redis_client.client = saved_redis


@pytest.fixture
def screenshots(tmp_path) -> Path:
    """Where the walks save their screenshots (ANCHA_SCREENSHOT_DIR to keep them)."""
    folder = Path(os.environ.get("ANCHA_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder
