"""Scan-to-check in headless Chromium on a phone-sized WeChat webview, against a live server.

A team leader scans a point's QR (/h5/scan/<token>), is signed in through the sandbox's
WeChat OAuth, opens the daily check they owe there, marks one item 隐患 with a description
and a photo, reloads (the draft survives), marks the rest 符合 and submits: the check is
recorded once and the hazard exists with its photo. Then the hazard goes its way on the
hazard pages: the department head assigns it to the leader, the leader fixes it with an
after-photo, the safety officer verifies it and it is closed (销号).

The server is the real app on a werkzeug thread with its own SQLite file (migrated by
Alembic, seeded with the demo) and its own in-process Redis — the suite's database fixtures
hold one uncommitted connection per test, which a server thread cannot see. The clock is
real, so the set-up moves the leader's task of today into a window open now.

Screenshots go to a temporary directory, or to $ANCHA_SCREENSHOT_DIR (e.g.
`docs/screenshots`) to refresh the ones in the repository.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.accounts.domain import Role
from app.accounts.models import Membership, User
from app.clock import local_today, utcnow
from app.demo import data as demo_data
from app.demo.seed import virtual_openid
from app.enterprises.models import Enterprise, Site, Team
from app.hazard_reporting.checklists import service as checklist_service
from app.hazard_reporting.checks.domain import CheckLevel, CheckTaskStatus, SubmissionStatus
from app.hazard_reporting.checks.models import CheckSubmission, CheckTask
from app.hazard_reporting.hazards.domain import HazardSource, HazardStatus, PhotoKind
from app.hazard_reporting.hazards.models import Hazard, HazardPhoto
from app.hazard_reporting.schedules import service as schedule_service
from app.hazard_reporting.schedules.models import CheckSchedule
from app.sandbox.authorize import SIMULATOR_OPENID_COOKIE
from tests.browser.conftest import SECRET, WECHAT_UA, live_server, needs_chromium, open_for_the_walk

HAZARD_ITEM = "GEN-04"
HAZARD_NOTE = "1号中频炉冷却水泵联轴器防护罩缺失"
MAX_SCREENSHOT_BYTES = 300 * 1024
PLANT = (34.86412, 113.62535)  # where the phone says it is

pytestmark = [
    pytest.mark.browser,
    needs_chromium,
]


@dataclass(frozen=True)
class Live:
    base_url: str
    site_token: str
    site_name: str
    task_id: int
    leader: str  # openids
    head: str
    officer: str
    leader_name: str


def _seed(session) -> Live:
    """The demo district, its first enterprise's standard checklists and schedules, and the
    first team leader's daily check of today open for the next hours."""
    from app.demo.seed import seed_demo

    now = utcnow()
    seed_demo(session, now, SECRET)
    spec = demo_data.ENTERPRISES[0]
    enterprise = session.scalar(select(Enterprise).where(Enterprise.uscc.startswith(spec["uscc17"])))
    checklist_service.load_standard_checklists(session, now)
    schedules = schedule_service.ensure_default_schedules(session, now, enterprise.id)
    for schedule in schedules:
        # A weekend or holiday must not leave the test without a daily check today.
        schedule.workdays_only = False
    session.flush()
    schedule_service.generate_tasks(session, now)

    leader = session.scalar(select(User).where(User.openid == virtual_openid(f"{spec['key']}:leader0")))
    team = session.scalar(
        select(Team).join(Membership, Membership.team_id == Team.id).where(Membership.user_id == leader.id)
    )
    head = session.scalar(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.role == Role.DEPARTMENT_HEAD, Membership.department_id == team.department_id)
    )
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
    session.commit()
    return Live(
        base_url="",
        site_token=site.token,
        site_name=site.name,
        task_id=task.id,
        leader=leader.openid,
        head=head.openid,
        officer=virtual_openid(f"{spec['key']}:safety"),
        leader_name=leader.display_name,
    )


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[Live]:
    folder = tmp_path_factory.mktemp("scan-to-check")
    with live_server(folder, "scan-to-check", lambda session, _base_url: _seed(session)) as (base_url, seeded):
        yield Live(**{**seeded.__dict__, "base_url": base_url})


