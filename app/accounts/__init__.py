"""Users, roles, WeChat openid binding, console login, API tokens and access scopes."""
