"""The 一企一档 page in headless Chromium, as the bureau admin of the demo district (with its
sixty days of history): from the enterprise list to one enterprise's file, every section
present, the section nav jumping to the timeline, a hazard link opening the hazard.

Screenshots (desktop, 1280 wide) go to a temporary directory, or to $ANCHA_SCREENSHOT_DIR
(e.g. `docs/screenshots`) to refresh dossier*.png in the repository.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.clock import utcnow
from app.demo import data as demo_data
from tests.browser.conftest import SECRET, live_server, needs_chromium

pytestmark = [pytest.mark.browser, needs_chromium]
MAX_SCREENSHOT_BYTES = 3 * 1024 * 1024


@pytest.fixture(scope="module")
def base_url(tmp_path_factory) -> Iterator[str]:
    from app.demo.seed import seed_demo

    folder = tmp_path_factory.mktemp("dossier")

    def seed(session, _base_url):
        seed_demo(session, utcnow(), SECRET, media_root=folder / "media")
        session.commit()

    with live_server(folder, "dossier", seed) as (url, _seeded):
        yield url


def _shot(page, path: Path, *, full_page: bool = False) -> None:
    page.screenshot(path=str(path), full_page=full_page, animations="disabled")
    assert 10_000 < path.stat().st_size < MAX_SCREENSHOT_BYTES, path


def test_bureau_admin_reads_an_enterprise_file(browser, base_url, screenshots):
    from playwright.sync_api import expect

    context = browser.new_context(
        locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 1280, "height": 900}, device_scale_factor=1
    )
    try:
        page = context.new_page()
        page.goto(f"{base_url}/console/login")
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", demo_data.DEMO_PASSWORD)
        page.get_by_role("button", name="登录").click()
        expect(page.locator(".topbar .who")).to_be_visible()

        page.goto(f"{base_url}/console/")
        page.get_by_role("link", name="一企一档").first.click()
        expect(page.locator("h1")).to_contain_text("一企一档 · ")
        for anchor in ("profile", "standardization", "organisation", "sites", "members", "checks", "hazards",
                       "enforcement", "tips", "timeline"):
            expect(page.locator(f"section#{anchor}")).to_have_count(1)
        expect(page.locator("#checks table").first).to_contain_text("班组日排查")
        expect(page.locator("#timeline li").first).to_be_visible()
        _shot(page, screenshots / "dossier.png")
        _shot(page, screenshots / "dossier-full.png", full_page=True)

        page.locator(".dossier-nav").get_by_role("link", name="时间线").click()
        expect(page).to_have_url(re.compile(r"/dossier#timeline$"))
        _shot(page, screenshots / "dossier-timeline.png")

        hazard_links = page.locator("#hazards a[href*='/console/hazards/']")
        if hazard_links.count():
            hazard_links.first.click()
            expect(page.locator("h1")).to_be_visible()
            assert "/console/hazards/" in page.url
    finally:
        context.close()
