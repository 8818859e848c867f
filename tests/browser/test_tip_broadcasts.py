"""The bureau sends a general safety tip by mass message and an acknowledgement task by
template message; a follower in the town sees both in the simulator, differently.

Headless Chromium against a live server (the demo district, SQLite, in-process Redis, the
sandbox's fake WeChat). The jobs the scheduler would run a minute later (release, mass send)
and the dispatcher run in-process; the fake WeChat's MASSSENDJOBFINISH is posted through its
control API (under TESTING it does not post it by itself).

Screenshots go to a temporary directory, or to $ANCHA_SCREENSHOT_DIR (e.g. docs/screenshots).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.accounts.models import Membership, User
from app.clock import to_local, utcnow
from app.demo import data as demo_data
from app.enterprises.models import Enterprise, Town
from tests.browser.conftest import RUNNING, WECHAT_UA, dispatch_outbox, live_server, needs_chromium

pytestmark = [pytest.mark.browser, needs_chromium]

GENERAL_TITLE = "冬季防火安全提示"
TASK_TITLE = "有限空间作业审批须知"


@dataclass(frozen=True)
class Live:
    base_url: str
    town_id: int
    town_name: str
    follower_openid: str
    follower_name: str
    enterprise_name: str


def _seed(session, base_url: str) -> Live:
    from app.demo.seed import seed_demo
    from tests.browser.conftest import SECRET

    seed_demo(session, utcnow(), SECRET)
    spec = demo_data.ENTERPRISES[0]
    enterprise = session.scalar(select(Enterprise).where(Enterprise.uscc.startswith(spec["uscc17"])))
    town = session.get(Town, enterprise.town_id)
    follower = session.scalar(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.enterprise_id == enterprise.id, Membership.role == "worker", User.openid.is_not(None))
        .order_by(Membership.id)
        .limit(1)
    )
    session.commit()
    return Live(base_url, town.id, town.name, follower.openid, follower.display_name, enterprise.name)


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[Live]:
    with live_server(tmp_path_factory.mktemp("tips"), "tips", _seed) as (_base_url, seeded):
        yield seeded


def _run_the_jobs(live: Live) -> list[int]:
    """What the scheduler and the dispatcher do next: release due broadcasts, submit the
    mass sends, send the task notices. Returns the mass sends' msg_ids."""
    from app.extensions import db
    from app.tips import mass, service
    from app.tips.models import TipMassSend

    app = RUNNING["app"]
    now = utcnow() + timedelta(minutes=1)
    with app.app_context():
        # As the job runner does: the items listed in one session, each run in its own.
        with db.new_session() as session:
            for broadcast_id in service.due_broadcast_ids(session, now):
                service.release_broadcast(session, broadcast_id, now)
            session.commit()
        with db.new_session() as session:
            pending = mass.pending_mass_ids(session, now)
        for mass_id in pending:
            with db.new_session() as session:
                mass.send_mass(session, mass_id, now)
                session.commit()
        with db.new_session() as session:
            msg_ids = [m for m in session.scalars(select(TipMassSend.msg_id)) if m]
    dispatch_outbox(clock=lambda: now)
    return msg_ids


def _login(page, live: Live) -> None:
    page.goto(f"{live.base_url}/console/login")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", demo_data.DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()


def _compose(page, live: Live, title: str, body: str, *, task: bool, screenshot=None) -> None:
    from playwright.sync_api import expect

    page.goto(f"{live.base_url}/console/tips/new")
    page.fill("input[name=title]", title)
    page.fill("textarea[name=body]", body)
    page.locator("fieldset.checks", has_text="推送镇街").get_by_label(live.town_name).check()
    if task:
        page.get_by_label("需逐人确认（学习任务）", exact=False).check()
    page.fill("input[name=send_at]", to_local(utcnow()).strftime("%Y-%m-%dT%H:%M"))
    if screenshot:
        page.screenshot(path=str(screenshot), full_page=True)
    page.get_by_role("button", name="排期发送").click()
    expect(page.locator("h1")).to_contain_text(title)


