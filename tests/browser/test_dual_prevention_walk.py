"""双重预防 end to end in Chromium (issue 17's done-when), on the demo district: the
enterprise admin registers a risk at a site in the console — risk point, a source assessed by
LEC, a team-level control of the 熔炼班 — then the team's leader scans that site on the phone,
finds the control among the daily check's items with its origin, marks it 隐患 with a photo
and submits; back in the console the risk point's page lists the open hazard its control
found.

Screenshots (with ANCHA_SCREENSHOT_DIR=docs/screenshots): dual-prevention-*.png.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from app.accounts.models import Membership, User
from app.clock import local_today, utcnow
from app.demo import data as demo_data
from app.demo.seed import virtual_openid
from app.enterprises.models import Department, Enterprise, Site, Team
from app.hazard_reporting.checklists import service as checklist_service
from app.hazard_reporting.checks.domain import CheckLevel
from app.hazard_reporting.checks.models import CheckTask
from app.hazard_reporting.hazards.models import Hazard
from app.hazard_reporting.risks.models import RiskControl
from app.hazard_reporting.schedules import service as schedule_service
from app.hazard_reporting.schedules.models import CheckSchedule
from tests.browser.conftest import SECRET, live_server, needs_chromium, open_for_the_walk
from tests.browser.test_scan_to_check import _phone, _photo, _shot

pytestmark = [pytest.mark.browser, needs_chromium]

POINT = "2号中频感应电炉"
SOURCE = "炉衬烧穿钢水外泄"
CONTROL = "开炉前检查炉衬厚度与漏炉报警探头，记录在交接班本上"
FINDING = "漏炉报警探头接线松脱，报警灯不亮"


@dataclass(frozen=True)
class Live:
    base_url: str
    enterprise_id: int
    admin: str
    site_name: str
    site_token: str
    team_label: str
    task_id: int
    leader: str


def _seed(session) -> dict:
    from app.demo.seed import seed_demo

    now = utcnow()
    seed_demo(session, now, SECRET)
    spec = demo_data.ENTERPRISES[0]
    enterprise = session.scalar(select(Enterprise).where(Enterprise.uscc.startswith(spec["uscc17"])))
    checklist_service.load_standard_checklists(session, now)
    for schedule in schedule_service.ensure_default_schedules(session, now, enterprise.id):
        schedule.workdays_only = False  # a weekend must not leave the walk without a daily check
    session.flush()
    schedule_service.generate_tasks(session, now)
    leader = session.scalar(select(User).where(User.openid == virtual_openid(f"{spec['key']}:leader0")))
    team = session.scalar(select(Team).join(Membership, Membership.team_id == Team.id).where(Membership.user_id == leader.id))
    department = session.get(Department, team.department_id)
    site = session.scalar(
        select(Site).where(Site.enterprise_id == enterprise.id, Site.department_id == team.department_id).order_by(Site.id)
    )
    task = session.scalar(
        select(CheckTask)
        .join(CheckSchedule)
        .where(CheckSchedule.team_id == team.id, CheckSchedule.level == CheckLevel.DAILY, CheckTask.period_start == local_today(now))
    )
    open_for_the_walk(task, now)
    session.commit()
    return {
        "enterprise_id": enterprise.id,
        "admin": f"{spec['key']}_admin",
        "site_name": site.name,
        "site_token": site.token,
        "team_label": f"{department.name}/{team.name}",
        "task_id": task.id,
        "leader": leader.openid,
    }


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[Live]:
    folder = tmp_path_factory.mktemp("dual-prevention")
    with live_server(folder, "dual-prevention", lambda session, _url: _seed(session)) as (base_url, seeded):
        yield Live(base_url=base_url, **seeded)


def test_a_risk_registered_in_the_console_is_checked_on_the_phone_and_its_hazard_shows_on_the_risk(
    browser, live, screenshots, tmp_path
):
    from playwright.sync_api import expect

    desk = browser.new_context(locale="zh-CN", viewport={"width": 1360, "height": 900}, timezone_id="Asia/Shanghai")
    try:
        page = desk.new_page()
        page.goto(f"{live.base_url}/console/login")
        page.fill("input[name=username]", live.admin)
        page.fill("input[name=password]", demo_data.DEMO_PASSWORD)
        page.get_by_role("button", name="登录").click()
        page.goto(f"{live.base_url}/console/enterprises/{live.enterprise_id}/risks/")
        form = page.locator("#point-form form")
        form.locator("input[name=name]").fill(POINT)
        form.locator("select[name=kind]").select_option("equipment")
        form.locator("select[name=site_id]").select_option(label=live.site_name)
        form.get_by_role("button", name="添加风险点").click()
        expect(page.locator("h1")).to_contain_text(f"风险点「{POINT}」")
        point_url = page.url

        source = page.locator("#source-form form")
        source.locator("input[name=name]").fill(SOURCE)
        source.locator("select[name=likelihood]").select_option("3")
        source.locator("select[name=exposure]").select_option("6")
        source.locator("select[name=consequence]").select_option("15")  # D = 270: 较大风险
        source.get_by_label("灼烫").check()
        source.get_by_role("button", name="添加危险源").click()
        expect(page.get_by_text("D = 270")).to_be_visible()

        control = page.locator("#control-form form")
        control.locator("input[name=text]").fill(CONTROL)
        control.locator("select[name=control_level]").select_option("team")
        control.locator("select[name=team_id]").select_option(label=live.team_label)
        control.get_by_role("button", name="添加管控措施").click()
        expect(page.locator("table").first).to_contain_text(live.team_label)
        page.screenshot(path=str(screenshots / "dual-prevention-register.png"), full_page=True)
    finally:
        desk.close()

    from app.extensions import db

    with db.new_session() as session:
        control_id = session.scalar(select(RiskControl.id).where(RiskControl.text == CONTROL))
    code = f"RC-{control_id}"

    phone = _phone(browser, live, live.leader)
    try:
        page = phone.new_page()
        page.goto(f"{live.base_url}/h5/scan/{live.site_token}")
        page.locator(f'.ck-card[data-task="{live.task_id}"]').get_by_text("开始检查").click()
        expect(page.locator("h1")).to_have_text("班组日排查")
        item = page.locator(f"#item-{code}")
        expect(item).to_have_attribute("data-origin", "control")
        expect(item.locator("[data-control-origin]")).to_contain_text(f"来源：{POINT} › {SOURCE}")
        item.locator('label[data-v="hazard"]').click()
        item.locator("textarea").fill(FINDING)
        item.locator("input[type=file]").set_input_files(_photo(tmp_path / "probe.jpg", (150, 90, 60)))
        expect(item.locator("li.ck-photo[data-token]")).to_have_count(1)
        page.get_by_role("button", name="其余全部符合").click()
        page.evaluate(f"document.getElementById('item-{code}').scrollIntoView({{block: 'start'}})")
        _shot(page, screenshots / "dual-prevention-phone.png")
        page.locator("[data-submit]").click()
        page.wait_for_url(f"**/h5/checks/{live.task_id}/result")
        expect(page.locator("a[data-hazard]")).to_contain_text(FINDING)
    finally:
        phone.close()

    with db.new_session() as session:
        hazard = session.scalar(select(Hazard).where(Hazard.risk_control_id == control_id))
        assert hazard is not None and FINDING in hazard.description

    desk = browser.new_context(locale="zh-CN", viewport={"width": 1360, "height": 900}, timezone_id="Asia/Shanghai")
    try:
        page = desk.new_page()
        page.goto(f"{live.base_url}/console/login")
        page.fill("input[name=username]", live.admin)
        page.fill("input[name=password]", demo_data.DEMO_PASSWORD)
        page.get_by_role("button", name="登录").click()
        page.goto(point_url)
        open_hazards = page.locator("section", has_text="未闭环隐患（1）")
        expect(open_hazards).to_contain_text(FINDING)
        open_hazards.scroll_into_view_if_needed()
        page.screenshot(path=str(screenshots / "dual-prevention-risk-page.png"), full_page=True)
    finally:
        desk.close()
