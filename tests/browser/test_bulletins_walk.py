"""The bureau's bulletin walk in headless Chromium against a live server seeded with the
demo district: the bureau admin drafts last month's district bulletin (the lists filled by
rule), looks at the draft and the printable page, confirms and publishes; the dispatcher
drains the outbox as it does in `make run`; in the WeChat simulator the manager of a warned
enterprise finds the task notice and opens the bulletin on the phone with the reasons for
their enterprise.

Screenshots go to a temporary directory, or to $ANCHA_SCREENSHOT_DIR (docs/screenshots).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from app.accounts.domain import Role
from app.accounts.models import Membership, User
from app.clock import local_today, utcnow
from app.demo import data as demo_data
from app.enterprises.models import Enterprise
from app.oversight.bulletins.domain import Month
from tests.browser.conftest import SECRET, WECHAT_UA, dispatch_outbox, live_server, needs_chromium

pytestmark = [pytest.mark.browser, needs_chromium]


@dataclass
class Live:
    base_url: str


def _seed(session, base_url: str, media_root) -> Live:
    """The demo district with its two months of check and hazard history."""
    from app.demo.seed import seed_demo

    seed_demo(session, utcnow(), SECRET, media_root=media_root)
    session.commit()
    return Live(base_url)


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[Live]:
    folder = tmp_path_factory.mktemp("bulletins")

    def seed(session, base_url: str) -> Live:
        return _seed(session, base_url, folder / "media")

    with live_server(folder, "bulletins", seed) as (_url, seeded):
        yield seeded


def _manager_of(enterprise_name: str) -> tuple[str, str]:
    """(openid, name) of the warned enterprise's manager, a virtual WeChat user of the demo."""
    from app.extensions import db

    with db.new_session() as session:
        user = session.scalar(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .join(Enterprise, Enterprise.id == Membership.enterprise_id)
            .where(Enterprise.name == enterprise_name, Membership.role == Role.MANAGER, User.openid.is_not(None))
            .order_by(User.id)
        )
        assert user is not None, f"the demo gives {enterprise_name} a manager on WeChat"
        return user.openid, user.display_name


def test_the_bureau_publishes_a_bulletin_and_a_warned_manager_reads_it(browser, live, screenshots):
    from playwright.sync_api import expect


    month = Month.of(local_today(utcnow())).previous()
    desk = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900}, timezone_id="Asia/Shanghai")
    try:
        page = desk.new_page()
        page.goto(f"{live.base_url}/console/login")
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", demo_data.DEMO_PASSWORD)
        page.get_by_role("button", name="登录").click()
        page.locator("nav").get_by_role("link", name="通报").click()
        expect(page.locator("h1")).to_have_text("通报")
        page.get_by_role("link", name="起草月度通报").click()
        expect(page.locator("input[name=month]")).to_have_value(month.key)
        page.get_by_role("button", name="按规则生成草稿").click()

        expect(page.locator("h1")).to_have_text(f"惠济区工贸行业隐患排查治理情况通报（{month.label}）")
        warned_table = page.locator("#lists table").first
        expect(warned_table).to_be_visible()
        # The walk follows a warned enterprise of the demo's eight, whose people are on WeChat
        # (the district's other enterprises are on file without WeChat users).
        staffed = {spec["name"] for spec in demo_data.ENTERPRISES}
        # The cell may carry the credit list's tag after the name (「失信」/「重点关注」).
        names = [(n.split() or [""])[0] for n in warned_table.locator("tbody tr td:nth-child(3)").all_inner_texts()]
        warned = next((n for n in names if n in staffed), "")
        assert warned, "the demo has a staffed enterprise the rules warn"
        page.screenshot(path=str(screenshots / "bulletin-draft.png"), full_page=True)

        with desk.expect_page() as opened:
            page.get_by_role("link", name="预览 / 打印").click()  # a new tab
        print_page = opened.value
        print_page.wait_for_load_state()
        expect(print_page.locator(".masthead")).to_have_text("惠济区应急管理局")
        print_page.screenshot(path=str(screenshots / "bulletin-print.png"), full_page=True)
        print_page.close()

        page.get_by_role("link", name="发布…").click()
        expect(page.locator("h1")).to_have_text("发布确认")
        page.screenshot(path=str(screenshots / "bulletin-publish.png"), full_page=True)
        page.get_by_role("button", name="确认发布").click()
        expect(page.locator(".notice")).to_contain_text("通报已发布")
        expect(page.locator("h1 + p .tag")).to_have_text("已发布")
        page.locator("nav").get_by_role("link", name="通报").click()
        expect(page.locator("tbody tr").first).to_contain_text("已发布")
        page.screenshot(path=str(screenshots / "bulletin-list.png"), full_page=True)

        # 督导通报: the visit's town, date, the enterprises visited, requirements.
        page.get_by_role("link", name="记录督导检查（督导通报）").click()
        page.get_by_role("button", name="列出该镇企业").click()
        page.locator("input[name=enterprise_ids]").first.check()
        page.fill("textarea[name=requirements]", "立即整改督导检查发现的问题\n整改完成后报属地镇（街道）安监办")
        page.get_by_role("button", name="建立督导通报草稿").click()
        expect(page.locator(".notice")).to_contain_text("督导通报草稿已建立")
        page.locator("textarea[name^=findings-]").first.fill("除尘器未按规定接地\n消防通道堆放杂物")
        page.get_by_role("button", name="保存").click()
        expect(page.locator("#lists")).to_contain_text("除尘器未按规定接地")
        page.screenshot(path=str(screenshots / "bulletin-supervision.png"), full_page=True)
    finally:
        desk.close()

    # The dispatcher sends the notices (make run drains the outbox in the background).
    stats = dispatch_outbox(concurrency=1)
    assert stats.as_dict()["claimed"] >= 1

    openid, name = _manager_of(warned)
    phone = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=1, is_mobile=True, has_touch=True,
        user_agent=WECHAT_UA, locale="zh-CN", timezone_id="Asia/Shanghai",
    )
    try:
        page = phone.new_page()
        page.goto(f"{live.base_url}/sandbox/")
        page.locator("#contact-search").fill(name)
        page.locator(f".contact[data-openid='{openid}']").click()
        card = page.locator("#messages .card--template", has_text="企业被通报预警").last
        expect(card).to_be_visible()
        expect(card.locator(".card__rows")).to_contain_text(warned[:8])
        page.locator("#phone").screenshot(path=str(screenshots / "bulletin-simulator.png"))
        card.get_by_role("button", name="详情").click()
        webview = page.frame_locator("#webview-frame")
        expect(webview.locator(".bl-own h2")).to_have_text(warned)
        expect(webview.locator(".bl-own")).to_contain_text("贵企业被通报预警")
        page.locator("#phone").screenshot(path=str(screenshots / "bulletin-h5.png"))
    finally:
        phone.close()
    for shot in ("bulletin-draft.png", "bulletin-print.png", "bulletin-publish.png", "bulletin-list.png",
                 "bulletin-supervision.png", "bulletin-simulator.png", "bulletin-h5.png"):
        assert (screenshots / shot).stat().st_size > 10_000
