"""The local WeChat sandbox (only while WECHAT_SANDBOX is on): a fake WeChat API with its
state in Redis (`api`, `store`), the fake OAuth authorize page (`authorize`) and the
in-process transport the client uses to reach it (`transport`)."""
