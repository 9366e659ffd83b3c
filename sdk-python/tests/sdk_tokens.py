"""API tokens of the SDK suite's authenticating gateway (see the `auth_gateway` fixture)."""

ADMIN_TOKEN = "admin-token-7d2e91"
ANALYST_TOKEN = "analyst-token-4b8c03"
