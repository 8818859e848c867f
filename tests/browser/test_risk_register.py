"""The risk register walked in Chromium: the admin opens 风险管控, adds a risk point at a
site, assesses a source (LEC) and gives it a team-level control, sees the site turn red on
排查点位, and opens the four-colour risk map. Screenshots: docs/screenshots/risk-register*.png
and risk-map.png (in $ANCHA_SCREENSHOT_DIR when set)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.browser.conftest import live_server, needs_chromium

pytestmark = [pytest.mark.browser, needs_chromium]


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[tuple[str, tuple[int, str]]]:
    folder = tmp_path_factory.mktemp("risks")

    def seed(session, _base_url: str) -> tuple[int, str]:
        from app.accounts.service import hash_password
        from tests.fixtures.builders import Builders

        build = Builders(session)
        enterprise = build.enterprise(name="郑州恒达铸造有限公司", town=build.town(name="长兴路街道"))
        build.team(build.department(enterprise, name="熔炼车间"), name="熔炼班")
        for name, area in (("熔炼车间炉前", "一号厂房"), ("浇注区", "一号厂房"), ("成品库", "二号厂房")):
            build.site(enterprise, name=name, area=area)
        user = build.user(username="hd_admin", display_name="王建国", password_hash=hash_password("pw"))
        build.member(enterprise, "enterprise_admin", user=user)
        session.commit()
        return enterprise.id, "hd_admin"

    with live_server(folder, "risks", seed) as served:
        yield served


def test_register_a_risk_and_see_the_site_colour_and_the_map(browser, live, screenshots):
    from playwright.sync_api import expect

    base_url, (enterprise_id, admin) = live
    context = browser.new_context(locale="zh-CN", viewport={"width": 1360, "height": 900}, timezone_id="Asia/Shanghai")
    try:
        page = context.new_page()
        page.goto(f"{base_url}/console/login")
        page.fill("input[name=username]", admin)
        page.fill("input[name=password]", "pw")
        page.get_by_role("button", name="登录").click()
        page.goto(f"{base_url}/console/enterprises/{enterprise_id}/sites/")
        page.locator("nav.ent-tabs").get_by_role("link", name="风险管控", exact=True).click()
        expect(page.locator("h1")).to_contain_text("风险管控")
        expect(page.get_by_text("尚未建立风险辨识清单")).to_be_visible()

        form = page.locator("#point-form form")
        form.locator("input[name=name]").fill("中频熔炼炉")
        form.locator("select[name=kind]").select_option("equipment")
        form.locator("input[name=area]").fill("一号厂房")
        form.locator("select[name=site_id]").select_option(label="熔炼车间炉前")
        form.get_by_role("button", name="添加风险点").click()
        expect(page.locator("h1")).to_contain_text("风险点「中频熔炼炉」")

        source = page.locator("#source-form form")
        source.locator("input[name=name]").fill("熔融金属遇水爆炸")
        source.locator("select[name=likelihood]").select_option("6")
        source.locator("select[name=exposure]").select_option("6")
        source.locator("select[name=consequence]").select_option("15")
        source.get_by_label("灼烫").check()
        source.get_by_label("其它爆炸").check()
        source.get_by_label("较大危险因素").check()
        source.get_by_role("button", name="添加危险源").click()
        expect(page.get_by_text("D = 540")).to_be_visible()

        control = page.locator("#control-form form")
        control.locator("input[name=text]").fill("加料前确认炉料、工具干燥预热，炉前坑槽无积水")
        control.locator("select[name=control_level]").select_option("team")
        control.get_by_role("button", name="添加管控措施").click()
        expect(page.locator("#form-error")).to_contain_text("班组级管控措施须指定责任班组")
        control = page.locator("#control-form form")
        expect(control.locator("input[name=text]")).to_have_value("加料前确认炉料、工具干燥预热，炉前坑槽无积水")
        control.locator("select[name=team_id]").select_option(label="熔炼车间/熔炼班")
        control.get_by_role("button", name="添加管控措施").click()
        expect(page.locator("table").first).to_contain_text("熔炼车间/熔炼班")
        page.screenshot(path=str(screenshots / "risk-register-point.png"), full_page=True)

        page.goto(f"{base_url}/console/enterprises/{enterprise_id}/risks/")
        expect(page.locator(".risk-red").first).to_be_visible()
        page.screenshot(path=str(screenshots / "risk-register.png"), full_page=True)

        page.locator("nav.ent-tabs").get_by_role("link", name="排查点位", exact=True).click()
        row = page.locator("tr", has_text="熔炼车间炉前")
        expect(row.locator(".risk-red")).to_be_visible()
        expect(row).to_contain_text("由风险辨识清单确定")
        page.screenshot(path=str(screenshots / "risk-register-sites.png"), full_page=True)

        page.locator("nav.ent-tabs").get_by_role("link", name="风险管控", exact=True).click()
        page.get_by_role("link", name="四色风险分布图").click()
        expect(page.locator("h1")).to_contain_text("四色风险分布图")
        expect(page.locator(".block.lv-red")).to_contain_text("熔炼车间炉前")
        expect(page.locator(".block.lv-none")).to_have_count(2)
        page.screenshot(path=str(screenshots / "risk-map.png"), full_page=True)
    finally:
        context.close()
