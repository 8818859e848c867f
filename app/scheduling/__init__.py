"""Scheduled jobs: declared as data (jobs.py), run by one active scheduler per deployment
behind a Redis leader lease (lease.py, runner.py)."""
