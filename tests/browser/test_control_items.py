"""A risk register's control in the team leader's daily check, in headless Chromium on a
phone-sized WeChat webview against a live server (双重预防, issue 17 §2).

The register is written through the models (the register's console is another part of the
issue): a risk point at a site of the first demo team's department, a source of 较大风险 and
a team-level control of that team, plus a post-level control of the team's post. The team
leader scans the site (the sandbox's WeChat authorisation), sees the control after the
checklist with its origin and colour, marks it 隐患 with a photo and submits; the hazard
exists, is linked to the control and its page names the risk point. A worker of the post
then confirms their post's control on the same scan page (岗位自查).

Screenshots: docs/screenshots/risk-check-*.png with ANCHA_SCREENSHOT_DIR=docs/screenshots.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from app.accounts.models import Membership, User
from app.clock import local_today, utcnow
from app.demo import data as demo_data
from app.demo.seed import virtual_openid
from app.enterprises.models import Enterprise, Site, Team
from app.hazard_reporting.checklists import service as checklist_service
from app.hazard_reporting.checks.domain import CheckLevel, CheckTaskStatus
from app.hazard_reporting.checks.models import CheckItemResult, CheckSubmission, CheckTask, PostSelfCheck
from app.hazard_reporting.hazards.domain import HazardSource
from app.hazard_reporting.hazards.models import Hazard, HazardPhoto
from app.hazard_reporting.risks.domain import ControlKind, ControlLevel
from app.hazard_reporting.risks.models import RiskRegister
from app.hazard_reporting.schedules import service as schedule_service
from app.hazard_reporting.schedules.models import CheckSchedule
from tests.browser.conftest import SECRET, live_server, needs_chromium, open_for_the_walk
from tests.browser.test_scan_to_check import _phone, _photo, _shot
from tests.fixtures.risks import add_control

CONTROL_TEXT = "出铁前确认炉前地坑干燥无积水，地坑盖板完好"
POST_CONTROL_TEXT = "作业前穿戴好阻燃服、防护面罩和隔热手套"
HAZARD_NOTE = "炉前地坑东侧有积水约2平方米"
POINT = "1号中频感应电炉"
SOURCE = "高温铁水遇水爆炸、喷溅"

pytestmark = [pytest.mark.browser, needs_chromium]


@dataclass(frozen=True)
class Live:
    base_url: str
    site_token: str
    site_name: str
    task_id: int
    control_id: int
    post_control_id: int
    leader: str
    worker: str


def _seed(session) -> Live:
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
    worker = session.scalar(select(User).where(User.openid == virtual_openid(f"{spec['key']}:worker0")))
    team = session.scalar(
        select(Team).join(Membership, Membership.team_id == Team.id).where(Membership.user_id == leader.id)
    )
    post_id = session.scalar(select(Membership.post_id).where(Membership.user_id == worker.id))
    site = session.scalar(
        select(Site)
        .where(Site.enterprise_id == enterprise.id, Site.department_id == team.department_id)
        .order_by(Site.id)
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
    control = add_control(
        session, enterprise, site, now, level=ControlLevel.TEAM, team_id=team.id, text=CONTROL_TEXT,
        point_name=POINT, source_name=SOURCE,
    )
    post_control = add_control(
        session, enterprise, site, now, level=ControlLevel.POST, post_id=post_id, text=POST_CONTROL_TEXT,
        point_name=POINT, source_name="铁水喷溅灼烫", kind=ControlKind.PPE,
    )
    session.commit()
    return Live("", site.token, site.name, task.id, control.id, post_control.id, leader.openid, worker.openid)


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[Live]:
    folder = tmp_path_factory.mktemp("control-items")
    with live_server(folder, "control-items", lambda session, _base_url: _seed(session)) as (base_url, seeded):
        yield Live(**{**seeded.__dict__, "base_url": base_url})


def _db():
    from app.extensions import db

    return db.new_session()


def test_the_team_leader_fails_a_control_item_and_the_hazard_names_the_control(
    browser, live, screenshots: Path, tmp_path
):
    from playwright.sync_api import expect

    code = f"RC-{live.control_id}"
    leader = _phone(browser, live, live.leader)
    try:
        page = leader.new_page()
        page.goto(f"{live.base_url}/h5/scan/{live.site_token}")
        expect(page.locator("h1")).to_have_text(live.site_name)
        card = page.locator(f'.ck-card[data-task="{live.task_id}"]')
        expect(card).to_contain_text("班组日排查")
        card.get_by_text("开始检查").click()

        expect(page.locator("h1")).to_have_text("班组日排查")
        item = page.locator(f"#item-{code}")
        expect(item).to_have_attribute("data-origin", "control")
        expect(item.locator(".ck-item__text")).to_have_text(CONTROL_TEXT)
        expect(item.locator("[data-control-origin]")).to_contain_text(f"来源：{POINT} › {SOURCE}")
        expect(item.locator("[data-control-origin]")).to_contain_text("班组级管控")
        expect(item.locator(".ck-chip--orange")).to_have_text("较大风险")
        # After every checklist item (with the team's other controls at this site, such as
        # the demo register's), numbered on.
        sections = page.locator("section.ck-item")
        origins = [sections.nth(i).get_attribute("data-origin") or "checklist" for i in range(sections.count())]
        assert origins == sorted(origins, key=lambda o: o == "control") and "control" in origins
        ids = [sections.nth(i).get_attribute("id") for i in range(sections.count())]
        expect(item.locator(".ck-item__no")).to_have_text(str(ids.index(f"item-{code}") + 1))

        item.locator('label[data-v="hazard"]').click()
        item.locator("textarea").fill(HAZARD_NOTE)
        item.locator("input[type=file]").set_input_files(_photo(tmp_path / "pit.jpg", (90, 120, 150)))
        expect(item.locator("li.ck-photo[data-token]")).to_have_count(1)
        page.get_by_role("button", name="其余全部符合").click()
        expect(page.locator("[data-done]")).to_have_text(str(len(ids)))
        page.evaluate(f"document.getElementById('item-{code}').scrollIntoView({{block: 'start'}})")
        page.evaluate("window.scrollBy(0, -120)")
        _shot(page, screenshots / "risk-check-form.png")

        page.locator("[data-submit]").click()
        page.wait_for_url(f"**/h5/checks/{live.task_id}/result")
        hazard_link = page.locator("a[data-hazard]")
        expect(hazard_link).to_have_count(1)
        expect(hazard_link).to_contain_text(HAZARD_NOTE)
        page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        _shot(page, screenshots / "risk-check-result.png")
        hazard_id = int(hazard_link.get_attribute("data-hazard"))

        page.goto(f"{live.base_url}/h5/hazards/{hazard_id}")
        origin = page.locator("[data-control-origin]")
        expect(origin).to_contain_text(f"来源：风险管控措施「{CONTROL_TEXT}」· 风险点「{POINT}」")
        _shot(page, screenshots / "risk-check-hazard.png")
    finally:
        leader.close()

    with _db() as session:
        submission = session.scalar(select(CheckSubmission).where(CheckSubmission.task_id == live.task_id))
        register = session.get(RiskRegister, session.get(CheckTask, live.task_id).enterprise_id)
        assert submission.risk_register_version == register.version  # the form's, unchanged since
        assert session.get(CheckTask, live.task_id).status is CheckTaskStatus.DONE
        result = session.scalar(
            select(CheckItemResult).where(
                CheckItemResult.submission_id == submission.id, CheckItemResult.item_code == code
            )
        )
        assert result.risk_control_id == live.control_id and result.item_text == CONTROL_TEXT
        hazard = session.get(Hazard, hazard_id)
        assert hazard.risk_control_id == live.control_id and hazard.source is HazardSource.CHECK
        assert POINT in hazard.description and CONTROL_TEXT in hazard.description
        assert session.scalar(select(HazardPhoto.id).where(HazardPhoto.hazard_id == hazard_id)) is not None


def test_a_worker_confirms_the_controls_of_their_post_on_the_scan_page(browser, live, screenshots: Path):
    from playwright.sync_api import expect

    worker = _phone(browser, live, live.worker)
    try:
        page = worker.new_page()
        page.goto(f"{live.base_url}/h5/scan/{live.site_token}")
        item = page.locator(f'[data-self-check="{live.post_control_id}"]')
        expect(item).to_contain_text(POST_CONTROL_TEXT)
        expect(item).to_contain_text(f"来源：{POINT} › 铁水喷溅灼烫")
        item.scroll_into_view_if_needed()
        page.evaluate("window.scrollBy(0, -80)")
        item.locator("summary").click()
        expect(item.locator("textarea[name=note]")).to_be_visible()
        _shot(page, screenshots / "risk-check-self.png")
        item.locator("summary").click()
        item.get_by_role("button", name="已确认").click()
        done = page.locator(f'[data-self-check="{live.post_control_id}"] [data-self-check-done]')
        expect(done).to_have_text("今日已确认")
        page.locator("#self-check").scroll_into_view_if_needed()
        _shot(page, screenshots / "risk-check-self-done.png")
    finally:
        worker.close()
    with _db() as session:
        rows = session.scalars(
            select(PostSelfCheck).where(PostSelfCheck.risk_control_id == live.post_control_id)
        ).all()
        assert len(rows) == 1 and rows[0].hazard_id is None
