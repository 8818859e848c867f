"""The district dashboard (辖区概况) in headless Chromium, as the bureau admin of the demo.

The server is the real app on a werkzeug thread with its own SQLite file, seeded with the
demo and its sixty days of history; the rollups are built once as the scheduler's nightly
job would. The admin logs in, follows the menu entry, sees the charts drawn (canvases with
pixels on them, the series holding data), opens one town's number to its list and a town's
own dashboard.

Screenshots (desktop, 1280 wide) go to a temporary directory, or to $ANCHA_SCREENSHOT_DIR
(e.g. `docs/screenshots`) to refresh the ones in the repository.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.clock import utcnow
from app.demo import data as demo_data
from tests.browser.conftest import SECRET, live_server, needs_chromium

pytestmark = [pytest.mark.browser, needs_chromium]
MAX_SCREENSHOT_BYTES = 2 * 1024 * 1024

# Pixels drawn on a chart's canvas (alpha > 0): an empty ECharts canvas has none.
PAINTED = """(id) => {
  const canvas = document.querySelector('#' + id + ' canvas');
  if (!canvas) { return -1; }
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < data.length; i += 4) { if (data[i] > 0) { painted++; } }
  return painted;
}"""


@pytest.fixture(scope="module")
def base_url(tmp_path_factory) -> Iterator[str]:
    from app.demo.seed import seed_demo
    from app.oversight.stats.service import refresh_recent_year

    folder = tmp_path_factory.mktemp("oversight")

    def seed(session, _base_url):
        now = utcnow()
        seed_demo(session, now, SECRET, media_root=folder / "media")
        refresh_recent_year(session, now)
        session.commit()

    with live_server(folder, "oversight", seed) as (url, _seeded):
        yield url


def _shot(page, path: Path) -> None:
    page.screenshot(path=str(path), full_page=True, animations="disabled")
    assert 10_000 < path.stat().st_size < MAX_SCREENSHOT_BYTES, path


def test_the_bureau_admin_reads_the_district_and_opens_a_towns_list(browser, base_url, screenshots):
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

        page.locator(".topbar nav").get_by_role("link", name="辖区概况").click()
        expect(page.locator("h1")).to_contain_text("辖区概况")
        for chart in ("chart-std", "chart-checks", "chart-hazards", "chart-trend"):
            expect(page.locator(f"#{chart} canvas")).to_have_count(1)
        page.wait_for_timeout(800)  # the charts' entrance animation
        for chart in ("chart-std", "chart-checks", "chart-hazards", "chart-trend"):
            assert page.evaluate(PAINTED, chart) > 2_000, chart
        trend = page.evaluate("() => echarts.getInstanceByDom(document.getElementById('chart-trend')).getOption()")
        assert sum(v or 0 for v in trend["series"][0]["data"]) > 0  # hazards found over the months
        towns = page.locator("#standardization tbody tr")
        expect(towns).to_have_count(len(demo_data.TOWNS) + 1)  # each town and the total
        _shot(page, screenshots / "oversight-dashboard.png")

        # A town's number → the enterprises behind it, each linking to its file.
        first = towns.first
        town = first.locator("td").first.inner_text()
        number = first.locator("a.num").first
        expected = number.inner_text()
        number.click()
        expect(page.locator("h1")).to_contain_text("规上企业")
        expect(page.locator(".figure-total")).to_have_text(expected)
        expect(page.locator("p.muted").first).to_contain_text(town)
        links = page.locator("table a[href*='/console/enterprises/']")
        expect(links).to_have_count(int(expected))
        _shot(page, screenshots / "oversight-dashboard-list.png")

        # The town's own dashboard.
        page.go_back()
        page.locator("#standardization tbody tr").first.locator("td a").first.click()
        expect(page.locator("h1")).to_contain_text(town)
        page.wait_for_timeout(800)
        assert page.evaluate(PAINTED, "chart-std") > 500
        _shot(page, screenshots / "oversight-dashboard-town.png")
    finally:
        context.close()
