"""The callback's durable spool: a verified delivery that met a store outage is written here
before it is acknowledged, and replayed (replay.py) once PostgreSQL and Redis are back.

One file per delivery, written to a temporary name, fsynced, renamed into place and the
directory fsynced: once `put` returns the delivery survives a crash of the process or the
host. File names sort by arrival. A delivery that cannot be replayed (a replayed nonce, a
body that no longer parses) is moved to `rejected/` with the reason, never silently dropped.
The files hold the decrypted message (the user's text, openid): mode 0600, on the web
host's own disk (docs/SECURITY.md)."""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from app.wechat.parsing import Inbound

SUFFIX = ".json"

# The deliveries that expect an answer the user sees; for the others (location reports,
# unsubscribes, silent menu views) the busy text would only be noise.
_SILENT_EVENTS = frozenset(
    {"unsubscribe", "location", "view", "pic_sysphoto", "pic_photo_or_album", "pic_weixin", "location_select",
     "templatesendjobfinish", "masssendjobfinish"}
)


def tells_user(inbound: Inbound) -> bool:
    """Whether the user waits for an answer to this delivery (a busy notice, a later result)."""
    return inbound.msg_type != "event" or (inbound.event or "") not in _SILENT_EVENTS


@dataclass(frozen=True)
class Spooled:
    """One spooled delivery: when it arrived, its signed (timestamp, nonce), its raw body
    (for the replay check of the nonce) and the plaintext message."""

    path: Path
    received_at: datetime
    timestamp: str
    nonce: str
    raw: bytes
    text: str


class Spool:
    def __init__(self, directory: str | Path):
        self.directory = Path(directory)

    def put(self, *, received_at: datetime, timestamp: str, nonce: str, raw: bytes, text: str) -> Path:
        """Store one delivery durably; raises OSError when it could not be stored."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        stamp = received_at.astimezone(UTC).strftime("%Y%m%dT%H%M%S%f")
        name = f"{stamp}-{secrets.token_hex(6)}{SUFFIX}"
        record = {
            "received_at": received_at.astimezone(UTC).isoformat(),
            "timestamp": timestamp,
            "nonce": nonce,
            "raw": base64.b64encode(raw).decode("ascii"),
            "text": text,
        }
        final = self.directory / name
        temporary = self.directory / f".{name}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(record, handle, ensure_ascii=False)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, final)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        _fsync_directory(self.directory)
        return final

    def pending(self) -> list[Path]:
        """The spooled deliveries, oldest first."""
        if not self.directory.is_dir():
            return []
        return sorted(p for p in self.directory.iterdir() if p.is_file() and p.name.endswith(SUFFIX)
                      and not p.name.startswith("."))

    def load(self, path: Path) -> Spooled:
        """Read one spooled delivery; raises ValueError for a file that is not one."""
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            return Spooled(
                path=path,
                received_at=datetime.fromisoformat(record["received_at"]),
                timestamp=str(record["timestamp"]),
                nonce=str(record["nonce"]),
                raw=base64.b64decode(record["raw"]),
                text=str(record["text"]),
            )
        except (OSError, KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"unreadable spool file {path.name}: {exc}") from exc

    def done(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        _fsync_directory(self.directory)

    def reject(self, path: Path, reason: str) -> Path:
        """Move a delivery that must not be replayed aside, with the reason beside it."""
        rejected = self.directory / "rejected"
        rejected.mkdir(exist_ok=True, mode=0o700)
        target = rejected / path.name
        os.replace(path, target)
        (rejected / f"{path.name}.reason").write_text(reason + "\n", encoding="utf-8")
        _fsync_directory(self.directory)
        return target


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
