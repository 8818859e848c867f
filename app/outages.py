"""What counts as a store outage: PostgreSQL or Redis unreachable, restarting or timing out —
as opposed to a bug or bad input. Work that met an outage may be retried later unchanged;
work that met anything else would fail again the same way."""

from __future__ import annotations

import redis.exceptions as redis_errors
import sqlalchemy.exc as sa_errors

_REDIS = (redis_errors.ConnectionError, redis_errors.TimeoutError, redis_errors.BusyLoadingError)
# OperationalError: connection refused / lost / server shutting down; InterfaceError: a
# closed connection; TimeoutError: no connection from the pool in time.
_DATABASE = (sa_errors.OperationalError, sa_errors.InterfaceError, sa_errors.TimeoutError)


def is_store_outage(exc: BaseException) -> bool:
    """True when `exc` (or an exception it was raised from) says a store could not be reached."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _REDIS + _DATABASE):
            return True
        if isinstance(current, sa_errors.DBAPIError) and current.connection_invalidated:
            return True
        current = current.__cause__ or current.__context__
    return False
