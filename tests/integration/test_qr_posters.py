"""Site QR codes on a real database: a permanent WeChat code is obtained once, stored and
reused; 40053 / 48001 fall back to the plain-URL QR; and the `qr posters` and
`wechat push-menu` commands write / push what they say."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image, PdfParser
from sqlalchemy import select
from wechatpy.exceptions import WeChatClientException

from app.enterprises import cli as enterprise_cli
from app.enterprises import posters
from app.enterprises.domain import site_entry_url, site_scene
from app.enterprises.models import Site
from app.enterprises.site_codes import plan_site_codes
from app.wechat import cli as wechat_cli
from app.wechat.menu import default_menu
from tests.fixtures.builders import NOW
from tests.fixtures.fake_wechat_api import FakeWeChatClient

BASE = "http://ancha.test"  # PUBLIC_BASE_URL of the test settings


@pytest.fixture
def fake(monkeypatch) -> FakeWeChatClient:
    client = FakeWeChatClient()
    monkeypatch.setattr(enterprise_cli, "wechat_client", lambda: client)
    monkeypatch.setattr(wechat_cli, "wechat_client", lambda: client)
    return client


def _plan(db_session, sites, client, **kw):
    return plan_site_codes(db_session, sites, base_url=BASE, now=NOW, client=client, **kw)


def _decoded(path: Path) -> set[str]:
    with Image.open(path) as image:
        return {r.text for r in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)}


def test_permanent_code_is_requested_once_stored_and_reused(db_session, build):
    enterprise = build.enterprise()
    sites = [build.site(enterprise), build.site(enterprise)]
    client = FakeWeChatClient()
    created = []

    first = _plan(db_session, sites, client, on_created=created.append)

    assert [call["action_name"] for call in client.qrcode.calls] == ["QR_LIMIT_STR_SCENE"] * 2
    assert [call["action_info"]["scene"]["scene_str"] for call in client.qrcode.calls] == [
        site_scene(s.token) for s in sites
    ]
    assert (first.created, first.reused, first.notice) == (2, 0, None)
    assert created == sites
    db_session.expire_all()
    stored = db_session.scalars(select(Site).where(Site.id.in_([s.id for s in sites])).order_by(Site.id)).all()
    assert all(s.wx_qr_ticket and s.wx_qr_url.startswith("http://weixin.qq.com/q/") for s in stored)
    assert all(s.wx_qr_created_at == NOW for s in stored)
    assert [c.wechat_url for c in first.codes] == [s.wx_qr_url for s in stored]
    assert [c.entry_url for c in first.codes] == [site_entry_url(BASE, s.token) for s in stored]

    second = _plan(db_session, stored, client)

    assert len(client.qrcode.calls) == 2  # no new request: permanent codes are never re-created
    assert (second.created, second.reused) == (0, 2)
    assert [c.wechat_url for c in second.codes] == [s.wx_qr_url for s in stored]


def test_40053_exhausted_falls_back_to_url_codes_for_sites_without_one(db_session, build):
    enterprise = build.enterprise()
    stored = build.site(enterprise, wx_qr_ticket="T1", wx_qr_url="http://weixin.qq.com/q/kept", wx_qr_created_at=NOW)
    fresh = [build.site(enterprise), build.site(enterprise)]
    client = FakeWeChatClient()
    client.qrcode.errcodes = [40053]

    plan = _plan(db_session, [stored, *fresh], client)

    assert len(client.qrcode.calls) == 1  # WeChat is not asked again once the cap is known
    assert [c.wechat_url for c in plan.codes] == ["http://weixin.qq.com/q/kept", None, None]
    assert "40053" in plan.notice and "2 个点位" in plan.notice and "网址二维码" in plan.notice
    assert all(s.wx_qr_url is None for s in fresh)


def test_48001_unauthorized_prints_only_url_codes_even_for_stored_ones(db_session, build):
    enterprise = build.enterprise()
    stored = build.site(enterprise, wx_qr_ticket="T1", wx_qr_url="http://weixin.qq.com/q/kept", wx_qr_created_at=NOW)
    fresh = build.site(enterprise)
    client = FakeWeChatClient()
    client.qrcode.errcodes = [48001]

    plan = _plan(db_session, [stored, fresh], client)

    assert len(client.qrcode.calls) == 1
    assert [c.wechat_url for c in plan.codes] == [None, None]
    assert (plan.created, plan.reused) == (0, 0)
    assert "48001" in plan.notice and "2 个点位" in plan.notice
    db_session.expire_all()
    assert db_session.get(Site, stored.id).wx_qr_url == "http://weixin.qq.com/q/kept"  # kept for later


def test_switched_off_means_no_wechat_call_and_url_codes_only(db_session, build):
    enterprise = build.enterprise()
    stored = build.site(enterprise, wx_qr_ticket="T1", wx_qr_url="http://weixin.qq.com/q/kept", wx_qr_created_at=NOW)
    plan = _plan(db_session, [stored, build.site(enterprise)], None)
    assert [c.wechat_url for c in plan.codes] == [None, None]
    assert (plan.created, plan.reused, plan.notice) == (0, 0, None)


def test_other_wechat_errors_propagate_and_store_nothing(db_session, build):
    enterprise = build.enterprise()
    site = build.site(enterprise)
    client = FakeWeChatClient()
    client.qrcode.errcodes = [45009]
    with pytest.raises(WeChatClientException) as raised:
        _plan(db_session, [site], client)
    assert raised.value.errcode == 45009
    assert site.wx_qr_url is None and site.wx_qr_ticket is None


# --- flask qr posters ------------------------------------------------------------------------


def _run(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def test_qr_posters_writes_pngs_and_pdf_with_stored_wechat_codes(app, db_session, build, fake):
    enterprise = build.enterprise(name="郑州安泰机械制造有限公司")
    active = [build.site(enterprise, name="一号车间", area="东区"), build.site(enterprise, name="锅炉房")]
    build.site(enterprise, name="旧仓库", active=False)

    result = _run(app, "qr", "posters", enterprise.uscc)

    assert result.exit_code == 0, result.output
    out = Path(app.config["SETTINGS"].MEDIA_ROOT) / "posters" / str(enterprise.id)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["posters-A4.pdf", *(f"site-{s.id}.png" for s in active)]
    )
    db_session.expire_all()
    for site in active:
        stored = db_session.get(Site, site.id)
        assert stored.wx_qr_url is not None
        assert _decoded(out / f"site-{site.id}.png") == {stored.wx_qr_url, site_entry_url(BASE, site.token)}
        assert str(out / f"site-{site.id}.png") in result.output
    assert "新申请 2 个" in result.output and str(out / "posters-A4.pdf") in result.output
    pdf = PdfParser.PdfParser(str(out / "posters-A4.pdf"))
    try:
        assert len(pdf.pages) == len(active)
    finally:
        pdf.close()

    again = _run(app, "qr", "posters", str(enterprise.id))
    assert again.exit_code == 0, again.output
    assert len(fake.qrcode.calls) == 2 and "沿用已保存的 2 个" in again.output


def test_qr_posters_url_only_makes_no_wechat_call(app, db_session, build, fake):
    enterprise = build.enterprise()
    site = build.site(enterprise)
    result = _run(app, "qr", "posters", enterprise.name, "--url-only")
    assert result.exit_code == 0, result.output
    assert fake.qrcode.calls == []
    out = Path(app.config["SETTINGS"].MEDIA_ROOT) / "posters" / str(enterprise.id)
    assert _decoded(out / f"site-{site.id}.png") == {site_entry_url(BASE, site.token)}
    assert "--url-only" in result.output


def test_qr_posters_reports_the_40053_fallback(app, db_session, build, fake):
    enterprise = build.enterprise()
    site = build.site(enterprise)
    fake.qrcode.errcodes = [40053]
    result = _run(app, "qr", "posters", str(enterprise.id))
    assert result.exit_code == 0, result.output
    assert "注意：" in result.output and "40053" in result.output
    out = Path(app.config["SETTINGS"].MEDIA_ROOT) / "posters" / str(enterprise.id)
    assert _decoded(out / f"site-{site.id}.png") == {site_entry_url(BASE, site.token)}


def test_qr_posters_keeps_codes_obtained_before_a_failure(app, db_session, build, fake):
    enterprise = build.enterprise()
    first, second = build.site(enterprise), build.site(enterprise)
    fake.qrcode.errcodes = [None, -1]
    result = _run(app, "qr", "posters", str(enterprise.id))
    assert result.exit_code == 1
    assert "错误码 -1" in result.output and "--url-only" in result.output
    db_session.expire_all()
    assert db_session.get(Site, first.id).wx_qr_url is not None  # committed: it cost quota
    assert db_session.get(Site, second.id).wx_qr_url is None


def test_qr_posters_reports_an_unreachable_api_without_an_errcode(app, db_session, build, fake, monkeypatch):
    def unreachable(_data):
        # What the project's client raises for connection failures and timeouts.
        raise WeChatClientException(None, "ConnectionError: connection refused")

    monkeypatch.setattr(fake.qrcode, "create", unreachable)
    enterprise = build.enterprise()
    build.site(enterprise)
    result = _run(app, "qr", "posters", str(enterprise.id))
    assert result.exit_code == 1
    assert "无法连接微信接口（ConnectionError: connection refused）" in result.output
    assert "错误码" not in result.output


def test_qr_posters_without_a_font_stops_before_calling_wechat(app, db_session, build, fake, monkeypatch):
    monkeypatch.setattr(posters, "font_candidates", lambda: [])
    enterprise = build.enterprise()
    build.site(enterprise)
    result = _run(app, "qr", "posters", str(enterprise.id))
    assert result.exit_code == 1 and "未找到可显示中文的字体" in result.output
    assert fake.qrcode.calls == []


@pytest.mark.parametrize("ref", ["999999", "不存在的企业"])
def test_qr_posters_unknown_enterprise(app, db_session, build, fake, ref):
    result = _run(app, "qr", "posters", ref)
    assert result.exit_code == 1 and f"找不到企业“{ref}”" in result.output


def test_qr_posters_ambiguous_name_asks_for_id_or_uscc(app, db_session, build, fake):
    a = build.enterprise(name="同名机械厂")
    b = build.enterprise(name="同名机械厂")
    result = _run(app, "qr", "posters", "同名机械厂")
    assert result.exit_code == 1
    assert f"ID {a.id}" in result.output and f"ID {b.id}" in result.output


def test_qr_posters_enterprise_without_active_sites(app, db_session, build, fake):
    enterprise = build.enterprise()
    build.site(enterprise, active=False)
    result = _run(app, "qr", "posters", str(enterprise.id))
    assert result.exit_code == 1 and "还没有启用的排查点位" in result.output


def test_qr_posters_with_the_project_client_against_the_sandbox(app, db_session, build, redis):
    """No fake: the configured client and the sandbox's fake WeChat API, in-process."""
    enterprise = build.enterprise()
    site = build.site(enterprise)
    first = _run(app, "qr", "posters", str(enterprise.id))
    assert first.exit_code == 0, first.output
    db_session.expire_all()
    stored = db_session.get(Site, site.id)
    assert stored.wx_qr_ticket and stored.wx_qr_url.startswith("http://weixin.qq.com/q/")
    out = Path(app.config["SETTINGS"].MEDIA_ROOT) / "posters" / str(enterprise.id)
    assert _decoded(out / f"site-{site.id}.png") == {stored.wx_qr_url, site_entry_url(BASE, site.token)}
    again = _run(app, "qr", "posters", str(enterprise.id))
    assert "新申请 0 个，沿用已保存的 1 个" in again.output


# --- flask wechat push-menu ------------------------------------------------------------------


def test_push_menu_pushes_the_default_menu(app, fake):
    result = _run(app, "wechat", "push-menu")
    assert result.exit_code == 0, result.output
    assert fake.menu.calls == [default_menu(BASE)]
    assert "菜单已推送" in result.output


def test_push_menu_dry_run_prints_and_does_not_push(app, fake):
    result = _run(app, "wechat", "push-menu", "--dry-run")
    assert result.exit_code == 0
    assert json.loads(result.output) == default_menu(BASE)
    assert fake.menu.calls == []


def test_push_menu_reports_wechat_errors(app, fake):
    fake.menu.errcode = 48001
    result = _run(app, "wechat", "push-menu")
    assert result.exit_code == 1 and "推送菜单失败" in result.output and "48001" in result.output
