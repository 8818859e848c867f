"""Confined-space jobs (有限空间作业) and their work-condition confirmation."""
