"""The account's inbound application: the callback endpoint WeChat posts to, the router that
picks a handler by message and event type, the handlers (scan, follow, bind, menu, text,
location) and the cached lookups they use."""
