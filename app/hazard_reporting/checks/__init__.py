"""Scheduled checks (班组日 / 部门周 / 经理月排查): periods, check tasks and their lifecycle, and
their submissions at a scanned point (扫码排查)."""
