"""Notifications: the outbox every side effect leaves through, and (later) its dispatcher."""
