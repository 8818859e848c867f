"""The special-campaign walk in headless Chromium against a live server: the bureau admin
creates a 粉尘防爆 campaign from the 专项整治 menu and launches it; the admin of a dust
enterprise finds it on the 工作台, submits the self-check with one failed item; the bureau
sees 1 checked and 1 hazard.

Screenshots go to a temporary directory, or to $ANCHA_SCREENSHOT_DIR (docs/screenshots).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest

from app.clock import local_today, utcnow
from tests.browser.conftest import live_server, needs_chromium

pytestmark = [pytest.mark.browser, needs_chromium]

PASSWORD = "campaign-walk-pass-2026"


@dataclass
class Live:
    base_url: str
    enterprise_id: int


def _seed(session, base_url: str) -> Live:
    """Two towns, two dust enterprises and one without the flag; the bureau admin and the
    first dust enterprise's admin with console logins; the standard checklists."""
    from app.accounts.domain import BureauRole, Role
    from app.accounts.models import BureauMembership, Membership, User
    from app.accounts.service import hash_password
    from app.enterprises.models import Enterprise, Town
    from app.hazard_reporting.checklists import service as checklists
    from tests.fixtures.builders import valid_uscc

    checklists.load_standard_checklists(session, utcnow())
    towns = [Town(code="410108001", name="长兴路街道"), Town(code="410108101", name="花园口镇")]
    session.add_all(towns)
    session.flush()
    firms = [
        Enterprise(uscc=valid_uscc(9101), name="郑州鑫林木业有限公司", address="北三环辅道9号", town_id=towns[0].id,
                   industry="light_industry", scale="below", employee_count=58, dust_explosion=True, dust_worker_count=36),
        Enterprise(uscc=valid_uscc(9102), name="郑州金穗面粉有限公司", address="花园路1号", town_id=towns[1].id,
                   industry="light_industry", scale="above", employee_count=120, dust_explosion=True),
        Enterprise(uscc=valid_uscc(9103), name="郑州华新建材有限公司", address="江山路3号", town_id=towns[1].id,
                   industry="building_materials", scale="above", employee_count=80),
    ]
    session.add_all(firms)
    admin = User(username="admin", display_name="区安监局 管理员", password_hash=hash_password(PASSWORD))
    ent_admin = User(username="xinlin_admin", display_name="鑫林 企业管理员", password_hash=hash_password(PASSWORD))
    session.add_all([admin, ent_admin])
    session.flush()
    session.add(BureauMembership(user_id=admin.id, role=BureauRole.ADMIN))
    session.add(Membership(user_id=ent_admin.id, enterprise_id=firms[0].id, role=Role.ENTERPRISE_ADMIN))
    session.commit()
    return Live(base_url, firms[0].id)


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[Live]:
    folder = tmp_path_factory.mktemp("campaigns")
    with live_server(folder, "campaigns", _seed) as (_url, seeded):
        yield seeded


def _login(context, base_url: str, username: str):
    page = context.new_page()
    page.goto(f"{base_url}/console/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="登录").click()
    return page


def test_the_bureau_launches_a_campaign_and_sees_the_enterprise_s_self_check(browser, live, screenshots):
    from playwright.sync_api import expect

    deadline = (local_today(utcnow()) + timedelta(days=7)).isoformat()
    desk = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900}, timezone_id="Asia/Shanghai")
    firm = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900}, timezone_id="Asia/Shanghai")
    try:
        bureau = _login(desk, live.base_url, "admin")
        bureau.locator("nav").get_by_role("link", name="专项整治").click()
        expect(bureau.locator("h1")).to_have_text("专项整治")
        bureau.get_by_role("link", name="新建专项整治").click()
        bureau.select_option("select[name=topic]", "dust_explosion")
        bureau.fill("input[name=title]", "粉尘防爆专项整治（演练）")
        bureau.fill("textarea[name=description]", "对照粉尘防爆专项排查清单逐项自查，不合格项登记隐患并整改。")
        bureau.fill("input[name=deadline]", deadline)
        bureau.screenshot(path=str(screenshots / "campaign-new.png"), full_page=True)
        bureau.get_by_role("button", name="保存草稿").click()
        expect(bureau.locator(".notice")).to_contain_text("专项整治草稿已保存")
        bureau.get_by_role("button", name="启动").click()
        expect(bureau.locator(".notice")).to_contain_text("专项整治已启动：对象企业 2 家")
        expect(bureau.locator("#targets tbody tr")).to_have_count(2)
        expect(bureau.locator("[data-figure=checked]")).to_have_text("0")

        # The enterprise admin: the 工作台 block, then the self-check with one failed item.
        page = _login(firm, live.base_url, "xinlin_admin")
        page.goto(f"{live.base_url}/console/enterprises/{live.enterprise_id}/dashboard")
        block = page.locator("#campaigns")
        expect(block).to_contain_text("粉尘防爆专项整治（演练）")
        page.screenshot(path=str(screenshots / "campaign-dashboard.png"), full_page=True)
        block.get_by_role("link", name="去自查").click()
        expect(page.locator("h1")).to_have_text("粉尘防爆专项整治（演练）")
        radios = page.locator("input[type=radio][value=pass]")
        for index in range(radios.count()):
            radios.nth(index).check()
        page.locator("input[name=result-DUST-10][value=fail]").check()
        page.fill("input[name=note-DUST-10]", "砂光车间梁架积尘约 2 毫米")
        page.locator("input[name=result-DUST-11][value=na]").check()
        page.screenshot(path=str(screenshots / "campaign-self-check.png"), full_page=True)
        page.get_by_role("button", name="提交自查").click()
        expect(page.locator(".notice")).to_contain_text("自查已提交")
        expect(page.locator("#result")).to_contain_text("砂光车间梁架积尘约 2 毫米")
        expect(page.locator("#result").get_by_role("link", name="查看隐患")).to_have_count(1)
        page.screenshot(path=str(screenshots / "campaign-result.png"), full_page=True)
        page.locator(".ent-tabs").get_by_role("link", name="隐患").click()
        expect(page.locator("main")).to_contain_text("【专项整治：粉尘防爆专项整治（演练）】")

        # The bureau watches: 1 checked, 1 hazard.
        bureau.reload()
        expect(bureau.locator("[data-figure=checked]")).to_have_text("1")
        expect(bureau.locator("[data-figure=hazards]")).to_have_text("1")
        expect(bureau.locator("#targets")).to_contain_text("已自查")
        bureau.screenshot(path=str(screenshots / "campaign-progress.png"), full_page=True)
    finally:
        desk.close()
        firm.close()
