"""Bulletins (通报): monthly praise and warnings by rule, and supervision-visit bulletins."""
