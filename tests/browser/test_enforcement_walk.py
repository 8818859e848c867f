"""The enforcement walk in headless Chromium against a live server: a bureau staff member
opens an inspection of an enterprise of their town, adds two problems and a penalty
directive, has the responsible person draw a signature on the canvas (a tablet-size page,
mouse moves), confirms, and sees the record signed with the signature image and its hash;
the printable record; then the enterprise's admin opens their hazards list and finds both
problems as hazards with source 执法检查.

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

PASSWORD = "Walk-Enforcement-2026"


@dataclass
class Live:
    base_url: str
    enterprise_id: int


def _seed(session) -> Live:
    from tests.fixtures.builders import Builders

    build = Builders(session)
    town = build.town(name="花园口镇")
    enterprise = build.enterprise(town=town, name="郑州豫北特钢有限公司", principal_name="陈国强")
    build.site(enterprise, name="熔炼车间")
    build.member(enterprise, "safety_officer", user=build.user(display_name="李安全"))
    build.member(enterprise, "enterprise_admin", user=build.user(display_name="王管理", username="yubei", password=PASSWORD))
    build.bureau_user("bureau_staff", towns=[town], user=build.user(display_name="张执法", username="zhang", password=PASSWORD))
    session.commit()
    return Live("", enterprise.id)


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[Live]:
    folder = tmp_path_factory.mktemp("enforcement")
    with live_server(folder, "enforcement", lambda session, base_url: _seed(session)) as (url, seeded):
        seeded.base_url = url
        yield seeded


def _login(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/console/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="登录").click()


def test_an_inspection_is_signed_on_a_tablet_and_its_problems_become_hazards(browser, live, screenshots):
    from playwright.sync_api import expect

    deadline = (local_today(utcnow()) + timedelta(days=7)).isoformat()
    desk = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900}, timezone_id="Asia/Shanghai")
    try:
        page = desk.new_page()
        _login(page, live.base_url, "zhang")
        page.locator("nav").get_by_role("link", name="执法检查").click()
        expect(page.locator("h1")).to_have_text("执法检查")
        page.get_by_role("link", name="新建执法检查记录").click()
        page.select_option("select[name=enterprise_id]", str(live.enterprise_id))
        page.fill("input[name=inspectors]", "张执法、刘建国")
        page.fill("input[name=responsible_name]", "陈国强")
        page.fill("input[name=responsible_title]", "总经理")
        page.check("input[name=joint]")
        page.fill("input[name=joint_agencies]", "区消防救援大队")
        page.get_by_role("button", name="建立检查记录").click()
        expect(page.locator(".notice")).to_contain_text("检查记录已建立")
        expect(page.locator(".five .seen.missing")).to_have_count(5)

        problems = page.locator("#problem-form")
        for text, level in (("熔炼炉前未设置警示标识", "general"), ("除尘系统未设置锁气卸灰装置", "major")):
            problems.locator("textarea[name=text]").fill(text)
            problems.locator("select[name=level]").select_option(level)
            problems.locator("select[name=category]").select_option("unsafe_condition")
            problems.locator("input[name=deadline]").fill(deadline)
            problems.get_by_role("button", name="加入问题清单").click()
            expect(page.locator(".notice")).to_contain_text("问题已加入问题清单")
        directive = page.locator("#directive-form")
        directive.locator("select[name=penalty_kind]").select_option("rectify_order")
        directive.locator("input[name=penalty_deadline]").fill(deadline)
        directive.locator("textarea[name=penalty_content]").fill("责令对上述问题限期整改，整改完成后报区应急管理局复查。")
        directive.get_by_role("button", name="保存处罚指令").click()
        expect(page.locator(".notice")).to_contain_text("处罚指令已保存")
        expect(page.locator("#problems tbody tr")).to_have_count(2)
        expect(page.locator(".five .seen.done")).to_have_count(2)
        page.screenshot(path=str(screenshots / "enforcement-draft.png"), full_page=True)
        record_url = page.url.split("#")[0]
    finally:
        desk.close()

    # The responsible person signs on the inspector's tablet (the same login, a tablet's screen).
    tablet = browser.new_context(locale="zh-CN", viewport={"width": 1024, "height": 768}, timezone_id="Asia/Shanghai")
    try:
        page = tablet.new_page()
        _login(page, live.base_url, "zhang")
        page.goto(f"{record_url}/sign")
        canvas = page.locator("canvas#pad")
        expect(canvas).to_be_visible()
        page.get_by_role("button", name="确认签字").click()  # nothing drawn yet
        expect(page.locator("[data-status]")).to_have_text("请先在签名框内签字")
        box = canvas.bounding_box()
        x0, y0 = box["x"], box["y"]
        strokes = [
            [(0.10, 0.70), (0.18, 0.30), (0.24, 0.72), (0.32, 0.28), (0.40, 0.70)],
            [(0.48, 0.35), (0.60, 0.35), (0.54, 0.35), (0.54, 0.75), (0.46, 0.72)],
            [(0.66, 0.60), (0.74, 0.30), (0.80, 0.65), (0.90, 0.40)],
        ]
        for stroke in strokes:
            page.mouse.move(x0 + stroke[0][0] * box["width"], y0 + stroke[0][1] * box["height"])
            page.mouse.down()
            for fx, fy in stroke[1:]:
                page.mouse.move(x0 + fx * box["width"], y0 + fy * box["height"], steps=12)
            page.mouse.up()
        expect(page.locator("input[name=signer_name]")).to_have_value("陈国强")
        page.screenshot(path=str(screenshots / "enforcement-sign-tablet.png"), full_page=True)
        page.get_by_role("button", name="确认签字").click()
        expect(page.locator(".notice")).to_contain_text("责任人已签字")
        expect(page.locator("h1 + p .tag").first).to_have_text("已签字，整改中")
        signature = page.locator("#signature img.sigimg")
        expect(signature).to_be_visible()
        assert page.evaluate("img => img.complete && img.naturalWidth > 100", signature.element_handle())
        import re

        expect(page.locator("[data-sha256]")).to_have_text(re.compile(r"^[0-9a-f]{64}$"))
        expect(page.locator(".five .seen.done")).to_have_count(3)
        expect(page.locator("#problems tbody")).to_contain_text("隐患 #")
        page.screenshot(path=str(screenshots / "enforcement-record.png"), full_page=True)
        page.goto(f"{record_url}/print")
        expect(page.locator("h2").first).to_have_text("执法“五见”")
        expect(page.locator(".sig img")).to_be_visible()
        page.screenshot(path=str(screenshots / "enforcement-print.png"), full_page=True)
    finally:
        tablet.close()

    # The enterprise's admin finds both problems in their hazards list, from 执法检查.
    desk = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900}, timezone_id="Asia/Shanghai")
    try:
        page = desk.new_page()
        _login(page, live.base_url, "yubei")
        page.locator("nav").get_by_role("link", name="隐患治理").click()
        rows = page.locator("table tbody tr")
        expect(rows.filter(has_text="执法检查")).to_have_count(2)
        expect(rows.filter(has_text="熔炼炉前未设置警示标识")).to_have_count(1)
        expect(rows.filter(has_text="除尘系统未设置锁气卸灰装置")).to_contain_text("重大")
        page.screenshot(path=str(screenshots / "enforcement-hazards.png"), full_page=True)
    finally:
        desk.close()
    for shot in ("enforcement-draft.png", "enforcement-sign-tablet.png", "enforcement-record.png",
                 "enforcement-print.png", "enforcement-hazards.png"):
        assert (screenshots / shot).stat().st_size > 10_000
