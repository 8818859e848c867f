"""REST API v1 (bearer tokens) and its generated OpenAPI document."""
