"""The bearer token of the outside front doors over HTTP (`draftloop mcp --http` and the JSON API on
`draftloop serve`): DRAFTLOOP_MCP_TOKEN, compared in constant time; anything else gets 401 before its
body is read."""

from __future__ import annotations

import hmac
import json
from typing import Any

from bot.errors import ConfigError
from bot.settings import Settings

TOKEN_ENV = "DRAFTLOOP_MCP_TOKEN"
MIN_TOKEN_CHARS = 16
REFUSED = f"Not authorized: send the token of {TOKEN_ENV} as the header Authorization: Bearer <token>."


def token(settings: Settings, *, required: bool) -> str | None:
    """The token, checked; None when unset and not `required` (the JSON API then stays off)."""
    declared = getattr(settings, TOKEN_ENV.lower(), None)  # a Settings field once declared (masked with the rest)
    given = declared.get_secret_value() if declared is not None else settings.env(TOKEN_ENV)
    value = (given or "").strip()
    if not value:
        if required:
            raise ConfigError(
                f"set {TOKEN_ENV} to the bearer token HTTP clients must send "
                f"({MIN_TOKEN_CHARS} characters or more, e.g. from `openssl rand -hex 24`)"
            )
        return None
    if len(value) < MIN_TOKEN_CHARS:
        raise ConfigError(
            f"{TOKEN_ENV} has {len(value)} characters; use {MIN_TOKEN_CHARS} or more (e.g. `openssl rand -hex 24`)"
        )
    return value


def authorized(header: str | None, expected: str) -> bool:
    scheme, _, given = (header or "").strip().partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected.encode())


class BearerGate:
    """ASGI middleware: HTTP requests without the token get 401 and never reach the app behind it."""

    def __init__(self, app: Any, expected: str) -> None:
        self.app = app
        self.expected = expected

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            header = next((v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"authorization"), None)
            if not authorized(header, self.expected):
                body = json.dumps({"error": REFUSED}).encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"www-authenticate", b'Bearer realm="draftloop"'),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
