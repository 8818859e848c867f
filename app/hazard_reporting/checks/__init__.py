"""Scheduled checks: standard and enterprise checklists, check schedules and tasks, risk-point rounds, confined-space jobs."""
