"""Posters: the printed QR codes decode to exactly the intended URLs, the PDF is A4 with one
page per site, Chinese text is drawn with a real CJK font, and a missing font stops
rendering with a clear error instead of printing tofu boxes."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import qrcode
import zxingcpp
from PIL import Image, ImageFont, PdfParser
from qrcode.constants import ERROR_CORRECT_Q

from app.enterprises import posters
from app.enterprises.models import Enterprise, Site
from app.enterprises.posters import (
    A4_SIZE,
    DEFAULT_CHECKS,
    FontCandidate,
    FontNotFound,
    PosterContent,
    find_cjk_font,
    render_poster,
    write_enterprise_posters,
)
from app.enterprises.site_codes import SiteCodes
from app.wechat.qrcodes import render_qr

ENTRY = "https://ancha.example.cn/h5/scan/Zq3xY8vWc1LmN0pR4tU6sA"
WECHAT = "http://weixin.qq.com/q/02kZgfwMTm72WWPkovabbI1c"


def decoded(image: Image.Image) -> set[str]:
    return {result.text for result in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)}


@pytest.fixture(scope="module")
def font():
    return find_cjk_font()


def _content(**overrides) -> PosterContent:
    fields = {
        "enterprise_name": "郑州安泰机械制造有限公司",
        "site_name": "一号车间冲压线",
        "site_area": "一号厂房东侧",
        "checks": DEFAULT_CHECKS,
        "site_number": 7,
        "qr_url": WECHAT,
        "wechat": True,
        "backup_url": ENTRY,
    }
    return PosterContent(**{**fields, **overrides})


def test_render_qr_decodes_to_the_payload_with_whole_pixel_modules():
    image = render_qr(ENTRY, 1000)
    assert image.width == image.height <= 1000
    assert decoded(image) == {ENTRY}
    # Every module is the same whole number of pixels: the size is a multiple of the module
    # count (symbol at error-correction level Q plus the 4-module quiet zone on each side).
    reference = qrcode.QRCode(error_correction=ERROR_CORRECT_Q, border=4)
    reference.add_data(ENTRY)
    reference.make(fit=True)
    modules = len(reference.get_matrix())
    assert image.width % modules == 0 and image.width // modules >= 20


def test_render_qr_refuses_a_size_too_small_for_the_symbol():
    with pytest.raises(ValueError, match="too small"):
        render_qr(ENTRY, 20)


def test_poster_with_a_wechat_code_carries_it_and_the_backup_url_code(font):
    image = render_poster(_content(), font)
    assert image.size == A4_SIZE and image.mode == "RGB"
    assert decoded(image) == {WECHAT, ENTRY}


def test_url_only_poster_carries_just_the_entry_url(font):
    image = render_poster(_content(qr_url=ENTRY, wechat=False, backup_url=None), font)
    assert decoded(image) == {ENTRY}


def test_long_names_are_fitted_and_the_code_still_scans(font):
    content = _content(
        enterprise_name="河南省郑州市中原区某某重型机械装备制造集团股份有限公司第二分公司（北厂区）",
        site_name="三号联合厂房二层东侧粉尘涉爆除尘系统布袋除尘器及泄爆口区域",
        site_area="三号联合厂房二层东侧靠近消防通道第4至第7立柱之间",
        checks=("班组日排查", "部门周排查", "经理月排查", "粉尘专项排查"),
    )
    image = render_poster(content, font)
    assert decoded(image) == {WECHAT, ENTRY}


def test_wrap_keeps_latin_words_whole_and_no_line_starts_with_closing_punctuation(font):
    face = font.at(100, 400)
    text = "1#车间（Press-Line 2000T），冲压区。东侧"
    widest_unbreakable = face.getlength("2000T），")
    for width in range(int(widest_unbreakable) + 1, 2000, 50):
        lines = posters._wrap(text, face, width)
        assert "".join(lines).replace(" ", "") == text.replace(" ", "")
        assert all(face.getlength(line) <= width for line in lines)
        assert not any(line[0] in "，。）" for line in lines)
        assert any("2000T" in line for line in lines) and any("Press" in line for line in lines)


def test_cjk_font_is_simplified_chinese_and_has_bold(font):
    regular, bold = font.at(80, 400), font.at(80, 900)
    assert " SC" in regular.getname()[0]
    assert posters._draws_chinese(regular)
    # Bold strokes cover more pixels than regular ones.
    ink = [sum(bytes(face.getmask("隐患排查"))) for face in (regular, bold)]
    assert ink[1] > ink[0] * 1.3


def test_missing_font_fails_loudly_with_install_instructions(tmp_path):
    with pytest.raises(FontNotFound, match=r"未找到可显示中文的字体.*pip install -r requirements.txt.*fonts-noto-cjk"):
        find_cjk_font([FontCandidate(tmp_path / "absent.ttc")])


def test_a_font_without_chinese_glyphs_is_not_accepted(tmp_path):
    latin_only = tmp_path / "latin.ttf"
    latin_only.write_bytes(ImageFont.load_default().font_bytes)  # Pillow's bundled Latin font
    broken = tmp_path / "broken.ttc"
    broken.write_bytes(b"not a font")
    with pytest.raises(FontNotFound, match="latin.ttf"):
        find_cjk_font([FontCandidate(broken), FontCandidate(latin_only)])


def test_writing_posters_without_a_font_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(posters, "font_candidates", lambda: [])
    enterprise, codes = _enterprise_with_sites(1)
    with pytest.raises(FontNotFound):
        write_enterprise_posters(enterprise, codes, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(
    not (posters.DEBIAN_FONT_DIR / "NotoSansCJK-Regular.ttc").is_file(), reason="fonts-noto-cjk not installed"
)
def test_debian_static_fonts_work_as_the_fallback():
    debian = find_cjk_font([FontCandidate(posters.DEBIAN_FONT_DIR / "NotoSansCJK-Regular.ttc",
                                          posters.DEBIAN_FONT_DIR / "NotoSansCJK-Bold.ttc")])
    assert not debian.variable and debian.bold_path is not None
    assert debian.at(60, 700).getname() == ("Noto Sans CJK SC", "Bold")
    assert decoded(render_poster(_content(), debian)) == {WECHAT, ENTRY}


def _enterprise_with_sites(count: int, wechat: bool = False) -> tuple[Enterprise, list[SiteCodes]]:
    enterprise = Enterprise(id=42, name="郑州安泰机械制造有限公司")
    codes = []
    for n in range(1, count + 1):
        site = Site(id=100 + n, name=f"{n}号点位", area="", token=f"tok{n:019d}")
        entry = f"https://ancha.example.cn/h5/scan/{site.token}"
        codes.append(SiteCodes(site, entry, f"http://weixin.qq.com/q/fake{n}" if wechat else None))
    return enterprise, codes


def test_enterprise_files_are_one_png_per_site_and_an_a4_pdf_with_one_page_each(tmp_path, font):
    enterprise, codes = _enterprise_with_sites(3, wechat=True)
    out = tmp_path / "posters" / "42"
    (out).mkdir(parents=True)
    (out / "site-999.png").write_bytes(b"stale poster of a removed site")
    pngs, pdf = write_enterprise_posters(enterprise, codes, out, font=font)

    assert pngs == [out / "site-101.png", out / "site-102.png", out / "site-103.png"]
    assert sorted(p.name for p in out.iterdir()) == ["posters-A4.pdf", "site-101.png", "site-102.png", "site-103.png"]
    with Image.open(pngs[1]) as png:
        assert png.size == A4_SIZE
        assert round(png.info["dpi"][0]) == 300
        assert decoded(png) == {"http://weixin.qq.com/q/fake2", codes[1].entry_url}

    parsed = PdfParser.PdfParser(str(pdf))
    try:
        assert len(parsed.pages) == 3
        for ref in parsed.pages:
            page = parsed.read_indirect(ref)
            x0, y0, x1, y1 = page[b"MediaBox"]
            # A4 is 210 × 297 mm = 595.3 × 841.9 pt.
            assert (x0, y0) == (0, 0)
            assert abs(x1 - 595.3) < 1 and abs(y1 - 841.9) < 1
    finally:
        parsed.close()


def test_checks_come_from_the_caller(tmp_path, font, monkeypatch):
    seen = []
    real = posters.render_poster

    def spy(content, face):
        seen.append(tuple(content.checks))
        return real(content, face)

    monkeypatch.setattr(posters, "render_poster", spy)
    enterprise, codes = _enterprise_with_sites(2)
    write_enterprise_posters(
        enterprise, codes, tmp_path, font=font, checks_for=lambda site: ("班组日排查",) if site.id == 101 else ()
    )
    assert seen == [("班组日排查",), ()]


def test_no_sites_is_refused(tmp_path, font):
    enterprise, _ = _enterprise_with_sites(0)
    with pytest.raises(ValueError, match="no sites"):
        write_enterprise_posters(enterprise, [], tmp_path, font=font)


def _page_colours(pdf: Path) -> list[tuple[int, ...]]:
    parsed = PdfParser.PdfParser(str(pdf))
    try:
        colours = []
        for ref in parsed.pages:
            page = parsed.read_indirect(ref)
            stream = parsed.read_indirect(page[b"Resources"][b"XObject"][b"image"])
            with Image.open(io.BytesIO(bytes(stream.buf))) as image:  # the page's JPEG
                colours.append(image.getpixel((10, 10)))
        return colours
    finally:
        parsed.close()


def test_pdf_pages_follow_the_png_order_and_no_temporary_file_is_left(tmp_path):
    pages = []
    for n, colour in enumerate([(255, 0, 0), (0, 0, 255), (0, 160, 0)]):
        path = tmp_path / f"{n}.png"
        Image.new("RGB", A4_SIZE, colour).save(path)
        pages.append(path)
    target = tmp_path / "out.pdf"
    posters.write_pdf(pages, target)
    colours = _page_colours(target)
    assert [max(range(3), key=lambda i, c=c: c[i]) for c in colours] == [0, 2, 1]  # red, blue, green
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0.png", "1.png", "2.png", "out.pdf"]


def test_poster_prints_the_site_risk_colour_and_still_scans(font):
    plain = render_poster(_content(), font)
    red = render_poster(_content(risk=("风险等级：红色（重大风险）", "#d9001b", "#ffffff")), font)
    assert (217, 0, 27) not in set(plain.getdata())
    assert (217, 0, 27) in set(red.crop((0, 600, red.width, 1400)).getdata())
    assert decoded(red) == {WECHAT, ENTRY}
    red.resize((620, 877)).save("docs/screenshots/risk-poster.png")
