"""Every page of the enterprise console, reached the way its admin reaches it: log in, land on
工作台, click each tab of the tab bar. Each page names itself, marks its tab and shows no
error; each is photographed (docs/screenshots/ent-*.png when $ANCHA_SCREENSHOT_DIR is set)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.clock import utcnow
from app.demo import data as demo_data
from tests.browser.conftest import SECRET, live_server, needs_chromium

pytestmark = [pytest.mark.browser, needs_chromium]

# (tab label, file name, a heading the page shows)
TABS = [
    ("工作台", "ent-01-dashboard", "工作台"),
    ("企业档案", "ent-02-dossier", "一企一档"),
    ("人员", "ent-03-members", "人员管理"),
    ("组织与岗位", "ent-04-organisation", "组织与岗位"),
    ("排查点位", "ent-05-sites", "排查点位"),
    ("风险管控", "ent-05b-risks", "风险管控"),
    ("排查任务", "ent-06-tasks", "排查任务"),
    ("排查清单", "ent-07-items", "排查清单"),
    ("排查计划", "ent-08-schedules", "排查计划"),
    ("风险点巡查", "ent-09-risk-rounds", "风险点"),
    ("有限空间作业", "ent-10-confined-space", "有限空间作业"),
    ("隐患", "ent-11-hazards", "隐患"),
    ("专项整治", "ent-12-campaigns", "专项整治"),
    ("安全培训", "ent-13-training", "安全培训"),
]


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[tuple[str, str]]:
    folder = tmp_path_factory.mktemp("tabs")

    def seed(session, _base_url: str) -> str:
        """The demo as `make run` seeds it: with its weeks of history (photos included)."""
        from app.demo.seed import seed_demo

        seed_demo(session, utcnow(), SECRET, media_root=folder / "media")
        session.commit()
        return f"{demo_data.ENTERPRISES[0]['key']}_admin"

    with live_server(folder, "tabs", seed) as served:
        yield served


def test_the_admin_reaches_every_page_from_the_tab_bar(browser, live, screenshots):
    from playwright.sync_api import expect

    base_url, admin = live
    context = browser.new_context(locale="zh-CN", viewport={"width": 1360, "height": 900}, timezone_id="Asia/Shanghai")
    try:
        page = context.new_page()
        page.goto(f"{base_url}/console/login")
        page.fill("input[name=username]", admin)
        page.fill("input[name=password]", demo_data.DEMO_PASSWORD)
        page.get_by_role("button", name="登录").click()
        # A one-enterprise admin lands on the enterprise's 工作台.
        expect(page.locator("nav.ent-tabs a[aria-current=page]")).to_have_text("工作台")
        tabs = page.locator("nav.ent-tabs a")
        assert [t for t in tabs.all_inner_texts()] == [label for label, _, _ in TABS]
        for label, name, heading in TABS:
            page.locator("nav.ent-tabs").get_by_role("link", name=label, exact=True).click()
            expect(page.locator("nav.ent-tabs a[aria-current=page]")).to_have_text(label)
            expect(page.locator("h1")).to_contain_text(heading)
            assert page.locator(".error, .flash.bad").count() == 0, label
            page.screenshot(path=str(screenshots / f"{name}.png"), full_page=True)
    finally:
        context.close()
