"""Printable site posters (排查点位海报): one A4 PNG per site and one A4 PDF per enterprise.

A poster is what a safety officer prints and posts at the QR point: the enterprise and site,
which checks happen there, three steps in plain words, and the QR code(s). It is drawn with
Pillow at 300 dpi (A4 = 2480 × 3508 px), one poster per A4 page, so every printer reproduces
it at the intended size.

Chinese text needs a CJK font. The project installs Noto Sans CJK from PyPI
(`manimgx-fonts-cjk` in requirements.txt); Debian's `fonts-noto-cjk` is the fallback.
Rendering refuses to start without one (FontNotFound) rather than print tofu boxes.
"""

from __future__ import annotations

import functools
import importlib.util
import io
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from PIL import Image, ImageDraw, ImageFont

from app.enterprises.models import Enterprise, Site
from app.enterprises.site_codes import SiteCodes
from app.wechat.qrcodes import render_qr

DPI = 300
A4_SIZE = (2480, 3508)  # 210 × 297 mm at 300 dpi
# Until check schedules exist every site lists all three levels (docs/DOMAIN.md §0).
DEFAULT_CHECKS: tuple[str, ...] = ("班组日排查", "部门周排查", "经理月排查")
STEPS: tuple[str, ...] = ("微信扫码", "关注公众号", "按提示完成排查")
# The QR-only download: about 8.5 cm square at 300 dpi, big enough for any sticker.
QR_DOWNLOAD_PX = 1000

# The PyPI font package (see requirements.in) and Debian's fonts-noto-cjk, in that order.
FONT_PACKAGE = "manimgx_fonts_cjk"
FONT_PACKAGE_FILE = "NotoSansCJK-VF.otf.ttc"
DEBIAN_FONT_DIR = Path("/usr/share/fonts/opentype/noto")
# Characters every poster uses; a font that cannot draw them would print tofu boxes.
_PROBE_TEXT = "隐患排查扫码关注"
_MISSING_GLYPH_PROBE = "\ue000"  # a private-use code point: no font maps it, so it shows .notdef

# Colours of GB 2893 safety signs: blue for "must do" instructions, yellow/black for caution.
BLUE = (10, 80, 160)
BLUE_DARK = (6, 52, 110)
BLUE_LIGHT = (230, 240, 252)
YELLOW = (255, 200, 0)
BLACK = (20, 22, 26)
INK = (28, 32, 38)
GRAY = (96, 104, 115)
LINE = (205, 212, 222)
RED = (196, 26, 38)
WHITE = (255, 255, 255)

MARGIN = 170
# Closing punctuation must not start a line (basic Chinese line-breaking rule).
_NO_LINE_START = set("，。、；：！？）》」』】〉”’,.;:!?)]}…·")


class FontNotFound(RuntimeError):
    """No font able to draw Chinese was found; the message says how to install one."""


@dataclass(frozen=True)
class FontCandidate:
    regular: Path
    bold: Path | None = None


@dataclass(frozen=True)
class CjkFont:
    """A Simplified-Chinese face: either one variable font (any weight) or a regular and an
    optional bold static file."""

    path: str
    index: int
    variable: bool
    bold_path: str | None = None
    bold_index: int = 0

    def at(self, size: int, weight: int = 400) -> ImageFont.FreeTypeFont:
        """The face at `size` px and `weight` (100–900; static fonts: ≥ 600 picks bold)."""
        if self.variable:
            return _load_font(self.path, self.index, size, weight)
        if weight >= 600 and self.bold_path:
            return _load_font(self.bold_path, self.bold_index, size, None)
        return _load_font(self.path, self.index, size, None)


def font_candidates() -> list[FontCandidate]:
    """Where a CJK font is looked for, best first."""
    candidates = []
    spec = importlib.util.find_spec(FONT_PACKAGE)
    if spec is not None and spec.origin:
        candidates.append(FontCandidate(Path(spec.origin).with_name(FONT_PACKAGE_FILE)))
    candidates.append(
        FontCandidate(DEBIAN_FONT_DIR / "NotoSansCJK-Regular.ttc", DEBIAN_FONT_DIR / "NotoSansCJK-Bold.ttc")
    )
    return candidates


