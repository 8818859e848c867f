"""Storing hazard photos: validate, orient, strip metadata, thumbnail, write atomically.

Uploads are untrusted. They are opened with Pillow restricted to JPEG, PNG and WebP, refused
before decoding when their declared size is too large (decompression bombs), turned upright
from the EXIF orientation, and re-encoded as baseline JPEG without any metadata (EXIF, GPS,
XMP, comments, ICC): photos from phones carry the shooter's location and device.

Files are content-addressed under MEDIA_ROOT/hazards/<yyyy>/<mm>/<sha256>.jpg (the month is
the local month of the upload) with a thumbnail beside them, so storing the same picture
twice writes nothing new. Each file is written to a temporary name in the same directory and
renamed into place, so a reader never sees half a file. A photo row is only written after
both files exist; if the transaction is later rolled back, the files stay as unreferenced
content-addressed blobs, which is harmless.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from app.clock import to_local
from app.errors import ValidationFailed

MAX_BYTES = 10 * 1024 * 1024
# 50 MP covers phone cameras in their high-resolution modes (8160×6120) and bounds the memory
# one decode may take (≈150 MB as RGB).
MAX_PIXELS = 50_000_000
THUMB_SIZE = 480
# A stored photo's longest edge. 4096 px shows a nameplate or a crack as well as any screen
# can, and a 7000 × 7000 upload then costs a fraction of the CPU: JPEG decodes straight at
# half size (Pillow's draft mode) instead of decoding 49 MP and shrinking them.
MAX_EDGE = 4096
JPEG_QUALITY = 85
THUMB_QUALITY = 80
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP")

# Pillow warns above MAX_IMAGE_PIXELS and raises DecompressionBombError above twice that. We
# check the declared size ourselves before decoding; this keeps Pillow's own guard (for every
# image this process opens) at the same bound instead of its default of ~89 MP.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

# ISO-BMFF brands of HEIF/HEIC (iPhone "高效" format) and AVIF.
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif"}

NOT_AN_IMAGE = "无法识别的图片，请上传 JPEG、PNG 或 WebP 格式的照片。"
HEIC_REFUSED = (
    "暂不支持 HEIC/HEIF 格式的照片。请在 iPhone“设置 > 相机 > 格式”中选择“兼容性最佳”，"
    "或通过微信直接拍照上传。"
)
TOO_LARGE = f"照片不能超过 {MAX_BYTES // (1024 * 1024)} MB，请压缩后再上传。"
TOO_MANY_PIXELS = f"照片像素过大（超过 {MAX_PIXELS // 1_000_000} 百万像素），请缩小后再上传。"
EMPTY = "照片内容为空，请重新选择。"
BROKEN = "照片文件已损坏或不完整，请重新拍摄或选择。"


@dataclass(frozen=True)
class StoredPhoto:
    """Where a photo was stored (paths relative to the media root) and what it is."""

    path: str
    thumb_path: str
    width: int
    height: int
    sha256: str


def _refuse(message: str) -> ValidationFailed:
    return ValidationFailed(message, fields={"photo": message})


def _is_heif(data: bytes) -> bool:
    # An ISO-BMFF file starts with a box whose type is "ftyp", followed by the major brand.
    return len(data) >= 12 and data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS


def _open(data: bytes) -> Image.Image:
    """Open, check the declared size, then decode. Raises ValidationFailed."""
    if not data:
        raise _refuse(EMPTY)
    if len(data) > MAX_BYTES:
        raise _refuse(TOO_LARGE)
    if _is_heif(data):
        raise _refuse(HEIC_REFUSED)
    try:
        image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _refuse(TOO_MANY_PIXELS) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise _refuse(NOT_AN_IMAGE) from None
    width, height = image.size
    # Opening reads only the header; refuse here, before any pixel is decompressed.
    if width <= 0 or height <= 0 or width * height > MAX_PIXELS:
        raise _refuse(TOO_MANY_PIXELS)
    if image.format == "JPEG":
        # The decoder scales by 1/2, 1/4 or 1/8 while it decodes, keeping both sides at least
        # MAX_EDGE / 2: a normal phone photo (4000 × 3000) is decoded whole, 7000 × 7000 at half.
        image.draft("RGB", (MAX_EDGE // 2, MAX_EDGE // 2))
    try:
        image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _refuse(TOO_MANY_PIXELS) from None
    except (OSError, SyntaxError, ValueError):
        raise _refuse(BROKEN) from None
    return image


def _upright_rgb(image: Image.Image) -> Image.Image:
    """The picture as seen (EXIF orientation applied), flattened to RGB, with no metadata."""
    upright = ImageOps.exif_transpose(image)
    if upright.mode in ("RGBA", "LA", "PA") or (upright.mode == "P" and "transparency" in upright.info):
        rgba = upright.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
    else:
        flat = upright.convert("RGB")
    # A fresh image carries no info dict: no exif, xmp, icc_profile or comment to re-emit.
    clean = Image.new("RGB", flat.size)
    clean.paste(flat)
    return clean


def _jpeg(image: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality, optimize=True)
    return buffer.getvalue()


def _write_atomically(target: Path, content: bytes) -> None:
    """Write `content` at `target` via a temporary file in the same directory and a rename."""
    if target.exists() and target.stat().st_size == len(content):
        return  # content-addressed: the same name holds the same bytes
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=target.parent, prefix=".upload-", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as temp:
            temp.write(content)
            temp.flush()
            os.fsync(temp.fileno())
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def prepare_photo(data: bytes) -> tuple[bytes, bytes, int, int]:
    """Validate and re-encode an upload, its longest edge at most MAX_EDGE. Returns (jpeg,
    thumbnail jpeg, width, height) of what is stored.

    Raises ValidationFailed (Chinese) for an empty, oversized, HEIC, unreadable, broken or
    too-many-pixels upload."""
    with _open(data) as image:
        clean = _upright_rgb(image)
    if max(clean.size) > MAX_EDGE:
        clean.thumbnail((MAX_EDGE, MAX_EDGE), Image.Resampling.LANCZOS)
    original = _jpeg(clean, JPEG_QUALITY)
    thumb = clean.copy()
    thumb.thumbnail((THUMB_SIZE, THUMB_SIZE), Image.Resampling.LANCZOS)
    return original, _jpeg(thumb, THUMB_QUALITY), clean.width, clean.height


def store_photo(data: bytes, media_root: str | Path, now: datetime) -> StoredPhoto:
    """Validate, clean and store an uploaded photo and its thumbnail; see the module notes.

    Raises ValidationFailed for bad input (nothing is written then)."""
    original, thumb, width, height = prepare_photo(data)
    digest = hashlib.sha256(original).hexdigest()
    local = to_local(now)
    folder = Path("hazards") / f"{local:%Y}" / f"{local:%m}"
    path = folder / f"{digest}.jpg"
    thumb_path = folder / f"{digest}_{THUMB_SIZE}.jpg"
    root = Path(media_root)
    # Thumbnail first: an original on disk then always has its thumbnail.
    _write_atomically(root / thumb_path, thumb)
    _write_atomically(root / path, original)
    return StoredPhoto(path.as_posix(), thumb_path.as_posix(), width, height, digest)
