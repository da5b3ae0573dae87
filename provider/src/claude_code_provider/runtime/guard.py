"""Who may use the completion API: a caller with the pod's runtime token, addressing a loopback name.

Checked before anything else, so a refused request never starts a CLI. The Host check stops DNS
rebinding (a web page whose name resolves to 127.0.0.1 sends its own name); the token stops every other
process that can reach loopback.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import ErrorKind
from ..protocol import ErrorEvent
from ..runtime_token import AUTHORIZATION, TOKEN_FILE_VARIABLE, TOKEN_VARIABLE

log = logging.getLogger(__name__)


def is_loopback_host(host: str | None) -> bool:
    """Whether a Host header names this machine's loopback: ``localhost``, 127.0.0.0/8 or ``[::1]``,
    with or without a port."""
    if not host:
        return False
    name = host.strip().lower()
    if name.startswith("["):
        name = name[1 : name.find("]")] if "]" in name else ""
    elif name.count(":") == 1:
        name = name.split(":", 1)[0]
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def bearer_token(authorization: str | None) -> str | None:
    scheme, _, credentials = (authorization or "").partition(" ")
    return credentials.strip() or None if scheme.lower() == "bearer" else None


def _refusal(status: int, message: str) -> JSONResponse:
    log.warning("Completion request refused", extra={"status": status, "reason": "host" if status == 421 else "token"})
    body = ErrorEvent(kind=ErrorKind.RUNTIME_REFUSED, message=message).model_dump(mode="json")
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


class LoopbackGuard:
    """ASGI middleware: 421 for a Host that is not a loopback name, 401 without the right bearer token."""

    def __init__(self, app: ASGIApp, *, token: str) -> None:
        self._app = app
        self._token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if not is_loopback_host(headers.get("host")):
            refusal = _refusal(421, "The completion API answers only to a loopback Host (localhost, 127.0.0.1, [::1]).")
        else:
            sent = bearer_token(headers.get(AUTHORIZATION))
            if sent is not None and hmac.compare_digest(sent.encode(), self._token):
                await self._app(scope, receive, send)
                return
            refusal = _refusal(
                401,
                "The runtime refused the request: missing or wrong runtime token. Give the LiteLLM container "
                f"the runtime's {TOKEN_VARIABLE} (or the same {TOKEN_FILE_VARIABLE}).",
            )
        await refusal(scope, receive, send)
