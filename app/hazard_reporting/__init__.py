"""Hazard reporting: checklists, scheduled checks, hazards and their governance (隐患排查治理)."""
