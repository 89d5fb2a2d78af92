"""The unified identity authentication service (统一身份认证): adapter and sandbox."""
