"""Safety tips (安全提示): the seasonal and confined-space library, the bureau's broadcasts,
their fan-out into the outbox, and what each recipient read and acknowledged."""
