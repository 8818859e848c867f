"""Check schedules: the routine checks of every enterprise, the rounds of its major risk
points, their configuration, and the generation of the check tasks they owe."""
