"""The WeChat simulator in headless Chromium against a live server.

A new virtual WeChat user follows the account, scans the invite an enterprise admin made in
the console, is bound, scans a site's QR, opens the check link and then 个人信息 (/h5/me) in
the in-phone webview — signed in through the sandbox's OAuth as that user.

The server is the real app on a werkzeug server thread with its own SQLite file (migrated
by Alembic, seeded with the demo) and its own in-process Redis: the suite's database
fixtures hold one uncommitted connection per test, which a server thread cannot see.

Screenshots of the phone go to a temporary directory, or to $ANCHA_SCREENSHOT_DIR (e.g.
`docs/screenshots`) to refresh the ones in the repository.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from app.accounts.domain import ROLE_LABELS, Role
from app.accounts.models import Membership, User
from app.clock import utcnow
from app.demo import data as demo_data
from app.enterprises.models import Department, Enterprise, Site, Team
from tests.browser.conftest import SECRET, WECHAT_UA, live_server, needs_chromium

MEMBER_NAME = "陈晓明"
MEMBER_ROLE = Role.WORKER

pytestmark = [
    pytest.mark.browser,
    needs_chromium,
]


@dataclass(frozen=True)
class Live:
    base_url: str
    admin_username: str
    enterprise_id: int
    enterprise_name: str
    site_name: str


def _seed(session, base_url: str) -> Live:
    """The demo district plus one member the admin has not invited yet (no WeChat)."""
    from app.demo.seed import seed_demo

    seed_demo(session, utcnow(), SECRET)
    spec = demo_data.ENTERPRISES[0]
    enterprise = session.scalar(select(Enterprise).where(Enterprise.uscc.startswith(spec["uscc17"])))
    team = session.scalar(
        select(Team).join(Team.department).where(Department.enterprise_id == enterprise.id).order_by(Team.id)
    )
    member = User(display_name=MEMBER_NAME, phone="13800000000")
    session.add(member)
    session.flush()
    session.add(
        Membership(
            user_id=member.id,
            enterprise_id=enterprise.id,
            role=MEMBER_ROLE,
            department_id=team.department_id,
            team_id=team.id,
        )
    )
    site = session.scalar(select(Site).where(Site.enterprise_id == enterprise.id).order_by(Site.id))
    session.commit()
    return Live(base_url, f"{spec['key']}_admin", enterprise.id, enterprise.name, site.name)


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[Live]:
    with live_server(tmp_path_factory.mktemp("simulator"), "simulator", _seed) as (_base_url, seeded):
        yield seeded


def _invite_from_console(browser, live: Live) -> None:
    """The enterprise admin logs in and invites the unbound member (desktop browser)."""
    from playwright.sync_api import expect

    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(f"{live.base_url}/console/login")
        page.fill("input[name=username]", live.admin_username)
        page.fill("input[name=password]", demo_data.DEMO_PASSWORD)
        page.get_by_role("button", name="登录").click()
        page.goto(f"{live.base_url}/console/enterprises/{live.enterprise_id}")
        page.locator("tr", has_text=MEMBER_NAME).get_by_role("button", name="邀请绑定").click()
        expect(page.locator("img.qr")).to_be_visible()
    finally:
        context.close()


def _send_template(page, live: Live, openid: str) -> None:
    """A 隐患待您整改 template message to `openid`, through the sandbox's WeChat API."""
    from config.settings import SANDBOX_APP_ID, SANDBOX_APP_SECRET

    templates = page.evaluate("JSON.parse(document.getElementById('sim-config').textContent).templates")
    template_id = next(tid for tid, t in templates.items() if t["title"] == "隐患待您整改")
    token = page.request.post(
        f"{live.base_url}/sandbox/wx/cgi-bin/stable_token",
        data={"grant_type": "client_credential", "appid": SANDBOX_APP_ID, "secret": SANDBOX_APP_SECRET},
    ).json()["access_token"]
    values = {
        "thing1": "隐患待您整改",
        "thing2": live.enterprise_name,
        "thing3": "炉体冷却水管渗漏",
        "thing4": live.site_name,
        "time5": "2026年12月01日 18:00",
    }
    answer = page.request.post(
        f"{live.base_url}/sandbox/wx/cgi-bin/message/template/send?access_token={token}",
        data={
            "touser": openid,
            "template_id": template_id,
            "url": f"{live.base_url}/h5/me",
            "data": {key: {"value": value} for key, value in values.items()},
        },
    ).json()
    assert answer["errcode"] == 0, answer


