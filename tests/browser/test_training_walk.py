"""The safety-training walk in headless Chromium against a live server seeded with the demo
district: the safety officer of 郑州华新建材 (no training on record in the demo) opens the
enterprise's 「安全培训」 tab, records a 主要负责人和安全管理人员培训 with two attendees — the
principal and themself — and sees the session; the bureau admin opens 「安全培训」 from the
menu and finds the enterprise's principal covered.

Screenshots go to a temporary directory, or to $ANCHA_SCREENSHOT_DIR (docs/screenshots).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from app.accounts.domain import Role
from app.accounts.models import Membership, User
from app.accounts.queries import load_actor
from app.accounts.service import hash_password
from app.clock import local_today, utcnow
from app.demo import data as demo_data
from app.enterprises.models import Enterprise
from app.oversight.training.queries import coverage_report
from tests.browser.conftest import SECRET, live_server, needs_chromium

pytestmark = [pytest.mark.browser, needs_chromium]

ENTERPRISE = "郑州华新建材有限公司"
OFFICER_LOGIN = "huaxin_safety"


@dataclass
class Live:
    base_url: str
    enterprise_id: int
    manager: str
    officer: str
    town: str


def _seed(session, base_url: str) -> Live:
    """The demo district; the enterprise's safety officer gets a console login."""
    from app.demo.seed import seed_demo

    seed_demo(session, utcnow(), SECRET)
    # The demo's own sessions leave coverage partial: some principals covered, some not.
    bureau = session.scalar(select(User).where(User.username == "admin"))
    report = coverage_report(session, load_actor(session, bureau), local_today(utcnow()))
    covered = {p.name for e in report.enterprises for p in e.people if p.covered}
    assert 0 < len(covered) < report.district.people
    enterprise = session.scalar(select(Enterprise).where(Enterprise.name == ENTERPRISE))

    def person(role: Role) -> User:
        return session.scalar(
            select(User).join(Membership, Membership.user_id == User.id)
            .where(Membership.enterprise_id == enterprise.id, Membership.role == role).order_by(User.id)
        )

    officer, manager = person(Role.SAFETY_OFFICER), person(Role.MANAGER)
    officer.username = OFFICER_LOGIN
    officer.password_hash = hash_password(demo_data.DEMO_PASSWORD)
    session.commit()
    return Live(base_url, enterprise.id, manager.display_name, officer.display_name, enterprise.town.name)


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[Live]:
    folder = tmp_path_factory.mktemp("training")
    with live_server(folder, "training", _seed) as (_url, seeded):
        yield seeded


def _login(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/console/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", demo_data.DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()


def test_the_officer_records_a_session_and_the_bureau_sees_the_principal_covered(browser, live, screenshots):
    from playwright.sync_api import expect

    desk = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900}, timezone_id="Asia/Shanghai")
    try:
        page = desk.new_page()
        _login(page, live.base_url, OFFICER_LOGIN)
        page.goto(f"{live.base_url}/console/enterprises/{live.enterprise_id}/dashboard")
        page.locator("nav.ent-tabs").get_by_role("link", name="安全培训").click()
        expect(page.locator("h1")).to_have_text(f"安全培训 · {ENTERPRISE}")
        page.fill("input[name=topic]", "2026年度主要负责人和安全管理人员安全生产知识培训")
        page.select_option("select[name=kind]", "principal_officer")
        page.fill("input[name=hours]", "16")
        page.fill("input[name=trainer]", "区应急管理局培训中心 王老师")
        page.fill("input[name=location]", "公司二楼会议室")
        form = page.locator("form#new, #new form")
        for name in (live.manager, live.officer):
            row = form.locator("tbody tr", has=page.get_by_text(name, exact=True)).first
            row.locator("input[name=attendee]").check()
        form.locator(f"tr:has-text('{live.manager}') input[name^=certificate-]").first.fill("豫ZZ2026-0012")
        page.screenshot(path=str(screenshots / "training-form.png"), full_page=True)
        page.get_by_role("button", name="登记培训").click()
        expect(page.locator(".notice")).to_contain_text("参训 2 人")
        expect(page.locator("table").first).to_contain_text(live.manager)
        page.screenshot(path=str(screenshots / "training-session.png"), full_page=True)
        page.locator("nav.topbar, header.topbar").get_by_role("button", name="退出").click()

        _login(page, live.base_url, "admin")
        page.locator("header nav").get_by_role("link", name="安全培训").click()
        expect(page.locator("h1")).to_contain_text("安全培训覆盖")
        expect(page.locator("#enterprises tbody tr.uncovered").first).to_contain_text("未覆盖")
        page.screenshot(path=str(screenshots / "training-coverage.png"), full_page=True)
        # The enterprise's town: its enterprises with someone uncovered first, then the covered.
        page.select_option("select[name=town_id]", label=live.town)
        page.get_by_role("button", name="查看").click()
        row = page.locator("#enterprises tbody tr", has_text=ENTERPRISE)
        expect(row).to_contain_text(f"已覆盖{live.manager}")
        expect(row).not_to_have_class("uncovered")
        row.scroll_into_view_if_needed()
        page.screenshot(path=str(screenshots / "training-coverage-town.png"), full_page=True)
    finally:
        desk.close()
    for shot in ("training-form.png", "training-session.png", "training-coverage.png", "training-coverage-town.png"):
        assert (screenshots / shot).stat().st_size > 10_000
