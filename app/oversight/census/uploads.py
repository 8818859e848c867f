"""An uploaded census file kept in Redis between the dry run and 确认导入, so the person
confirms the very file they previewed without uploading it again. Bound to the user (the key
names them) and kept 30 minutes."""

from __future__ import annotations

import re
import secrets

from app.extensions import redis_client

UPLOAD_TTL_SECONDS = 30 * 60
EXPIRED = "预览的文件已过期（超过 30 分钟未确认）或已经导入过，请重新上传普查文件。"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def _key(user_id: int, token: str) -> str:
    return f"ancha:census:upload:{user_id}:{token}"


def keep(user_id: int, data: bytes) -> str:
    """Store the file for 30 minutes; the token the confirm form carries."""
    token = secrets.token_urlsafe(16)
    redis_client().set(_key(user_id, token), data, ex=UPLOAD_TTL_SECONDS)
    return token


def kept(user_id: int, token: str) -> bytes | None:
    """The file this user previewed under `token`, or None once expired (or never theirs)."""
    if not _TOKEN.match(token or ""):
        return None
    return redis_client().get(_key(user_id, token))


def discard(user_id: int, token: str) -> None:
    """Forget the file once it has been imported."""
    if _TOKEN.match(token or ""):
        redis_client().delete(_key(user_id, token))