def find_cjk_font(candidates: Iterable[FontCandidate] | None = None) -> CjkFont:
    """The first candidate font that draws Simplified Chinese. Raises FontNotFound naming the
    places looked at and how to install a font."""
    looked = []
    for candidate in font_candidates() if candidates is None else candidates:
        looked.append(str(candidate.regular))
        if not candidate.regular.is_file():
            continue
        index = _simplified_chinese_index(candidate.regular)
        if index is None:
            continue
        variable = _is_variable(candidate.regular, index)
        bold_path, bold_index = None, 0
        if not variable and candidate.bold and candidate.bold.is_file():
            found = _simplified_chinese_index(candidate.bold)
            if found is not None:
                bold_path, bold_index = str(candidate.bold), found
        return CjkFont(str(candidate.regular), index, variable, bold_path, bold_index)
    raise FontNotFound(
        "未找到可显示中文的字体，无法生成海报（否则中文会印成方框）。已查找："
        + "；".join(looked or ["（无）"])
        + "。请执行 `pip install -r requirements.txt`（安装 manimgx-fonts-cjk），"
        "或在 Debian/Ubuntu 上执行 `apt-get install fonts-noto-cjk`。"
    )


@dataclass(frozen=True)
class PosterContent:
    """Everything printed on one site's poster."""

    enterprise_name: str
    site_name: str
    site_area: str
    checks: Sequence[str]
    site_number: int
    qr_url: str  # the main code: the WeChat QR url, or the H5 entry URL when there is none
    wechat: bool  # whether `qr_url` is the WeChat parametric QR
    backup_url: str | None = None  # the H5 entry URL beside a WeChat main code
    # The site's four-colour risk level as printed: (text, fill colour, text colour); the
    # feature layer passes it in (identity knows no risk levels).
    risk: tuple[str, str, str] | None = None


def poster_content(
    enterprise: Enterprise, codes: SiteCodes, checks: Sequence[str], risk: tuple[str, str, str] | None = None
) -> PosterContent:
    """The poster of one site: the WeChat QR as the main code when the site has one, with the
    plain-URL QR beside it as a backup; otherwise the plain-URL QR alone."""
    site = codes.site
    return PosterContent(
        enterprise_name=enterprise.name,
        site_name=site.name,
        site_area=site.area,
        checks=tuple(checks),
        site_number=site.id,
        qr_url=codes.wechat_url or codes.entry_url,
        wechat=codes.wechat_url is not None,
        backup_url=codes.entry_url if codes.wechat_url else None,
        risk=risk,
    )


