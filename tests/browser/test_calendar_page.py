"""The working calendar (工作日历) console page in headless Chromium, as the bureau admin.

In December the next year's calendar is still provisional (chinese-calendar has no State
Council arrangement for it yet): every console page shows the bureau admin a banner. The
admin follows the menu to the year, uploads the arrangement as a CSV, previews it, imports
it — the year is confirmed and the banner is gone.

The server is the real app on a werkzeug thread with its own SQLite file (migrated by
Alembic, seeded with the demo, whose bureau admin is `admin`) and its own in-process Redis.
The walk needs a day in December 2026: run on another day, the app's clock (`app.clock`) is
pinned to 4 December 2026 10:00 so the banner and the year shown stay the same. (The
database stamps updated_at itself, so the 区级调整 table then shows the real time.)

Screenshots (desktop, 1280 wide) go to a temporary directory, or to $ANCHA_SCREENSHOT_DIR
(e.g. `docs/screenshots`) to refresh the ones in the repository.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from app.clock import local_today, utcnow
from app.demo import data as demo_data
from app.hazard_reporting.work_calendar.models import CalendarYear
from app.hazard_reporting.work_calendar.sources import official_years
from tests.browser.conftest import (
    CHROMIUM,
    CHROMIUM_ARGS,
    SECRET,
    cjk_fontconfig,
    live_server,
    needs_chromium,
)

YEAR = 2027
PINNED = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)  # 10:00 in Beijing, in December: next year is due
BANNER = f"{YEAR} 年工作日历尚未确认"
MAX_SCREENSHOT_BYTES = 1024 * 1024

# A made-up 2027 arrangement in the State Council's usual shape (the real one is not out yet).
ARRANGEMENT = """date,workday,name
2027-01-01,否,元旦
2027-01-02,否,元旦
2027-01-03,否,元旦
2027-02-05,否,春节
2027-02-06,否,春节
2027-02-07,否,春节
2027-02-08,否,春节
2027-02-09,否,春节
2027-02-10,否,春节
2027-02-11,否,春节
2027-02-20,是,春节调休上班
2027-04-03,否,清明节
2027-04-04,否,清明节
2027-04-05,否,清明节
2027-04-25,是,劳动节调休上班
2027-05-01,否,劳动节
2027-05-02,否,劳动节
2027-05-03,否,劳动节
2027-05-04,否,劳动节
2027-05-05,否,劳动节
2027-05-08,是,劳动节调休上班
2027-06-09,否,端午节
2027-09-15,否,中秋节
2027-09-26,是,国庆节调休上班
2027-10-01,否,国庆节
2027-10-02,否,国庆节
2027-10-03,否,国庆节
2027-10-04,否,国庆节
2027-10-05,否,国庆节
2027-10-06,否,国庆节
2027-10-07,否,国庆节
2027-10-09,是,国庆节调休上班
"""

pytestmark = [
    pytest.mark.browser,
    needs_chromium,
    pytest.mark.skipif(
        YEAR in official_years(),
        reason=f"chinese-calendar now ships the {YEAR} arrangement: the year is official, nothing to confirm",
    ),
]


class _PinnedDatetime(datetime):
    """`datetime` for app.clock, whose `utcnow()` is the app's only reading of the wall clock."""

    @classmethod
    def now(cls, tz=None):
        return PINNED.astimezone(tz) if tz is not None else PINNED.astimezone(UTC).replace(tzinfo=None)


def _december_before() -> bool:
    today = local_today(utcnow())
    return (today.year, today.month) == (YEAR - 1, 12)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """The shared browser, with its own controls in Chinese too (the date field's 年/月/日,
    选择文件) as the bureau's desktops show them — given Debian's chromium-l10n; without it
    Chromium falls back to English there."""
    from playwright.sync_api import sync_playwright

    fonts = cjk_fontconfig(tmp_path_factory.mktemp("fontconfig"))
    env = {**os.environ, "FONTCONFIG_FILE": str(fonts), "LANGUAGE": "zh_CN"}
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, env=env)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def base_url(tmp_path_factory) -> Iterator[str]:
    from app.demo.seed import seed_demo

    def seed(session, _base_url):
        seed_demo(session, utcnow(), SECRET)
        session.commit()

    with pytest.MonkeyPatch.context() as patch:
        if not _december_before():
            patch.setattr("app.clock.datetime", _PinnedDatetime)
        with live_server(tmp_path_factory.mktemp("calendar"), "calendar", seed) as (url, _seeded):
            yield url


