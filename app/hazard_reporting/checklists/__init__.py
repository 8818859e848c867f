"""Checklists (隐患排查标准清单): the standard templates loaded from data, and each enterprise's
copy-on-write list built on the templates that apply to it."""
