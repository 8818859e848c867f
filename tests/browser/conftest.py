"""What both browser walks share: Debian's Chromium, launched headless with the flags this
closed network needs, able to draw Chinese, and the WeChat phone it pretends to be."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from app.wechat.posters import FONT_PACKAGE

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WECHAT_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN"
)
needs_chromium = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"Chromium is not installed at {CHROMIUM}")


def cjk_fontconfig(folder: Path) -> Path:
    """A fontconfig file: the system's fonts plus Noto Sans CJK from the runtime requirements
    (the poster font), so pages render Chinese on a machine without Debian's CJK fonts —
    phones have their own; screenshots of tofu boxes would show nobody anything."""
    spec = importlib.util.find_spec(FONT_PACKAGE)
    font_dir = Path(spec.origin).parent if spec and spec.origin else None
    (folder / "cache").mkdir(parents=True, exist_ok=True)
    conf = folder / "fonts.conf"
    conf.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n'
        '  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>\n'
        + (f"  <dir>{font_dir}</dir>\n" if font_dir else "")
        + f"  <cachedir>{folder / 'cache'}</cachedir>\n</fontconfig>\n",
        encoding="utf-8",
    )
    return conf


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    fonts = cjk_fontconfig(tmp_path_factory.mktemp("fontconfig"))
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, env={**os.environ, "FONTCONFIG_FILE": str(fonts)}
        )
        try:
            yield chromium
        finally:
            chromium.close()
