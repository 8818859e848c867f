"""Enforcement inspections (执法检查) with the five 见."""
