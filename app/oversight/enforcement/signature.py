"""The responsible person's signature: a PNG drawn on the inspector's phone or tablet.

What is posted is untrusted: it must be a real PNG (Pillow opens and decodes it, PNG only),
at most 1 MB, of a sane size, and not blank (enough pixels darker than the background: the
canvas is transparent or white). It is re-encoded (no ancillary chunks kept), flattened on
white, and stored content-addressed under MEDIA_ROOT/signatures/<yyyy>/<mm>/<sha256>.png,
written to a temporary name and renamed into place. The record keeps the path and the hash.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from app.clock import to_local
from app.errors import ValidationFailed

MAX_BYTES = 1024 * 1024
MAX_SIDE = 4000
MIN_SIDE = 50
# A pixel is ink when darker than this (0 black … 255 white) once flattened on white.
INK_THRESHOLD = 160
# At least this many ink pixels: a short stroke of a finger is a few hundred.
MIN_INK_PIXELS = 40
DATA_URL_PREFIX = "data:image/png;base64,"

NOT_PNG = "签名图片无效：请在签名框内签字后点“确认签字”（只接受 PNG 图片）。"
TOO_LARGE = f"签名图片不能超过 {MAX_BYTES // (1024 * 1024)} MB，请清除后重新签字。"
BLANK = "签名为空白：请责任人在签名框内签字后再确认。"
BAD_SIZE = "签名图片尺寸异常，请清除后重新签字。"


@dataclass(frozen=True)
class StoredSignature:
    path: str  # relative to MEDIA_ROOT
    sha256: str


def _refuse(message: str) -> ValidationFailed:
    return ValidationFailed(message, fields={"signature": message})


def from_data_url(value: str | None) -> bytes:
    """The bytes of a `data:image/png;base64,…` URL (what the canvas posts). Raises
    ValidationFailed when it is missing or not such a URL."""
    text = (value or "").strip()
    if not text:
        raise _refuse(BLANK)
    if not text.startswith(DATA_URL_PREFIX):
        raise _refuse(NOT_PNG)
    encoded = text[len(DATA_URL_PREFIX) :]
    if len(encoded) > (MAX_BYTES * 4) // 3 + 8:
        raise _refuse(TOO_LARGE)
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise _refuse(NOT_PNG) from None


def prepare_signature(data: bytes) -> bytes:
    """Check and re-encode a signature PNG. Returns the PNG to store (RGB on white).
    Raises ValidationFailed: not a PNG, too large, odd size, blank."""
    if not data:
        raise _refuse(BLANK)
    if len(data) > MAX_BYTES:
        raise _refuse(TOO_LARGE)
    try:
        image = Image.open(io.BytesIO(data), formats=("PNG",))
        width, height = image.size
        if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
            raise _refuse(BAD_SIZE)
        image.load()
    except ValidationFailed:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise _refuse(NOT_PNG) from None
    rgba = image.convert("RGBA")
    flat = Image.new("RGB", rgba.size, (255, 255, 255))
    flat.paste(rgba, mask=rgba.getchannel("A"))
    histogram = flat.convert("L").histogram()
    if sum(histogram[:INK_THRESHOLD]) < MIN_INK_PIXELS:
        raise _refuse(BLANK)
    buffer = io.BytesIO()
    flat.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _write_atomically(target: Path, content: bytes) -> None:
    """Write `content` at `target` through a temporary file in the same folder and a rename
    (content-addressed: an existing file of that name already holds these bytes)."""
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=target.parent, prefix=".signature-", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as temp:
            temp.write(content)
            temp.flush()
            os.fsync(temp.fileno())
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def store_signature(data: bytes, media_root: str | Path, now: datetime) -> StoredSignature:
    """Validate and store a signature; see the module notes. Raises ValidationFailed (nothing
    is written then)."""
    png = prepare_signature(data)
    digest = hashlib.sha256(png).hexdigest()
    local = to_local(now)
    path = Path("signatures") / f"{local:%Y}" / f"{local:%m}" / f"{digest}.png"
    _write_atomically(Path(media_root) / path, png)
    return StoredSignature(path.as_posix(), digest)
