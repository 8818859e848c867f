"""Pure rules of the outbox: the life of one message."""

from __future__ import annotations

from enum import StrEnum


class OutboxStatus(StrEnum):
    """Where a message stands. queued → sent → delivered; failed is retried until dead."""

    QUEUED = "queued"  # waiting for its first attempt
    SENT = "sent"  # WeChat accepted it (errcode 0)
    DELIVERED = "delivered"  # WeChat's delivery report said the user received it
    FAILED = "failed"  # the last attempt failed; retried at next_attempt_at
    DEAD = "dead"  # given up: permanent error or too many attempts


# The statuses a dispatcher still has to work on.
DUE_STATUSES = (OutboxStatus.QUEUED, OutboxStatus.FAILED)

MAX_DEDUPE_KEY_LENGTH = 200
