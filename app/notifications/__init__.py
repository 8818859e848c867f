"""Notifications: the outbox every side effect leaves through, its dispatcher, message kinds,
daily digests and (tips/) the bureau's safety-tip broadcasts."""
