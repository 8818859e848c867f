"""The demo district seeded by `flask --app app demo seed` (and `make run` on first start)."""
