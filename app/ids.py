"""Row ids as the outside world hands them in (URL parts, query strings, form fields).

Every table's id is a positive integer that fits PostgreSQL's `integer`; a larger number in
a URL would otherwise reach the database and fail there as a server error, not a 404.
"""

from __future__ import annotations

MAX_ID = 2**31 - 1


def parse_id(raw: str | None) -> int | None:
    """The id written in `raw` (digits only, 1 … MAX_ID), or None when it is not one."""
    text = (raw or "").strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 10:
        return None
    number = int(text)
    return number if 1 <= number <= MAX_ID else None
