"""Escalation: who is told when a check or a hazard is late, how far up the ladder, and the
daily digest that folds a user's notices into one message."""