def _phone(browser, live: Live, openid: str):
    """A phone in WeChat whose web authorisation answers as `openid` (the sandbox's cookie),
    standing at the plant. The JS-SDK script cannot load here (no Internet): the pages use
    their browser fallbacks (file inputs, navigator.geolocation)."""
    context = browser.new_context(
        geolocation={"latitude": PLANT[0], "longitude": PLANT[1], "accuracy": 15},
        permissions=["geolocation"],
        viewport={"width": 390, "height": 844},
        device_scale_factor=1,
        is_mobile=True,
        has_touch=True,
        user_agent=WECHAT_UA,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
    )
    context.route("https://res.wx.qq.com/**", lambda route: route.abort())
    context.add_cookies([{"name": SIMULATOR_OPENID_COOKIE, "value": openid, "url": live.base_url}])
    return context


def _photo(path: Path, colour: tuple[int, int, int]) -> Path:
    """A stand-in for a phone photo: a machine housing with an opening where a guard belongs."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (640, 480), (96, 104, 112))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 360, 640, 480), fill=(70, 66, 60))
    draw.rectangle((120, 120, 520, 380), fill=colour, outline=(30, 30, 30), width=6)
    draw.ellipse((250, 190, 390, 330), fill=(40, 40, 40))
    draw.line((320, 260, 560, 200), fill=(20, 20, 20), width=14)
    image.save(path, "JPEG", quality=85)
    return path


def _shot(page, path: Path) -> None:
    page.screenshot(path=str(path), animations="disabled")
    assert 10_000 < path.stat().st_size < MAX_SCREENSHOT_BYTES, path


def _db():
    from app.extensions import db

    return db.new_session()


def test_a_team_leader_scans_checks_and_the_hazard_is_fixed_and_closed(browser, live, screenshots, tmp_path):
    from playwright.sync_api import expect

    leader = _phone(browser, live, live.leader)
    try:
        page = leader.new_page()
        # The point's code: WeChat's authorisation (sandbox) and back to the point.
        page.goto(f"{live.base_url}/h5/scan/{live.site_token}")
        expect(page.locator("h1")).to_have_text(live.site_name)
        card = page.locator(f'.ck-card[data-task="{live.task_id}"]')
        expect(card).to_contain_text("班组日排查")
        _shot(page, screenshots / "check-scan.png")
        card.get_by_text("开始检查").click()

        expect(page.locator("h1")).to_have_text("班组日排查")
        items = page.locator("section.ck-item")
        total = items.count()
        assert total > 10
        expect(page.locator("[data-done]")).to_have_text("0")

        # One item is a hazard: a short description and a photo (staged at once).
        item = page.locator(f"#item-{HAZARD_ITEM}")
        item.locator('label[data-v="hazard"]').click()
        expect(item.locator("textarea")).to_be_visible()
        item.locator("textarea").fill(HAZARD_NOTE)
        item.locator("input[type=file]").set_input_files(_photo(tmp_path / "before.jpg", (214, 160, 52)))
        expect(item.locator("li.ck-photo[data-token]")).to_have_count(1)
        page.locator("#item-GEN-01 label[data-v='ok']").click()
        expect(page.locator("[data-done]")).to_have_text("2")

        # A reload keeps the draft: the answer, the words and the photo.
        page.reload()
        expect(item.locator(".ck-radio[value=hazard]")).to_be_checked()
        expect(item.locator("textarea")).to_have_value(HAZARD_NOTE)
        expect(item.locator("li.ck-photo[data-token]")).to_have_count(1)
        expect(page.locator("[data-done]")).to_have_text("2")

        # Submitting with items left open marks them instead of sending.
        page.locator("[data-submit]").click()
        expect(page.locator("[data-error]")).to_contain_text(f"还有 {total - 2} 项需要处理")
        expect(page.locator("section.ck-item--problem")).to_have_count(total - 2)

        # The location is optional; asked for, it goes with the check.
        page.get_by_role("button", name="获取位置").click()
        expect(page.locator("[data-location-text]")).to_contain_text("已记录当前位置（误差约 15 米）")

        page.get_by_role("button", name="其余全部符合").click()
        expect(page.locator("[data-done]")).to_have_text(str(total))
        expect(page.locator("section.ck-item--problem")).to_have_count(0)
        # The shot: the hazard item open with its description and photo, answers around it.
        page.evaluate(f"document.getElementById('item-{HAZARD_ITEM}').scrollIntoView({{block: 'start'}})")
        page.evaluate("window.scrollBy(0, -190)")
        _shot(page, screenshots / "check-form.png")

        # A double tap sends once.
        page.locator("[data-submit]").dblclick()
        page.wait_for_url(f"**/h5/checks/{live.task_id}/result")
        expect(page.locator(".h5-msg h2")).to_have_text("班组日排查已提交")
        expect(page.locator(".h5-msg")).to_contain_text("按时完成")
        hazard_link = page.locator("a[data-hazard]")
        expect(hazard_link).to_have_count(1)
        expect(hazard_link).to_contain_text(HAZARD_NOTE)
        page.evaluate("window.scrollTo(0, 0)")
        _shot(page, screenshots / "check-result.png")
        hazard_id = int(hazard_link.get_attribute("data-hazard"))
        assert hazard_link.get_attribute("href") == f"/h5/hazards/{hazard_id}"
        # The draft is gone with the submission.
        assert page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('ancha.check.draft'))") == []

        with _db() as session:
            submissions = session.scalars(
                select(CheckSubmission).where(CheckSubmission.task_id == live.task_id)
            ).all()
            assert len(submissions) == 1 and submissions[0].status is SubmissionStatus.ON_TIME
            assert submissions[0].site_token == live.site_token
            located = (float(submissions[0].latitude), float(submissions[0].longitude))
            assert located == PLANT and submissions[0].location_accuracy == 15
            assert session.get(CheckTask, live.task_id).status is CheckTaskStatus.DONE
            hazard = session.get(Hazard, hazard_id)
            assert hazard.source is HazardSource.CHECK and hazard.item_code == HAZARD_ITEM
            assert hazard.status is HazardStatus.REPORTED
            assert (
                session.scalar(
                    select(func.count())
                    .select_from(HazardPhoto)
                    .where(HazardPhoto.hazard_id == hazard_id, HazardPhoto.kind == PhotoKind.BEFORE)
                )
                == 1
            )

        # The department head assigns the fix to the leader.
        head = _phone(browser, live, live.head)
        try:
            head_page = head.new_page()
            head_page.goto(f"{live.base_url}/h5/hazards/{hazard_id}")
            expect(head_page.locator(".h5-hero__title")).to_contain_text(HAZARD_NOTE)
            assign = head_page.locator("#action-assign")
            if not assign.evaluate("el => el.open"):
                assign.locator("summary").click()
            assign.locator("select[name=assignee_id]").select_option(
                label=assign.locator("option", has_text=live.leader_name).first.inner_text()
            )
            assign.get_by_role("button", name="指派").click()
            expect(head_page.locator(".h5-kv")).to_contain_text(live.leader_name)
        finally:
            head.close()

        # The leader starts, fixes it and sends the after-photo.
        page.goto(f"{live.base_url}/h5/hazards/{hazard_id}")
        start = page.locator("#action-start_rectification")
        if not start.evaluate("el => el.open"):
            start.locator("summary").click()
        start.get_by_role("button", name="开始整改").click()
        expect(page.locator(".h5-hero")).to_contain_text("整改中")
        fix = page.locator("#action-submit_rectification")
        if not fix.evaluate("el => el.open"):
            fix.locator("summary").click()
        fix.locator("input[type=file]").first.set_input_files(_photo(tmp_path / "after.jpg", (60, 150, 90)))
        expect(fix.locator("li[data-token]")).to_have_count(1)
        fix.locator("textarea[name=note]").fill("已加装联轴器防护罩并紧固")
        fix.get_by_role("button", name="提交整改结果").click()
        expect(page.locator(".h5-hero")).to_contain_text("待复查验收")
    finally:
        leader.close()

    # The safety officer verifies: closed.
    officer = _phone(browser, live, live.officer)
    try:
        officer_page = officer.new_page()
        officer_page.goto(f"{live.base_url}/h5/hazards/{hazard_id}")
        verify = officer_page.locator("#action-verify")
        if not verify.evaluate("el => el.open"):
            verify.locator("summary").click()
        verify.get_by_role("button", name="复查通过，销号").click()
        expect(officer_page.locator(".h5-hero")).to_contain_text("已销号")
    finally:
        officer.close()

    with _db() as session:
        hazard = session.get(Hazard, hazard_id)
        assert hazard.status is HazardStatus.CLOSED and hazard.closed_at is not None
        kinds = sorted(
            p.kind.value
            for p in session.scalars(select(HazardPhoto).where(HazardPhoto.hazard_id == hazard_id))
        )
        assert kinds == ["after", "before"]
        # One check recorded for this enterprise (the district's summarised history has its own).
        enterprise_id = session.get(CheckTask, live.task_id).schedule.enterprise_id
        assert (
            session.scalar(
                select(func.count()).select_from(CheckSubmission).where(CheckSubmission.enterprise_id == enterprise_id)
            )
            == 1
        )
