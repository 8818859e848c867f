"""The credit list (失信名单 / 黑名单): the bureau lists an enterprise on 重点关注 or 严重失信主体, with the 四个一律 flags, and delists it with a reason."""