def _site_codes(live: Live) -> tuple[str, str]:
    """(token, WeChat QR URL) of the site scanned earlier (its code was obtained then)."""
    from app.extensions import db

    with db.new_session() as session:
        site = session.scalars(
            select(Site).where(Site.enterprise_id == live.enterprise_id, Site.name == live.site_name)
        ).one()
        assert site.wx_qr_url, "scanning the site from the list gives it its WeChat QR"
        return site.token, site.wx_qr_url


def _qr_photo(path: Path, payload: str) -> Path:
    """A 'photo' of a printed code: the QR on a larger grey page, slightly off-centre."""
    from PIL import Image

    from app.wechat.qrcodes import render_qr

    page = Image.new("RGB", (900, 1200), (236, 236, 230))
    page.paste(render_qr(payload, 420).convert("RGB"), (260, 300))
    page.save(path)
    return path


def _photo(path: Path) -> Path:
    """A stand-in for a photo from the shop floor: a wall, the floor, a warning sign."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (480, 360))
    draw = ImageDraw.Draw(image)
    for y in range(360):
        shade = (118 - y // 6, 132 - y // 6, 140 - y // 7) if y < 250 else (88, 84, 78)
        draw.line((0, y, 480, y), fill=shade)
    draw.polygon([(240, 60), (340, 230), (140, 230)], fill=(245, 196, 40), outline=(30, 30, 30), width=8)
    draw.rectangle((232, 110, 248, 180), fill=(30, 30, 30))
    draw.ellipse((230, 192, 250, 212), fill=(30, 30, 30))
    image.save(path, "JPEG", quality=85)
    return path


def test_a_new_user_is_bound_by_an_invite_scans_a_site_and_opens_h5_as_themselves(browser, live, screenshots, tmp_path):
    from playwright.sync_api import expect

    _invite_from_console(browser, live)

    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=1,
        is_mobile=True,
        has_touch=True,
        user_agent=WECHAT_UA,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
    )
    try:
        page = context.new_page()
        page.goto(f"{live.base_url}/sandbox/")
        replies = page.locator("#messages .msg--in")

        # A new WeChat user: not following yet, so the account's profile and 关注 button.
        page.get_by_role("button", name="新建微信用户").click()
        page.locator(".weui-dialog input").fill("小陈")
        page.get_by_role("button", name="创建").click()
        expect(page.locator("#profile")).to_be_visible()
        expect(page.locator("#identity")).to_contain_text("未关注")

        page.locator("#follow-button").click()
        expect(replies.last).to_contain_text("欢迎关注安查")
        expect(replies.last).to_contain_text("您还没有绑定企业身份")
        expect(page.locator("#menu-buttons .menu-top")).to_have_count(3)

        # The invite the admin just made is in the scanner's list; scanning it binds.
        page.locator("#chat-scan").click()
        page.locator("#tab-invites").click()
        page.locator(".code--invite", has_text=MEMBER_NAME).click()
        expect(replies.last).to_contain_text(f"绑定成功！您已作为「{live.enterprise_name}」的{ROLE_LABELS[MEMBER_ROLE]}")
        expect(page.locator("#identity")).to_contain_text(MEMBER_NAME)

        # A site's QR: the reply links to the check.
        page.locator("#chat-scan").click()
        page.locator("#tab-sites").click()
        site_code = page.locator(".code--site", has_text=live.site_name).first
        expect(site_code).to_be_visible()
        page.locator("#phone").screenshot(path=str(screenshots / "simulator-scan.png"))
        site_code.click()
        expect(replies.last).to_contain_text(f"点位「{live.site_name}」")
        check_link = replies.last.get_by_role("link", name="点此开始排查")
        expect(check_link).to_be_visible()

        check_link.click()
        webview = page.frame_locator("#webview-frame")
        expect(webview.locator("h1")).to_have_text(live.site_name)
        expect(page.locator("#webview-title")).to_contain_text(live.site_name)
        page.locator("#webview-close").click()

        # 我的 › 个人信息 opens /h5/me: OAuth in the webview signs in as the bound member.
        page.locator(".menu-top", has_text="我的").click()
        page.get_by_role("menuitem", name="个人信息").click()
        expect(webview.locator(".h5-head h1")).to_have_text(MEMBER_NAME)
        expect(webview.locator(".h5-cells").first).to_contain_text(live.enterprise_name)
        expect(webview.locator(".h5-tag").first).to_have_text(ROLE_LABELS[MEMBER_ROLE])
        expect(page.locator("#webview-title")).to_contain_text("我的")
        # Fast-forward the loading bar's fade-out so the shot shows the finished page.
        page.locator("#phone").screenshot(path=str(screenshots / "simulator-webview.png"), animations="disabled")

        page.locator("#webview-close").click()

        # 隐患 › 随手拍: choose a photo; WeChat sends the menu event, then the photo.
        page.locator(".menu-top", has_text="隐患").click()
        with page.expect_file_chooser() as chooser:
            page.get_by_role("menuitem", name="随手拍").click()
        chooser.value.set_files(_photo(tmp_path / "photo.jpg"))
        expect(page.locator("#messages .msg--out .bubble--image img")).to_be_visible()
        expect(replies.last).to_contain_text("已收到照片，随手拍隐患上报已开始")

        # A template message, sent through the fake API as the dispatcher does, is a card
        # with the template's title and keyword labels.
        openid = page.evaluate("localStorage.getItem('ancha-sim:v1:current')")
        _send_template(page, live, openid)
        card = page.locator("#messages .card--template").last
        expect(card.locator(".card__hd")).to_have_text("隐患待您整改")
        expect(card.locator(".card__rows")).to_contain_text("隐患内容炉体冷却水管渗漏")
        expect(card.get_by_role("button", name="详情")).to_be_visible()
        page.locator("#phone").screenshot(path=str(screenshots / "simulator-chat.png"))

        # A photo of the site's poster QR, decoded in the browser by jsQR: a SCAN again.
        site_token, wechat_url = _site_codes(live)
        page.locator("#chat-scan").click()
        with page.expect_file_chooser() as chooser:
            page.locator("#scanner-album").click()
        chooser.value.set_files(_qr_photo(tmp_path / "poster.png", wechat_url))
        expect(replies).to_have_count(5)
        expect(replies.last).to_contain_text(f"点位「{live.site_name}」")

        # A plain-URL site code is a web page: the scanner opens it in the webview.
        page.locator("#chat-scan").click()
        with page.expect_file_chooser() as chooser:
            page.locator("#scanner-album").click()
        chooser.value.set_files(_qr_photo(tmp_path / "plain.png", f"{live.base_url}/h5/scan/{site_token}"))
        expect(webview.locator("h1")).to_have_text(live.site_name)

        log = page.request.get(f"{live.base_url}/sandbox/api/messages", params={"openid": openid}).json()
    finally:
        context.close()

    kinds = [entry["kind"] for entry in log["messages"]]
    contents = [entry["body"].get("Content", "") for entry in log["messages"]]
    assert kinds == ["passive_reply"] * 4 + ["template", "passive_reply"]
    assert contents[1].startswith("绑定成功") and contents[3].startswith("已收到照片")

    from app.extensions import db

    with db.new_session() as session:
        assert session.scalar(select(User.display_name).where(User.openid == openid)) == MEMBER_NAME
    for name in ("simulator-scan.png", "simulator-chat.png", "simulator-webview.png"):
        assert (screenshots / name).stat().st_size > 10_000
