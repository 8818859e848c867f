"""The census walk in headless Chromium against a live server seeded with the demo district
(issue 14's done-when): the bureau admin opens the enterprise list, follows 普查导入/导出,
uploads a census file with a bad row and reads the report (errors first, nothing written),
uploads the fixed file, sees the dry run pass, confirms without uploading again, and finds
the new enterprise on the enterprise list.

Screenshots go to a temporary directory, or to $ANCHA_SCREENSHOT_DIR (docs/screenshots).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from app.clock import utcnow
from app.demo import data as demo_data
from app.enterprises.models import Enterprise, Town
from tests.browser.conftest import SECRET, live_server, needs_chromium
from tests.fixtures.census import census_row, census_xlsx

pytestmark = [pytest.mark.browser, needs_chromium]

NEW_NAME = "郑州普查示范机械有限公司"
SECOND_NAME = "郑州普查示范食品有限公司"


@dataclass
class Live:
    base_url: str
    town: str
    enterprises: int


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[Live]:
    folder = tmp_path_factory.mktemp("census")

    def seed(session, base_url: str) -> Live:
        from app.demo.seed import seed_demo

        seed_demo(session, utcnow(), SECRET)
        session.commit()
        town = session.scalar(select(Town.name).order_by(Town.id))
        return Live(base_url, town, session.scalar(select(func.count()).select_from(Enterprise)))

    with live_server(folder, "census", seed) as (_url, seeded):
        yield seeded


def _enterprise_count() -> int:
    from app.extensions import db

    with db.new_session() as session:
        return session.scalar(select(func.count()).select_from(Enterprise))


def test_the_bureau_imports_a_census_file_after_fixing_its_bad_row(browser, live, screenshots, tmp_path):
    from playwright.sync_api import expect

    first = census_row(NEW_NAME, live.town, 9_500_001)
    bad = census_row(SECOND_NAME, "大河村", 9_500_002, 行业="轻工", 从业人员=-6, 粉尘涉爆="否", 粉尘作业人数=0)
    fixed = census_row(SECOND_NAME, live.town, 9_500_002, 行业="轻工", 从业人员=36, 粉尘涉爆="否", 粉尘作业人数=0)
    bad_file, fixed_file = tmp_path / "普查-有错误.xlsx", tmp_path / "普查-已修改.xlsx"
    bad_file.write_bytes(census_xlsx([first, bad]))
    fixed_file.write_bytes(census_xlsx([first, fixed]))

    desk = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900}, timezone_id="Asia/Shanghai")
    try:
        page = desk.new_page()
        page.goto(f"{live.base_url}/console/login")
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", demo_data.DEMO_PASSWORD)
        page.get_by_role("button", name="登录").click()
        page.locator("nav").get_by_role("link", name="企业档案").click()
        expect(page.locator("h1")).to_have_text("企业档案（一企一档）")
        page.get_by_role("link", name="普查导入/导出").click()
        expect(page.locator("h1")).to_have_text("普查导入/导出")
        page.screenshot(path=str(screenshots / "census-page.png"), full_page=True)

        page.set_input_files("input[name=file]", str(bad_file))
        page.get_by_role("button", name="上传并预览").click()
        report = page.locator("#report")
        expect(report.locator(".alert")).to_contain_text("有 1 行错误")
        first_row = report.locator("tbody tr").first
        expect(first_row).to_contain_text("错误")
        expect(first_row).to_contain_text("所属镇街：「大河村」不是本区的镇（街道）")
        expect(first_row).to_contain_text("从业人员：不能为负数（填的是 -6）")
        expect(report.get_by_role("button", name="确认导入")).to_have_count(0)
        page.screenshot(path=str(screenshots / "census-report-errors.png"), full_page=True)
        assert _enterprise_count() == live.enterprises  # nothing written

        page.set_input_files("input[name=file]", str(fixed_file))
        page.get_by_role("button", name="上传并预览").click()
        expect(report.locator(".counts")).to_contain_text("新增2")
        expect(report.locator(".counts")).to_contain_text("错误0")
        expect(report.locator("tbody")).to_contain_text(SECOND_NAME)
        page.screenshot(path=str(screenshots / "census-report-ok.png"), full_page=True)
        assert _enterprise_count() == live.enterprises  # a dry run writes nothing

        page.get_by_role("button", name="确认导入").click()
        expect(page.locator(".notice")).to_contain_text("普查表已导入：新增 2 家，更新 0 家，无变化 0 家。")
        page.screenshot(path=str(screenshots / "census-imported.png"), full_page=True)
        assert _enterprise_count() == live.enterprises + 2

        page.locator(".notice").get_by_role("link", name="查看企业档案").click()
        page.select_option("select[name=town]", label=live.town)
        row = page.locator("tbody tr", has_text=NEW_NAME)
        expect(row).to_be_visible()
        expect(row).to_contain_text(live.town)
        expect(page.locator("tbody tr", has_text=SECOND_NAME)).to_contain_text("轻工")
        row.scroll_into_view_if_needed()
        page.screenshot(path=str(screenshots / "census-list.png"), full_page=True)
    finally:
        desk.close()
    for shot in ("census-page.png", "census-report-errors.png", "census-report-ok.png", "census-imported.png",
                 "census-list.png"):
        assert (screenshots / shot).stat().st_size > 10_000
