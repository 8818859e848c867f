"""一企一档: enterprises, towns, departments, teams, posts (risk cards) and sites (QR points)."""
