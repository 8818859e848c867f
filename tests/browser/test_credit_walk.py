"""The credit list in headless Chromium against a live server seeded with the demo district:
the bureau admin opens an enterprise's 一企一档, lists it on 严重失信主体名单 from its 信用记录
section with the reason, basis and two of the 四个一律 measures, sees the record on the
失信名单 page and the 失信 tag beside the enterprise in the bureau's enterprise list, then
delists it with a reason and finds the history on the file.

Screenshots go to a temporary directory, or to $ANCHA_SCREENSHOT_DIR (docs/screenshots).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from app.clock import utcnow
from app.demo import data as demo_data
from app.enterprises.domain import CreditStatus
from app.enterprises.models import Enterprise, Town
from tests.browser.conftest import SECRET, live_server, needs_chromium

pytestmark = [pytest.mark.browser, needs_chromium]


@dataclass
class Live:
    base_url: str
    enterprise_id: int
    enterprise: str
    town: str


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[Live]:
    folder = tmp_path_factory.mktemp("credit")

    def seed(session, base_url: str) -> Live:
        from app.demo.seed import seed_demo

        seed_demo(session, utcnow(), SECRET)
        session.commit()
        enterprise, town = session.execute(
            select(Enterprise, Town)
            .join(Town, Town.id == Enterprise.town_id)
            .where(Enterprise.credit_status == CreditStatus.NORMAL)
            .order_by(Enterprise.id)
        ).first()
        return Live(base_url, enterprise.id, enterprise.name, town.name)

    with live_server(folder, "credit", seed) as (_url, seeded):
        yield seeded


def test_the_bureau_lists_an_enterprise_sees_it_marked_and_delists_it(browser, live, screenshots):
    from playwright.sync_api import expect

    desk = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900}, timezone_id="Asia/Shanghai")
    try:
        page = desk.new_page()
        page.goto(f"{live.base_url}/console/login")
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", demo_data.DEMO_PASSWORD)
        page.get_by_role("button", name="登录").click()

        page.goto(f"{live.base_url}/console/enterprises/{live.enterprise_id}/dossier")
        credit = page.locator("#credit")
        expect(credit).to_contain_text("当前未列入失信名单")
        credit.get_by_role("link", name="列入失信名单").click()
        page.select_option("select[name=list_kind]", CreditStatus.SERIOUS_DISCREDIT.value)
        page.fill("textarea[name=reason]", "重大事故隐患拒不整改，被责令停产整顿后仍不具备安全生产条件")
        page.fill("input[name=basis]", "《安全生产严重失信主体名单管理办法》第六条")
        page.fill("input[name=decision_no]", "惠应急罚〔2026〕41号")
        page.check("input[name=restrict_market]")
        page.check("input[name=publicize]")
        page.screenshot(path=str(screenshots / "credit-new.png"), full_page=True)
        page.get_by_role("button", name="列入名单").click()

        listed = page.locator("tbody tr", has_text=live.enterprise).first
        expect(listed).to_contain_text("严重失信")
        expect(listed).to_contain_text("一律给予限制")
        expect(listed).to_contain_text("一律上网公示")
        page.screenshot(path=str(screenshots / "credit-list.png"), full_page=True)

        page.locator("nav").get_by_role("link", name="企业档案").click()
        page.select_option("select[name=town]", label=live.town)
        row = page.locator("tbody tr", has_text=live.enterprise)
        expect(row.locator(".credit-tag, .tag", has_text="失信")).to_be_visible()
        row.scroll_into_view_if_needed()
        page.screenshot(path=str(screenshots / "credit-tag-in-list.png"))

        page.goto(f"{live.base_url}/console/enterprises/{live.enterprise_id}/dossier")
        credit = page.locator("#credit")
        credit.get_by_role("link", name="移出名单").click()
        page.fill("textarea[name=delist_reason]", "复核：重大隐患已整改并经复查验收，停产整顿指令已解除")
        page.get_by_role("button", name="确认移出").click()

        page.goto(f"{live.base_url}/console/enterprises/{live.enterprise_id}/dossier")
        credit = page.locator("#credit")
        expect(credit).to_contain_text("当前未列入失信名单")
        expect(credit).to_contain_text("复核：重大隐患已整改")
        credit.scroll_into_view_if_needed()
        page.screenshot(path=str(screenshots / "credit-dossier-history.png"))
    finally:
        desk.close()