def render_poster(content: PosterContent, font: CjkFont) -> Image.Image:
    """Draw one A4 portrait poster (RGB, 2480 × 3508 px at 300 dpi)."""
    width, height = A4_SIZE
    image = Image.new("RGB", A4_SIZE, WHITE)
    draw = ImageDraw.Draw(image)
    inner = width - 2 * MARGIN

    _hazard_stripes(draw, 0, 64, width)
    _hazard_stripes(draw, height - 64, height, width)

    # Header: the sign's title on safety blue.
    draw.rectangle((0, 64, width, 540), fill=BLUE)
    draw.text((width // 2, 150), "隐患排查点", font=font.at(250, 900), fill=WHITE, anchor="mt")
    draw.text((width // 2, 440), "请在此处扫码，完成本点位隐患排查", font=font.at(76, 500), fill=YELLOW, anchor="mt")

    # Who and where.
    y = 620
    ent_font, ent_lines = _fit(font, content.enterprise_name, inner, 700, sizes=(96, 64), max_lines=2)
    y = _draw_lines(draw, ent_lines, ent_font, width // 2, y, GRAY, spacing=1.25)
    y += 30
    site_font, site_lines = _fit(font, content.site_name, inner, 900, sizes=(200, 110), max_lines=2)
    y = _draw_lines(draw, site_lines, site_font, width // 2, y, INK, spacing=1.18)
    if content.site_area.strip():
        area_font, area_lines = _fit(font, f"区域：{content.site_area.strip()}", inner, 500, sizes=(72, 56), max_lines=1)
        y = _draw_lines(draw, area_lines, area_font, width // 2, y + 20, GRAY, spacing=1.2)

    if content.risk is not None:
        text, fill, ink = content.risk
        band_font = font.at(84, 800)
        band_w = min(inner, int(draw.textlength(text, font=band_font)) + 160)
        draw.rounded_rectangle(((width - band_w) // 2, y + 30, (width + band_w) // 2, y + 170), radius=40, fill=fill)
        draw.text((width // 2, y + 100), text, font=band_font, fill=ink, anchor="mm")
        y += 170

    # The bottom blocks have fixed heights; the QR code takes whatever is left between.
    footer_top = height - 64 - 420
    notice_top = footer_top - 130
    checks_top = notice_top - 230
    steps_top = checks_top - 250
    card_top = y + 50
    card_bottom = steps_top - 50
    _qr_card(draw, image, font, content, card_top, card_bottom)
    _steps(draw, font, steps_top, width)
    _checks(draw, font, content.checks, checks_top, width)
    _notice(draw, font, notice_top, width)
    _footer(draw, image, font, content, footer_top, height - 64, width)
    return image


def write_enterprise_posters(
    enterprise: Enterprise,
    codes: Sequence[SiteCodes],
    out_dir: Path,
    *,
    font: CjkFont | None = None,
    checks_for: Callable[[Site], Sequence[str]] = lambda _site: DEFAULT_CHECKS,
) -> tuple[list[Path], Path]:
    """Write `site-<id>.png` per site and `posters-A4.pdf` (one page per site, same order)
    into `out_dir`; returns (png paths, pdf path). PNGs of sites no longer listed are removed.
    Files are replaced atomically, so a reader never sees half a file. Raises FontNotFound
    before writing anything when no CJK font is installed, ValueError when `codes` is empty."""
    if not codes:
        raise ValueError("no sites to print")
    font = font or find_cjk_font()
    out_dir.mkdir(parents=True, exist_ok=True)
    pngs = []
    for site_codes in codes:
        content = poster_content(enterprise, site_codes, checks_for(site_codes.site))
        path = out_dir / f"site-{site_codes.site.id}.png"
        poster = render_poster(content, font)
        _atomic_save(poster, path, format="PNG", dpi=(DPI, DPI), optimize=False)
        pngs.append(path)
    keep = {p.name for p in pngs}
    for stale in out_dir.glob("site-*.png"):
        if stale.name not in keep:
            stale.unlink()
    pdf = out_dir / "posters-A4.pdf"
    write_pdf(pngs, pdf)
    return pngs, pdf


def write_pdf(pages: Sequence[Path], path: Path) -> None:
    """An A4 PDF with one page per poster PNG. Pages are appended one at a time, so memory
    stays at one page however many sites an enterprise has."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        _save_pdf_pages((_open_rgb(page) for page in pages), tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def poster_png(enterprise: Enterprise, codes: SiteCodes, *, font: CjkFont | None = None,
               checks: Sequence[str] = DEFAULT_CHECKS, risk: tuple[str, str, str] | None = None) -> bytes:
    """One site's A4 poster as PNG bytes (300 dpi), drawn on request for a download.
    Raises FontNotFound when no CJK font is installed."""
    font = font or find_cjk_font()
    poster = render_poster(poster_content(enterprise, codes, checks, risk), font)
    buffer = io.BytesIO()
    poster.save(buffer, format="PNG", dpi=(DPI, DPI))
    return buffer.getvalue()


def posters_pdf(
    enterprise: Enterprise,
    codes: Sequence[SiteCodes],
    *,
    font: CjkFont | None = None,
    checks_for: Callable[[Site], Sequence[str]] = lambda _site: DEFAULT_CHECKS,
    risk_for: Callable[[Site], tuple[str, str, str] | None] = lambda _site: None,
) -> bytes:
    """The A4 PDF of `codes` (one page per site, same order as the CLI's posters-A4.pdf) as
    bytes. Each page is drawn and appended in turn, so at most one page image is held at a
    time. Raises FontNotFound before drawing, ValueError when `codes` is empty."""
    if not codes:
        raise ValueError("no sites to print")
    font = font or find_cjk_font()
    buffer = io.BytesIO()
    pages = (
        render_poster(
            poster_content(enterprise, site_codes, checks_for(site_codes.site), risk_for(site_codes.site)), font
        )
        for site_codes in codes
    )
    _save_pdf_pages(pages, buffer)
    return buffer.getvalue()


def site_qr_png(url: str, size: int = QR_DOWNLOAD_PX) -> bytes:
    """The QR symbol of `url` alone (quiet zone included) as a PNG of at most `size` px square,
    for a site's sticker or for putting into another document."""
    buffer = io.BytesIO()
    render_qr(url, size).save(buffer, format="PNG", dpi=(DPI, DPI))
    return buffer.getvalue()


def _open_rgb(path: Path) -> Image.Image:
    with Image.open(path) as image:
        return image.convert("RGB")


def _save_pdf_pages(pages: Iterable[Image.Image], target: Path | BinaryIO) -> None:
    options = {"format": "PDF", "resolution": DPI, "quality": 92, "subsampling": 0}
    for number, page in enumerate(pages):
        page.save(target, append=number > 0, **options)


# --- drawing helpers -------------------------------------------------------------------------


def _qr_card(
    draw: ImageDraw.ImageDraw, image: Image.Image, font: CjkFont, content: PosterContent, top: int, bottom: int
) -> None:
    width = A4_SIZE[0]
    caption_h = 150
    qr_max = min(1300, bottom - top - caption_h - 40)
    qr = render_qr(content.qr_url, qr_max)
    card_w = qr.width + 80
    left = (width - card_w) // 2
    card_bottom = top + 40 + qr.height + caption_h
    draw.rounded_rectangle((left, top, left + card_w, card_bottom), radius=48, outline=BLUE, width=14, fill=WHITE)
    image.paste(qr.convert("RGB"), (left + 40, top + 40))
    caption = "微信扫一扫" if content.wechat else "微信扫一扫，打开排查页面"
    draw.text((width // 2, top + 40 + qr.height + 12), caption, font=font.at(88, 800), fill=BLUE_DARK, anchor="mt")


def _steps(draw: ImageDraw.ImageDraw, font: CjkFont, top: int, width: int) -> None:
    """Three numbered steps in a row, joined by arrows."""
    label_font = font.at(64, 700)
    gap = 90
    box_h = 190
    labels = [label_font.getlength(step) for step in STEPS]
    boxes = [int(w) + 190 for w in labels]
    total = sum(boxes) + gap * (len(STEPS) - 1)
    scale = min(1.0, (width - 2 * MARGIN + 120) / total)
    x = (width - total * scale) / 2
    for number, (step, box_w) in enumerate(zip(STEPS, boxes, strict=True), start=1):
        w = box_w * scale
        draw.rounded_rectangle((x, top, x + w, top + box_h), radius=36, fill=BLUE_LIGHT)
        cx, cy = x + 80, top + box_h / 2
        draw.ellipse((cx - 50, cy - 50, cx + 50, cy + 50), fill=BLUE)
        draw.text((cx, cy), str(number), font=font.at(66, 800), fill=WHITE, anchor="mm")
        draw.text((cx + 70, cy), step, font=label_font, fill=INK, anchor="lm")
        x += w
        if number < len(STEPS):
            _arrow(draw, x + 18, x + gap * scale - 18, cy)
            x += gap * scale


def _arrow(draw: ImageDraw.ImageDraw, x0: float, x1: float, y: float) -> None:
    draw.line((x0, y, x1 - 20, y), fill=BLUE, width=12)
    draw.polygon([(x1, y), (x1 - 34, y - 26), (x1 - 34, y + 26)], fill=BLUE)


def _checks(draw: ImageDraw.ImageDraw, font: CjkFont, checks: Sequence[str], top: int, width: int) -> None:
    """The checks done at this site, as labelled chips on one line (nothing if none)."""
    if not checks:
        return
    title_font = font.at(64, 700)
    title = "本点位排查："
    chip_font = font.at(62, 700)
    chips = [int(chip_font.getlength(check)) + 90 for check in checks]
    total = int(title_font.getlength(title)) + sum(chips) + 36 * max(len(chips) - 1, 0)
    if total > width - 2 * MARGIN:  # too many to fit: fall back to a smaller size
        chip_font = title_font = font.at(48, 700)
        chips = [int(chip_font.getlength(check)) + 70 for check in checks]
        total = int(title_font.getlength(title)) + sum(chips) + 24 * max(len(chips) - 1, 0)
    x = (width - total) / 2
    cy = top + 70
    draw.text((x, cy), title, font=title_font, fill=INK, anchor="lm")
    x += title_font.getlength(title)
    for check, chip_w in zip(checks, chips, strict=True):
        draw.rounded_rectangle((x, cy - 58, x + chip_w, cy + 58), radius=58, outline=BLUE, width=6, fill=WHITE)
        draw.text((x + chip_w / 2, cy), check, font=chip_font, fill=BLUE_DARK, anchor="mm")
        x += chip_w + 36


def _notice(draw: ImageDraw.ImageDraw, font: CjkFont, top: int, width: int) -> None:
    text = "未绑定请联系企业管理员"
    text_font = font.at(66, 700)
    text_w = text_font.getlength(text)
    icon = 96
    x = (width - (icon + 30 + text_w)) / 2
    cy = top + 50
    draw.ellipse((x, cy - icon / 2, x + icon, cy + icon / 2), fill=RED)
    draw.text((x + icon / 2, cy), "!", font=font.at(72, 900), fill=WHITE, anchor="mm")
    draw.text((x + icon + 30, cy), text, font=text_font, fill=RED, anchor="lm")


def _footer(
    draw: ImageDraw.ImageDraw,
    image: Image.Image,
    font: CjkFont,
    content: PosterContent,
    top: int,
    bottom: int,
    width: int,
) -> None:
    draw.line((MARGIN, top, width - MARGIN, top), fill=LINE, width=5)
    text_x = MARGIN
    if content.backup_url:
        backup = render_qr(content.backup_url, bottom - top - 70)
        # Shifted right by about its white quiet zone, so the symbol itself meets the margin.
        image.paste(backup.convert("RGB"), (width - MARGIN - backup.width + 30, top + 35))
        right = width - MARGIN - backup.width + 20
        draw.text((right, top + 150), "备用码", font=font.at(54, 700), fill=INK, anchor="rm")
        draw.text((right, top + 230), "扫码直接打开排查页面", font=font.at(44, 400), fill=GRAY, anchor="rm")
    draw.text((text_x, top + 110), "安查·隐患排查治理", font=font.at(60, 700), fill=BLUE_DARK, anchor="ls")
    draw.text((text_x, top + 195), f"点位编号 {content.site_number}", font=font.at(48, 400), fill=GRAY, anchor="ls")
    draw.text(
        (text_x, top + 270), "请勿遮挡、涂改；二维码损坏请联系安全员重新打印", font=font.at(40, 400), fill=GRAY, anchor="ls"
    )


def _hazard_stripes(draw: ImageDraw.ImageDraw, top: int, bottom: int, width: int) -> None:
    """Yellow/black diagonal caution stripes across the page."""
    draw.rectangle((0, top, width, bottom), fill=YELLOW)
    band = bottom - top
    step = 110
    for x in range(-band, width + band, step):
        draw.polygon([(x, bottom), (x + band, top), (x + band + step // 2, top), (x + step // 2, bottom)], fill=BLACK)


def _draw_lines(
    draw: ImageDraw.ImageDraw,
    lines: Sequence[str],
    font: ImageFont.FreeTypeFont,
    cx: int,
    y: int,
    fill: tuple[int, int, int],
    spacing: float,
) -> int:
    """Centred lines from `y` down; returns the y below the last line."""
    step = int(font.size * spacing)
    for line in lines:
        draw.text((cx, y), line, font=font, fill=fill, anchor="mt")
        y += step
    return y


def _fit(
    font: CjkFont, text: str, max_width: int, weight: int, *, sizes: tuple[int, int], max_lines: int
) -> tuple[ImageFont.FreeTypeFont, list[str]]:
    """The largest size in `sizes` (from, to) at which `text` fits on one line; failing that,
    in at most `max_lines` wrapped lines; failing that, wrapped at the smallest size with the
    last line shortened by an ellipsis (names are at most 128 characters, so this is rare)."""
    largest, smallest = sizes
    size_list = list(range(largest, smallest - 1, -max(2, (largest - smallest) // 12)))
    if size_list[-1] != smallest:
        size_list.append(smallest)
    for size in size_list:
        face = font.at(size, weight)
        if face.getlength(text) <= max_width:
            return face, [text]
    for size in size_list:
        face = font.at(size, weight)
        lines = _wrap(text, face, max_width)
        if len(lines) <= max_lines:
            return face, lines
    face = font.at(smallest, weight)
    lines = _wrap(text, face, max_width)[:max_lines]
    last = lines[-1]
    while last and face.getlength(last + "…") > max_width:
        last = last[:-1]
    lines[-1] = last + "…"
    return face, lines


def _wrap(text: str, face: ImageFont.FreeTypeFont, max_width: int) -> list[str]:
    """Break `text` into lines no wider than `max_width`: between any two Chinese
    characters, but not inside a Latin word or number, and never before closing punctuation."""
    tokens: list[str] = []
    for ch in text:
        if tokens and (
            ch in _NO_LINE_START or (ch.isascii() and ch.isalnum() and tokens[-1][-1].isascii() and tokens[-1][-1].isalnum())
        ):
            tokens[-1] += ch
        else:
            tokens.append(ch)
    lines: list[str] = []
    line = ""
    for token in tokens:
        if line and face.getlength(line + token) > max_width:
            lines.append(line.rstrip())
            line = token.lstrip()
        else:
            line += token
    if line:
        lines.append(line)
    return lines


def _atomic_save(image: Image.Image, path: Path, **options: object) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        image.save(tmp, **options)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@functools.lru_cache(maxsize=64)
def _load_font(path: str, index: int, size: int, weight: int | None) -> ImageFont.FreeTypeFont:
    face = ImageFont.truetype(path, size, index=index)
    if weight is not None:
        axes = face.get_variation_axes()
        face.set_variation_by_axes(
            [
                max(axis["minimum"], min(axis["maximum"], weight)) if axis["name"] == b"Weight" else axis["default"]
                for axis in axes
            ]
        )
    return face


def _simplified_chinese_index(path: Path) -> int | None:
    """Index of the Simplified Chinese face in a font file or collection, or None if the
    file has no face that draws Chinese. In a Noto CJK collection that is the "SC" face."""
    faces = []
    for index in range(32):  # Noto CJK collections hold 5–10 faces
        try:
            face = ImageFont.truetype(str(path), 48, index=index)
        except OSError:
            break
        faces.append((index, face))
    if not faces:
        return None
    sc = [index for index, face in faces if " SC" in (face.getname()[0] or "")]
    for index in sc + [index for index, _ in faces if index not in sc]:
        if _draws_chinese(dict(faces)[index]):
            return index
    return None


def _draws_chinese(face: ImageFont.FreeTypeFont) -> bool:
    """True if the face has real glyphs for the probe characters (not the .notdef box)."""
    missing = bytes(face.getmask(_MISSING_GLYPH_PROBE))
    return all(bytes(face.getmask(ch)) != missing for ch in _PROBE_TEXT)


def _is_variable(path: Path, index: int) -> bool:
    try:
        return bool(ImageFont.truetype(str(path), 48, index=index).get_variation_axes())
    except OSError:
        return False