def _shot(page, path: Path, *, full_page: bool = False) -> None:
    page.screenshot(path=str(path), full_page=full_page, animations="disabled")
    assert 10_000 < path.stat().st_size < MAX_SCREENSHOT_BYTES, path


def _db():
    from app.extensions import db

    return db.new_session()


def test_the_bureau_admin_imports_and_confirms_next_years_calendar(browser, base_url, screenshots, tmp_path):
    from playwright.sync_api import expect

    csv = tmp_path / f"{YEAR}-放假安排.csv"
    csv.write_text(ARRANGEMENT, encoding="utf-8")

    context = browser.new_context(
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        viewport={"width": 1280, "height": 900},
        device_scale_factor=1,
    )
    try:
        page = context.new_page()
        page.goto(f"{base_url}/console/login")
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", demo_data.DEMO_PASSWORD)
        page.get_by_role("button", name="登录").click()
        expect(page.locator(".topbar .who")).to_be_visible()

        # 1. Any console page: the banner, and the menu entry.
        page.goto(f"{base_url}/console/")
        banner = page.locator("p.banner")
        expect(banner).to_have_count(1)
        expect(banner).to_contain_text(BANNER)
        expect(banner.get_by_role("link")).to_have_attribute("href", f"/console/calendar?year={YEAR}")
        menu = page.locator(".topbar nav").get_by_role("link", name="工作日历")
        expect(menu).to_have_attribute("href", "/console/calendar")
        _shot(page, screenshots / "console-calendar-banner.png")

        # 2. The menu opens the year still to confirm.
        menu.click()
        page.wait_for_url("**/console/calendar")
        expect(page.locator("h1")).to_have_text(f"{YEAR} 年工作日历")
        expect(page.locator("p.status")).to_contain_text("待确认")
        expect(page.locator(".month")).to_have_count(12)
        expect(page.locator(".month td.named", has_text="元旦").first).to_be_visible()
        expect(page.locator("section.card", has_text="节假日与调休")).to_contain_text("元旦")
        _shot(page, screenshots / "console-calendar-2027.png", full_page=True)

        # 3. The arrangement, uploaded: a preview, nothing imported yet.
        importer = page.locator("section.card", has_text="导入国务院放假安排")
        importer.locator("input[type=file]").set_input_files(csv)
        importer.get_by_role("button", name="预览").click()
        preview = page.locator("#preview")
        expect(preview.locator("h2")).to_contain_text("导入预览")
        expect(preview.locator("h2")).to_contain_text(csv.name)
        expect(preview.get_by_role("button", name="确认导入")).to_be_visible()
        with _db() as session:
            assert session.scalar(select(CalendarYear).where(CalendarYear.year == YEAR)) is None
        page.evaluate("document.getElementById('preview').scrollIntoView({block: 'start'})")
        page.evaluate("window.scrollBy(0, -16)")
        _shot(page, screenshots / "console-calendar-import-preview.png")

        # 4. Imported: confirmed, and the banner is gone.
        preview.get_by_role("button", name="确认导入").click()
        page.wait_for_url(f"**/console/calendar?year={YEAR}")
        expect(page.locator("p.notice")).to_contain_text(f"已导入 {YEAR} 年放假安排")
        expect(page.locator("p.status .tag")).to_have_text("已确认")
        expect(page.locator("p.status")).to_contain_text("已导入国务院放假安排")
        expect(page.locator("#preview")).to_have_count(0)
        expect(page.locator("p.banner")).to_have_count(0)
        # The imported Saturday worked for 春节: "上班" in the cell, the full name in its tooltip.
        adjusted = page.locator('.month td.adjusted.arranged[title*="春节调休上班"]')
        expect(adjusted).to_have_count(1)
        expect(adjusted).to_contain_text("上班")
        _shot(page, screenshots / "console-calendar-2027-confirmed.png", full_page=True)

        page.goto(f"{base_url}/console/")
        expect(page.locator("p.banner")).to_have_count(0)
    finally:
        context.close()
