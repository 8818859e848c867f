"""Two web-layer mechanisms of the H5 forms, both kept in Redis per user.

Staged photos (the hazard pages and the check form): a photo chosen on a phone is uploaded as
soon as it is picked and kept with a preview thumbnail, so a half-filled form survives a
reload and the final submit is small; the form then names its photos by token.

    stage = StagedPhotos.for_hazards(user_id)  or  StagedPhotos.for_check(user_id, task_id)
    token = stage.put(data)  or  stage.put_media(media_id)   # ValidationFailed: bad image
    stage.thumb(token) / stage.photo(token)                   # None once expired
    photos, used = form_photos(form, files, stage)            # a form's staged + posted photos
    stage.discard(used)                                       # after the commit

The once-only 随手拍: the page's idempotency key is claimed while the report is stored,
then remembers the hazard it created, so a repeat returns that hazard.

    claim = ReportClaim.of(user_id, key)                      # ValidationFailed: bad key
    earlier = claim.claim()                                   # Conflict: still being stored
    claim.done(hazard_id)  or  claim.release()                # after the commit / a refusal

A chat photo's reply link gives its page the key media_page_key(media_id), the same on every
opening, so the link reports once (hazards.report_key holds it, unique).
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass

from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from app.errors import Conflict, NotFound, ValidationFailed
from app.extensions import redis_client
from app.hazard_reporting.hazards.photos import prepare_photo
from app.wechat.client import WeChatAPIError, get_wechat_client

MAX_PHOTOS_PER_FORM = 9  # what wx.chooseImage offers at most
STAGE_TTL_SECONDS = 24 * 3600
CHECK_STAGE_TTL_SECONDS = 3 * 24 * 3600  # as long as WeChat keeps uploaded media
REPORT_KEY_TTL_SECONDS = 7 * 24 * 3600
# How long a submission may hold its key before a repeat is allowed to try again.
REPORT_CLAIM_SECONDS = 120

STAGE_EXPIRED = "有照片已过期（超过 24 小时未提交），请删除后重新拍摄上传。"
TOO_MANY_PHOTOS = f"每次最多上传 {MAX_PHOTOS_PER_FORM} 张照片"
MEDIA_EXPIRED = "聊天中发送的照片已过期（微信只保留 3 天）或无法获取，请重新拍摄上传。"
CHECK_MEDIA_EXPIRED = "无法从微信获取这张照片（可能已过期），请重新拍摄。"
WECHAT_DOWN = "暂时无法从微信获取照片，请稍后重试，或直接拍照上传。"
REPORT_BUSY = "上一次提交仍在处理中，请稍候刷新页面查看结果，不要重复提交。"

_PENDING = b"pending:"
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


class StagedPhotos:
    """Photos picked on a phone before the form that uses them is submitted, kept in Redis
    per user (and per check task for a check form) with a preview thumbnail. The bytes are
    validated when staged, so a bad file is refused at once, while the person still stands
    at the point, not at submit time.

    Two stores, one mechanism: the hazard pages keep the bytes as uploaded for a day
    (hazards.service.add_photo cleans them when the hazard is saved); the check form keeps
    them already cleaned (upright, no EXIF/GPS) for three days, as long as WeChat keeps
    uploaded media, because its items are answered over a longer walk."""

    def __init__(self, prefix: str, ttl_seconds: int, *, clean: bool, media_expired: str = MEDIA_EXPIRED):
        self.redis = redis_client()
        self.prefix = prefix
        self.ttl = ttl_seconds
        self.clean = clean
        self.media_expired = media_expired

    @classmethod
    def for_hazards(cls, user_id: int) -> StagedPhotos:
        return cls(f"ancha:h5:staged:{user_id}:", STAGE_TTL_SECONDS, clean=False)

    @classmethod
    def for_check(cls, user_id: int, task_id: int) -> StagedPhotos:
        # The check form's photos come from the JS-SDK, never from the chat.
        return cls(
            f"ancha:h5:check-photo:{user_id}:{task_id}:", CHECK_STAGE_TTL_SECONDS,
            clean=True, media_expired=CHECK_MEDIA_EXPIRED,
        )

    def _key(self, token: str) -> str:
        return self.prefix + token

    def put(self, data: bytes) -> str:
        """Stage an upload; returns its token. Raises ValidationFailed for a bad image."""
        photo, thumb, _, _ = prepare_photo(data)
        token = secrets.token_urlsafe(18)
        pipe = self.redis.pipeline()
        pipe.hset(self._key(token), mapping={"photo": photo if self.clean else data, "thumb": thumb})
        pipe.expire(self._key(token), self.ttl)
        pipe.execute()
        return token

    def put_media(self, media_id: str) -> str:
        """Fetch WeChat temporary media (a photo sent in chat, or a JS-SDK uploadImage
        serverId) with media/get and stage it. The same media_id again gives the same
        token while it is staged (reloading the form does not download it again).
        Raises ValidationFailed (expired media, WeChat unreachable, not an image)."""
        media_id = media_id.strip()
        if not media_id or len(media_id) > 256:
            raise ValidationFailed.for_field("photo", self.media_expired)
        seen = f"{self.prefix}media:{hashlib.sha256(media_id.encode()).hexdigest()}"
        known = self.redis.get(seen)
        if known is not None and self.redis.exists(self._key(known.decode())):
            return known.decode()
        try:
            response = get_wechat_client().media.download(media_id)
        except WeChatAPIError as exc:
            raise ValidationFailed.for_field(
                "photo", WECHAT_DOWN if exc.retryable else self.media_expired
            ) from None
        token = self.put(getattr(response, "content", b""))
        self.redis.set(seen, token, ex=self.ttl)
        return token

    def put_posted(self, form: MultiDict, files: MultiDict, nothing: str) -> str:
        """Stage the one photo a page posted: a file (`photo`) or WeChat media (`media_id`,
        the serverId of wx.uploadImage). Raises ValidationFailed (`nothing` when neither)."""
        upload = files.get("photo")
        if upload is not None:
            return self.put(upload.read())
        if form.get("media_id"):
            return self.put_media(form["media_id"])
        raise ValidationFailed.for_field("photo", nothing)

    def thumb_response(self, token: str) -> Response:
        """The preview as a private, cacheable JPEG. Raises NotFound once it has expired."""
        thumb = self.thumb(token)
        if thumb is None:
            raise NotFound("照片已过期，请重新拍摄。")
        response = Response(thumb, mimetype="image/jpeg")
        response.cache_control.private = True
        response.cache_control.max_age = 3600
        return response

    def thumb(self, token: str) -> bytes | None:
        """The preview of a staged photo; None when expired or not a token."""
        return self.redis.hget(self._key(token), "thumb") if _TOKEN_RE.match(token) else None

    def photo(self, token: str) -> bytes | None:
        """The staged bytes (cleaned for a check form); None when expired or not a token."""
        if not _TOKEN_RE.match(token):
            return None
        # "raw" is what the hazard pages' store called the field before 2026-12-04: read it
        # too so photos staged across that deploy still arrive (it can go a day later).
        photo, raw = self.redis.hmget(self._key(token), "photo", "raw")
        return photo if photo is not None else raw

    def alive(self, tokens: Iterable[str]) -> list[str]:
        """The tokens still staged, in order, without repeats."""
        return [t for t in dict.fromkeys(tokens) if _TOKEN_RE.match(t) and self.redis.exists(self._key(t))]

    def discard(self, tokens: Iterable[str]) -> None:
        """Forget staged photos (once the form that used them is committed)."""
        keys = [self._key(t) for t in tokens if _TOKEN_RE.match(t)]
        if keys:
            self.redis.delete(*keys)


def form_photos(form: MultiDict, files: MultiDict, stage: StagedPhotos | None) -> tuple[list[bytes], list[str]]:
    """The photos of a form: staged tokens (`staged`) and posted files (`photo`), as bytes,
    with the staged tokens used. Raises ValidationFailed for an expired token or too many."""
    tokens = [t for t in form.getlist("staged") if t]
    photos: list[bytes] = []
    if tokens:
        if stage is None:
            raise ValidationFailed.for_field("photo", STAGE_EXPIRED)
        for token in dict.fromkeys(tokens):
            data = stage.photo(token)
            if data is None:
                raise ValidationFailed.for_field("photo", STAGE_EXPIRED)
            photos.append(data)
    for upload in files.getlist("photo"):
        data = upload.read()
        if data or upload.filename:
            photos.append(data)
    if len(photos) > MAX_PHOTOS_PER_FORM:
        raise ValidationFailed.for_field("photo", TOO_MANY_PHOTOS)
    return photos, list(dict.fromkeys(tokens))


def media_page_key(media_id: str) -> str:
    """The 随手拍 page key of a chat photo's link: derived from its media id, so reopening the
    link gives the same key (one report per photo sent), and shaped like a page key."""
    digest = hashlib.sha256(b"ancha-report-media:" + media_id.strip().encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")[:32]


@dataclass
class ReportClaim:
    """The idempotency key of one 随手拍 submission (per user, in Redis): held while the
    submission is being stored, then remembering the hazard it created, so a repeat — a
    double tap, a retry after a lost answer, a reload — returns that hazard."""

    name: str
    mark: bytes = b""

    @classmethod
    def of(cls, user_id: int, key: str) -> ReportClaim:
        """The claim of `user_id`'s submission `key`. Raises ValidationFailed for a key the
        page could not have made (the page has expired)."""
        if not _TOKEN_RE.match(key or ""):
            raise ValidationFailed.for_field("idempotency_key", "页面已过期，请刷新后重新提交")
        return cls(f"ancha:h5:report:{user_id}:{key}", _PENDING + secrets.token_hex(8).encode())

    def claim(self, wait_seconds: float = 2.0) -> int | None:
        """None: this request now holds the key. An int: the hazard an earlier submission
        with this key created. Raises Conflict when another submission with the key is
        still being stored after `wait_seconds`."""
        redis = redis_client()
        deadline = time.monotonic() + wait_seconds
        while True:
            if redis.set(self.name, self.mark, nx=True, ex=REPORT_CLAIM_SECONDS):
                return None
            value = redis.get(self.name)
            if value is not None and not value.startswith(_PENDING):
                return int(value)
            if time.monotonic() >= deadline:
                raise Conflict(REPORT_BUSY)
            time.sleep(0.2)

    def done(self, hazard_id: int) -> None:
        """Remember the hazard this submission created (for REPORT_KEY_TTL_SECONDS)."""
        redis_client().set(self.name, str(hazard_id), ex=REPORT_KEY_TTL_SECONDS)

    def release(self) -> None:
        """Let the key be used again after a refused submission (only if still ours: a
        claim that outlived REPORT_CLAIM_SECONDS may belong to another request by now)."""
        redis = redis_client()
        if redis.get(self.name) == self.mark:
            redis.delete(self.name)
