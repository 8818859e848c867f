"""User tags and mass messages (群发) on the WeChat API, as the wire has them
(docs/WECHAT.md §2.7, §2.8):

- `POST cgi-bin/tags/create {"tag": {"name"}}` → `{"tag": {"id", "name"}}`; names ≤ 30 bytes
  (45158), unique (45157), ≤ 100 tags (45056).
- `GET cgi-bin/tags/get` → `{"tags": [{"id", "name", "count"}]}`.
- `POST cgi-bin/tags/members/batchtagging|batchuntagging {"openid_list": [...], "tagid"}`:
  at most 50 openids per call (40032 beyond), so the lists are cut into chunks of 50.
- `POST cgi-bin/message/mass/sendall {"filter": {"is_to_all": false, "tag_id"}, "msgtype":
  "text", "text": {"content"}, "send_ignore_reprint": 0, "clientmsgid"}` → `{"msg_id",
  "msg_data_id"}`; the result comes later as the MASSSENDJOBFINISH event.

Plain functions over the shared `WeChatAPIClient` (its token handling, retries and typed
errors); wechatpy 1.8.18's own mass send posts the obsolete `group_id`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

BATCH_TAGGING_LIMIT = 50  # openids per batchtagging / batchuntagging call


def openid_chunks(openids: Sequence[str], size: int = BATCH_TAGGING_LIMIT) -> Iterator[list[str]]:
    """`openids` in lists of at most `size` (WeChat's limit per tagging call)."""
    if size < 1 or size > BATCH_TAGGING_LIMIT:
        raise ValueError(f"chunk size must be 1–{BATCH_TAGGING_LIMIT}")
    for start in range(0, len(openids), size):
        yield list(openids[start : start + size])


def create_tag(client: Any, name: str) -> int:
    """Create a tag; its id. Raises WeChatAPIError (45157 duplicate name, 45158, 45056)."""
    result = client.post("tags/create", data={"tag": {"name": name}})
    return int(result["tag"]["id"])


def list_tags(client: Any) -> dict[str, int]:
    """Every tag of the account, name → id."""
    result = client.get("tags/get")
    return {str(tag["name"]): int(tag["id"]) for tag in result.get("tags") or ()}


def ensure_tag(client: Any, name: str) -> int:
    """The id of the tag called `name`, created when the account has none."""
    existing = list_tags(client).get(name)
    return existing if existing is not None else create_tag(client, name)


def tag_openids(client: Any, tag_id: int, openids: Sequence[str], *, add: bool = True) -> int:
    """Put (or take off) `tag_id` on every openid, 50 per call. Returns the number of calls."""
    path = "tags/members/batchtagging" if add else "tags/members/batchuntagging"
    calls = 0
    for chunk in openid_chunks(openids):
        client.post(path, data={"openid_list": chunk, "tagid": tag_id})
        calls += 1
    return calls


@dataclass(frozen=True)
class MassJob:
    msg_id: int
    msg_data_id: int | None


def send_text_to_tag(client: Any, tag_id: int, content: str, client_msg_id: str) -> MassJob:
    """Mass-send a text message to every follower carrying `tag_id`. Raises WeChatAPIError
    (45065 when `client_msg_id` was used in the last 24 hours: already sent)."""
    result = client.post(
        "message/mass/sendall",
        data={
            "filter": {"is_to_all": False, "tag_id": tag_id},
            "msgtype": "text",
            "text": {"content": content},
            "send_ignore_reprint": 0,
            "clientmsgid": client_msg_id,
        },
    )
    data_id = result.get("msg_data_id")
    return MassJob(int(result["msg_id"]), int(data_id) if data_id is not None else None)


# --- MASSSENDJOBFINISH reports, kept for the job that records them ------------------------

MASS_REPORT_TTL_SECONDS = 7 * 24 * 3600
_MASS_REPORT = "wechat:mass_job:"
MASS_REPORT_FIELDS = ("MsgID", "Status", "TotalCount", "FilterCount", "SentCount", "ErrorCount")


def remember_mass_report(redis: Any, fields: dict[str, Any]) -> None:
    """Keep a MASSSENDJOBFINISH's fields by MsgID: a report that arrives before the send job
    recorded the msg_id (WeChat can be quick; the job commits after the call) is picked up
    by the job's next run instead of being lost."""
    msg_id = str(fields.get("MsgID", "")).strip()
    if msg_id:
        kept = {name: str(fields.get(name, "")) for name in MASS_REPORT_FIELDS}
        redis.set(_MASS_REPORT + msg_id, json.dumps(kept), ex=MASS_REPORT_TTL_SECONDS)


def mass_report(redis: Any, msg_id: int | str) -> dict[str, str] | None:
    """The kept MASSSENDJOBFINISH fields of `msg_id`, if one arrived."""
    raw = redis.get(_MASS_REPORT + str(msg_id))
    return json.loads(raw) if raw else None
