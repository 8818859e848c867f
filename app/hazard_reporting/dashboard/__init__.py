"""工作台: an enterprise's own dashboard (today's checks, on-time rates, hazards, unbound members)."""