def test_a_general_tip_goes_by_mass_message_and_a_task_by_template(browser, live, screenshots):
    from playwright.sync_api import expect

    desk = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900}, timezone_id="Asia/Shanghai")
    try:
        page = desk.new_page()
        _login(page, live)
        page.get_by_role("link", name="安全提示").first.click()
        page.get_by_role("link", name="新建推送").first.click()
        expect(page.locator("body")).to_contain_text("群发配额")

        _compose(page, live, GENERAL_TITLE, "天干物燥，请检查消防设施，清理易燃物。", task=False,
                 screenshot=screenshots / "tips-compose.png")
        expect(page.locator("dd", has_text="群发消息（按镇街标签）")).to_be_visible()
        expect(page.locator("body")).to_contain_text("均未达到本月 4 条群发上限")
        general_url = page.url

        _compose(page, live, TASK_TITLE, "作业前须经审批，先通风、再检测、后作业。", task=True)
        expect(page.locator("dd", has_text="待办通知（逐人模板消息）")).to_be_visible()
        task_url = page.url

        msg_ids = _run_the_jobs(live)
        assert msg_ids, "the general tip was mass-sent"
        for msg_id in msg_ids:
            answer = page.request.post(f"{live.base_url}/sandbox/api/mass/{msg_id}/report").json()
            assert answer["status"] == 200 and answer["failure"] is None, answer

        page.goto(general_url)
        mass_table = page.locator("table", has_text="微信 msg_id")
        expect(mass_table).to_contain_text("已发送")
        expect(mass_table).to_contain_text(live.town_name)
        page.screenshot(path=str(screenshots / "tips-broadcast-mass.png"), full_page=True)

    finally:
        desk.close()

    phone = browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=1,
        is_mobile=True,
        has_touch=True,
        user_agent=WECHAT_UA,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
    )
    try:
        page = phone.new_page()
        page.add_init_script(f"localStorage.setItem('ancha-sim:v1:current', '{live.follower_openid}')")
        page.goto(f"{live.base_url}/sandbox/")
        expect(page.locator("#identity")).to_contain_text(live.follower_name)
        mass_bubble = page.locator("#messages .bubble--mass").last
        expect(mass_bubble).to_contain_text(GENERAL_TITLE)
        expect(mass_bubble.locator(".bubble__badge")).to_have_text("群发消息")
        card = page.locator("#messages .card--template").last
        expect(card).to_contain_text("待办：请学习并确认")
        expect(card).to_contain_text(TASK_TITLE)
        page.locator("#phone").screenshot(path=str(screenshots / "tips-simulator.png"))
        # The task: 详情 opens the article in the webview; the follower confirms.
        card.get_by_role("button", name="详情").click()
        webview = page.frame_locator("#webview-frame")
        expect(webview.locator("h1")).to_have_text(TASK_TITLE)
        webview.get_by_role("button", name="我已阅读并知晓").click()
        expect(webview.locator(".h5-banner--ok")).to_contain_text("您已阅读并知晓本提示")
    finally:
        phone.close()

    desk = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900}, timezone_id="Asia/Shanghai")
    try:
        page = desk.new_page()
        _login(page, live)
        page.goto(task_url)
        page.get_by_role("link", name="按企业查看阅读与确认").click()
        expect(page.locator("h1")).to_contain_text("接收企业")
        row = page.locator("tr", has_text=live.enterprise_name)
        expect(row.locator("td").nth(5)).to_have_text("1")  # 已确认
        page.screenshot(path=str(screenshots / "tips-recipients-enterprises.png"), full_page=True)
        row.get_by_role("link", name="查看人员").click()
        expect(page.locator("h1")).to_contain_text("接收人员")
        expect(page.locator("tr", has_text=live.follower_name)).to_contain_text("已确认")
        page.screenshot(path=str(screenshots / "tips-recipients-people.png"), full_page=True)
    finally:
        desk.close()
