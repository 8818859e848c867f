"""The WeChat Official Account gateway: callback, identity, API client, QR codes, menu,
and the local sandbox (fake WeChat API + simulator)."""
