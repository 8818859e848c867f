"""The enterprise console, walked end to end (issue 12's done-when).

The enterprise admin adds a team leader in 人员, prints the team's invite sheet; a new WeChat
user in the simulator follows the account, scans the invite and is bound, scans a site of the
team and submits the daily check with one hazard in the in-phone webview; the admin sees the
check on 工作台, assigns the hazard to the new leader from the console, and — once the outbox
dispatcher has run — the leader's phone shows the 隐患待您整改 notice.

The server is the real app on a werkzeug thread with its own SQLite file and in-process Redis
(see conftest.live_server); the clock is real, so the set-up moves the team's daily check of
today into a window open now. Screenshots go to $ANCHA_SCREENSHOT_DIR when set.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from app.accounts.domain import Role
from app.accounts.models import Membership, User
from app.clock import local_today, utcnow
from app.demo import data as demo_data
from app.enterprises.models import Enterprise, Site, Team
from app.hazard_reporting.checklists import service as checklist_service
from app.hazard_reporting.checks.domain import CheckLevel, CheckTaskStatus
from app.hazard_reporting.checks.models import CheckSubmission, CheckTask
from app.hazard_reporting.hazards.domain import HazardStatus
from app.hazard_reporting.hazards.models import Hazard
from app.hazard_reporting.schedules import service as schedule_service
from app.hazard_reporting.schedules.models import CheckSchedule
from tests.browser.conftest import (
    SECRET,
    WECHAT_UA,
    dispatch_outbox,
    live_server,
    needs_chromium,
    open_for_the_walk,
)

NEW_LEADER = "周建华"
NEW_PHONE = "13912345678"
HAZARD_ITEM = "GEN-04"
HAZARD_NOTE = "冷却水泵联轴器防护罩缺失"

pytestmark = [pytest.mark.browser, needs_chromium]


@dataclass(frozen=True)
class Live:
    base_url: str
    admin_username: str
    enterprise_id: int
    enterprise_name: str
    department_id: int
    team_id: int
    team_label: str
    site_name: str
    task_id: int


def _seed(session, base_url: str) -> Live:
    """The demo, its first enterprise's schedules and tasks, and the daily check of the
    first team open for the next hours (whatever the hour and the day the suite runs)."""
    from app.demo.seed import seed_demo

    now = utcnow()
    seed_demo(session, now, SECRET)
    spec = demo_data.ENTERPRISES[0]
    enterprise = session.scalar(select(Enterprise).where(Enterprise.uscc.startswith(spec["uscc17"])))
    checklist_service.load_standard_checklists(session, now)
    schedules = schedule_service.ensure_default_schedules(session, now, enterprise.id)
    for schedule in schedules:
        schedule.workdays_only = False
    session.flush()
    schedule_service.generate_tasks(session, now)
    team = session.scalar(
        select(Team).join(CheckSchedule, CheckSchedule.team_id == Team.id).where(
            CheckSchedule.enterprise_id == enterprise.id, CheckSchedule.level == CheckLevel.DAILY
        ).order_by(Team.id)
    )
    task = session.scalar(
        select(CheckTask)
        .join(CheckSchedule)
        .where(
            CheckSchedule.team_id == team.id,
            CheckSchedule.level == CheckLevel.DAILY,
            CheckTask.period_start == local_today(now),
        )
    )
    open_for_the_walk(task, now)
    site = session.scalar(
        select(Site)
        .where(Site.enterprise_id == enterprise.id, Site.department_id == team.department_id, Site.active)
        .order_by(Site.id)
    )
    session.commit()
    return Live(
        base_url=base_url,
        admin_username=f"{spec['key']}_admin",
        enterprise_id=enterprise.id,
        enterprise_name=enterprise.name,
        department_id=team.department_id,
        team_id=team.id,
        team_label=f"{team.department.name} / {team.name}",
        site_name=site.name,
        task_id=task.id,
    )


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[Live]:
    with live_server(tmp_path_factory.mktemp("console-walk"), "console-walk", _seed) as (_base_url, seeded):
        yield seeded


def _photo(path: Path) -> Path:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (640, 480), (96, 104, 112))
    draw = ImageDraw.Draw(image)
    draw.rectangle((120, 120, 520, 380), fill=(214, 160, 52), outline=(30, 30, 30), width=6)
    draw.ellipse((250, 190, 390, 330), fill=(40, 40, 40))
    image.save(path, "JPEG", quality=85)
    return path


def test_admin_adds_a_leader_who_binds_checks_and_gets_the_hazard_assigned(browser, live, screenshots, tmp_path):
    from playwright.sync_api import expect

    desk = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900}, timezone_id="Asia/Shanghai")
    phone = browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=1,
        is_mobile=True,
        has_touch=True,
        user_agent=WECHAT_UA,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
    )
    phone.route("https://res.wx.qq.com/**", lambda route: route.abort())
    try:
        # 1. The admin adds the team leader (人员 tab) and prints the team's invite sheet.
        admin = desk.new_page()
        admin.goto(f"{live.base_url}/console/login")
        admin.fill("input[name=username]", live.admin_username)
        admin.fill("input[name=password]", demo_data.DEMO_PASSWORD)
        admin.get_by_role("button", name="登录").click()
        admin.goto(f"{live.base_url}/console/enterprises/{live.enterprise_id}")
        admin.locator("nav.ent-tabs").get_by_role("link", name="人员").click()
        form = admin.locator("form.member-form")
        form.locator("input[name=name]").fill(NEW_LEADER)
        form.locator("input[name=phone]").fill(NEW_PHONE)
        form.locator("select[name=role]").select_option(Role.TEAM_LEADER.value)
        form.locator("select[name=department_id]").select_option(str(live.department_id))
        form.locator("select[name=team_id]").select_option(str(live.team_id))
        form.get_by_role("button", name="添加").click()
        row = admin.locator("tr", has_text=NEW_LEADER)
        expect(row).to_contain_text("未绑定")
        with desk.expect_page() as sheet_page:
            admin.get_by_role("button", name=live.team_label).click()
        sheet = sheet_page.value
        expect(sheet.locator("body")).to_contain_text(NEW_LEADER)
        sheet.screenshot(path=str(screenshots / "walk-invite-sheet.png"), full_page=True)
        sheet.close()

        # 2. A new WeChat user follows, scans the invite and is bound as the team leader.
        sim = phone.new_page()
        sim.goto(f"{live.base_url}/sandbox/")
        replies = sim.locator("#messages .msg--in")
        sim.get_by_role("button", name="新建微信用户").click()
        sim.locator(".weui-dialog input").fill("小周")
        sim.get_by_role("button", name="创建").click()
        sim.locator("#follow-button").click()
        expect(replies.last).to_contain_text("欢迎关注安查")
        sim.locator("#chat-scan").click()
        sim.locator("#tab-invites").click()
        sim.locator(".code--invite", has_text=NEW_LEADER).first.click()
        expect(replies.last).to_contain_text(f"绑定成功！您已作为「{live.enterprise_name}」的班组长")
        openid = sim.evaluate("localStorage.getItem('ancha-sim:v1:current')")

        # 3. … scans a site of the team and submits today's check with one hazard.
        sim.locator("#chat-scan").click()
        sim.locator("#tab-sites").click()
        sim.locator(".code--site", has_text=live.site_name).first.click()
        expect(replies.last).to_contain_text(f"点位「{live.site_name}」")
        replies.last.get_by_role("link", name="点此开始排查").click()
        webview = sim.frame_locator("#webview-frame")
        card = webview.locator(f'.ck-card[data-task="{live.task_id}"]')
        expect(card).to_contain_text("班组日排查")
        card.get_by_text("开始检查").click()
        item = webview.locator(f"#item-{HAZARD_ITEM}")
        item.locator('label[data-v="hazard"]').click()
        item.locator("textarea").fill(HAZARD_NOTE)
        item.locator("input[type=file]").set_input_files(_photo(tmp_path / "guard.jpg"))
        expect(item.locator("li.ck-photo[data-token]")).to_have_count(1)
        webview.get_by_role("button", name="其余全部符合").click()
        webview.locator("[data-submit]").click()
        expect(webview.locator(".h5-msg h2")).to_have_text("班组日排查已提交")
        hazard_id = int(webview.locator("a[data-hazard]").get_attribute("data-hazard"))
        sim.locator("#webview-close").click()

        # 4. The admin sees the check on 工作台 and assigns the hazard to the new leader.
        admin.goto(f"{live.base_url}/console/enterprises/{live.enterprise_id}")
        admin.locator("nav.ent-tabs").get_by_role("link", name="工作台").click()
        today = admin.locator("#today")
        # (The team's register-driven sites add risk-point rounds to its rows: the daily check's is the one.)
        expect(today.locator("tr", has_text=NEW_LEADER).filter(has_text="班组日排查")).to_contain_text("已完成")
        admin.screenshot(path=str(screenshots / "walk-dashboard.png"), full_page=True)
        admin.locator("nav.ent-tabs").get_by_role("link", name="隐患").click()
        admin.locator("a", has_text=HAZARD_NOTE).first.click()
        assign = admin.locator("#action-assign")
        if not assign.evaluate("el => el.open"):
            assign.locator("summary").click()
        assign.locator("select[name=assignee_id]").select_option(
            label=assign.locator("option", has_text=NEW_LEADER).first.inner_text()
        )
        assign.get_by_role("button", name="指派").click()
        expect(admin.locator("dt:has-text('整改责任人') + dd")).to_have_text(NEW_LEADER)
        admin.screenshot(path=str(screenshots / "walk-hazard-assigned.png"), full_page=True)

        # 5. The dispatcher sends the outbox: the leader's phone shows the task notice.
        dispatch_outbox()
        notice = sim.locator("#messages .card--template", has_text="隐患待您整改").last
        expect(notice).to_contain_text(HAZARD_NOTE)
        sim.locator("#phone").screenshot(path=str(screenshots / "walk-notice.png"))
        log = sim.request.get(f"{live.base_url}/sandbox/api/messages", params={"openid": openid}).json()
    finally:
        desk.close()
        phone.close()

    templates = [m for m in log["messages"] if m["kind"] == "template"]
    assert len(templates) == 1 and HAZARD_NOTE in str(templates[0]["body"])

    from app.extensions import db

    with db.new_session() as session:
        leader = session.scalar(select(User).where(User.openid == openid))
        assert leader.display_name == NEW_LEADER and leader.wechat_bound_at is not None
        membership = session.scalar(select(Membership).where(Membership.user_id == leader.id))
        assert membership.role is Role.TEAM_LEADER and membership.team_id == live.team_id
        submission = session.scalar(select(CheckSubmission).where(CheckSubmission.task_id == live.task_id))
        assert submission.user_id == leader.id
        assert session.get(CheckTask, live.task_id).status is CheckTaskStatus.DONE
        hazard = session.get(Hazard, hazard_id)
        assert hazard.status is HazardStatus.ASSIGNED and hazard.assignee_id == leader.id
