"""The credit list walk in headless Chromium against a live server: the bureau admin opens an
enterprise's 一企一档, follows 「列入失信名单」, fills in the list, reason, basis and two of the
四个一律 flags, sees the enterprise on 失信名单, and finds the red 「失信」 tag beside it in the
enterprise list (and the orange 「重点关注」 of another).

Screenshots go to a temporary directory, or to $ANCHA_SCREENSHOT_DIR (docs/screenshots).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from app.accounts.domain import BureauRole
from app.accounts.models import BureauMembership, User
from app.accounts.queries import load_actor
from app.accounts.service import hash_password
from app.clock import utcnow
from app.enterprises.models import Enterprise, Town
from app.enterprises.schemas import uscc_check_digit
from app.oversight.credit import service
from tests.browser.conftest import live_server, needs_chromium

pytestmark = [pytest.mark.browser, needs_chromium]

PASSWORD = "credit-walk-password"


@dataclass
class Live:
    base_url: str
    enterprise_id: int


def _uscc(n: int) -> str:
    first17 = f"91410108MA{n:07d}"
    return first17 + uscc_check_digit(first17)


def _seed(session, base_url: str) -> Live:
    town = Town(code="410108101", name="花园口镇")
    session.add(town)
    session.flush()
    target = Enterprise(uscc=_uscc(4400101), name="郑州豫北特钢有限公司", address="花园口镇钢城路1号",
                        town_id=town.id, industry="metallurgy", scale="above", employee_count=320)
    watched = Enterprise(uscc=_uscc(4400102), name="郑州绿源纺织有限公司", address="花园口镇纺织园3号",
                         town_id=town.id, industry="textile", scale="above", employee_count=410)
    calm = Enterprise(uscc=_uscc(4400103), name="郑州华新建材有限公司", address="花园口镇建材路12号",
                      town_id=town.id, industry="building_materials", scale="above", employee_count=150)
    admin = User(username="admin", display_name="区安监局 管理员", password_hash=hash_password(PASSWORD))
    session.add_all([target, watched, calm, admin])
    session.flush()
    session.add(BureauMembership(user_id=admin.id, role=BureauRole.ADMIN))
    session.flush()
    service.list_enterprise(
        session, load_actor(session, admin), utcnow(),
        {"enterprise_id": watched.id, "list_kind": "watchlist", "reason": "三同时手续未办理",
         "basis": "《安全生产法》第一百零二条", "max_penalty": True},
    )
    session.commit()
    return Live(base_url, target.id)


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[Live]:
    folder = tmp_path_factory.mktemp("credit")
    with live_server(folder, "credit", _seed) as (_url, seeded):
        yield seeded


def test_the_admin_lists_an_enterprise_from_its_dossier_and_the_list_shows_the_tag(browser, live, screenshots):
    from playwright.sync_api import expect

    desk = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900}, timezone_id="Asia/Shanghai")
    try:
        page = desk.new_page()
        page.goto(f"{live.base_url}/console/login")
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", PASSWORD)
        page.get_by_role("button", name="登录").click()
        page.goto(f"{live.base_url}/console/enterprises/{live.enterprise_id}/dossier")
        credit = page.locator("#credit")
        expect(credit).to_contain_text("当前未列入失信名单")
        credit.get_by_role("link", name="列入失信名单").click()

        expect(page.locator("h1")).to_have_text("列入失信名单")
        expect(page.locator("h2")).to_contain_text("郑州豫北特钢有限公司")
        page.select_option("select[name=list_kind]", "serious_discredit")
        page.fill("textarea[name=reason]", "重大事故隐患拒不整改，被责令停产整顿后仍不具备安全生产条件")
        page.fill("input[name=basis]", "《安全生产严重失信主体名单管理办法》第六条")
        page.fill("input[name=decision_no]", "惠应急罚〔2026〕21号")
        page.check("input[name=suspend_production]")
        page.check("input[name=max_penalty]")
        page.screenshot(path=str(screenshots / "credit-new.png"), full_page=True)
        page.get_by_role("button", name="列入名单").click()

        expect(page.locator("h1")).to_have_text("失信名单")
        expect(page.locator("p.notice")).to_contain_text("已将郑州豫北特钢有限公司列入严重失信主体名单")
        row = page.locator("#active tr", has_text="郑州豫北特钢有限公司")
        expect(row).to_contain_text("一律责令停产整顿")
        expect(row.locator(".credit-tag--serious")).to_have_text("失信")
        page.screenshot(path=str(screenshots / "credit-list.png"), full_page=True)

        page.locator("nav").get_by_role("link", name="企业档案").click()
        listed = page.locator("tr", has_text="郑州豫北特钢有限公司")
        expect(listed.locator(".credit-tag--serious")).to_have_text("失信")
        expect(page.locator("tr", has_text="郑州绿源纺织有限公司").locator(".credit-tag--watch")).to_have_text("重点关注")
        expect(page.locator("tr", has_text="郑州华新建材有限公司").locator(".credit-tag")).to_have_count(0)
        page.screenshot(path=str(screenshots / "credit-enterprises.png"), full_page=True)

        page.goto(f"{live.base_url}/console/enterprises/{live.enterprise_id}/dossier#credit")
        expect(page.locator("h1 .credit-tag--serious")).to_have_text("失信")
        expect(page.locator("#credit")).to_contain_text("惠应急罚〔2026〕21号")
        page.locator("#credit").screenshot(path=str(screenshots / "credit-dossier.png"))
    finally:
        desk.close()
