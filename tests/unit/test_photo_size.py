"""A very large photo is stored at most MAX_EDGE on its longest side, and a huge JPEG is
decoded at a fraction of its size (the CPU a 49 MP upload costs is the point), while an
ordinary phone photo keeps its full resolution."""

import io

from PIL import Image

from app.hazard_reporting.hazards.photos import MAX_EDGE, prepare_photo


def _jpeg(width: int, height: int) -> bytes:
    image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def _png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 120, 40)).save(buffer, "PNG")
    return buffer.getvalue()


def test_a_huge_jpeg_is_decoded_at_half_size():
    _, _, width, height = prepare_photo(_jpeg(7000, 7000))
    assert (width, height) == (3500, 3500)


def test_an_ordinary_phone_photo_keeps_its_resolution():
    _, _, width, height = prepare_photo(_jpeg(4000, 3000))
    assert (width, height) == (4000, 3000)


def test_a_large_png_is_shrunk_to_the_longest_edge():
    original, _, width, height = prepare_photo(_png(6000, 1500))
    assert (width, height) == (MAX_EDGE, 1024)
    assert Image.open(io.BytesIO(original)).size == (MAX_EDGE, 1024)
