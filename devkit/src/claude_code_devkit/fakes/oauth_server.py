"""A fake of Anthropic's OAuth token endpoint, reached the way the real CLI reaches it: through HTTPS_PROXY.

The CLI refreshes its login at a fixed address (``https://platform.claude.com/v1/oauth/token``; its
``CLAUDE_CODE_CUSTOM_OAUTH_URL`` accepts approved endpoints only) but honours ``HTTPS_PROXY``. This is
that proxy, on 127.0.0.1: it answers ``CONNECT`` for the token host only (everything else gets 403,
so nothing leaves the machine), terminates TLS with a certificate from a throw-away CA (give the CLI
``NODE_EXTRA_CA_CERTS=<ca_file>``), and serves the token endpoint like the real one does: refresh
tokens are single-use and rotate, a reused or unknown one gets 400 ``invalid_grant``.

    with FakeOAuthServer(tmp_path) as oauth:
        login = oauth.issue()             # a login to put in a .credentials.json
        env = {"HTTPS_PROXY": oauth.proxy_url, "NODE_EXTRA_CA_CERTS": str(oauth.ca_file)}
        ...
        oauth.refreshes                   # every refresh, in order: (refresh token sent, accepted?)
"""

from __future__ import annotations

import asyncio
import json
import secrets
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trustme

TOKEN_HOST = "platform.claude.com"
TOKEN_PATH = "/v1/oauth/token"
ACCESS_SECONDS = 8 * 3600


@dataclass(frozen=True)
class Refresh:
    refresh_token: str
    accepted: bool
    at: float


@dataclass(frozen=True)
class IssuedLogin:
    access_token: str
    refresh_token: str
    expires_at_ms: int

    def credentials(self, *, expires_at_ms: int | None = None) -> dict[str, Any]:
        """A ``.credentials.json`` holding this login (optionally claiming another expiry)."""
        return {
            "claudeAiOauth": {
                "accessToken": self.access_token,
                "refreshToken": self.refresh_token,
                "expiresAt": self.expires_at_ms if expires_at_ms is None else expires_at_ms,
                "scopes": ["user:inference", "user:profile"],
                "subscriptionType": "max",
            }
        }


class FakeOAuthServer:
    def __init__(self, workdir: Path, access_seconds: int = ACCESS_SECONDS) -> None:
        self.access_seconds = access_seconds
        self._ca = trustme.CA()
        self.ca_file = workdir / "fake-oauth-ca.pem"
        self._ca.cert_pem.write_to_path(str(self.ca_file))
        self._tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._ca.issue_cert(TOKEN_HOST).configure_cert(self._tls)
        self._lock = threading.Lock()
        self._valid: set[str] = set()
        self.refreshes: list[Refresh] = []
        self.refused_connects: list[str] = []
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    @property
    def proxy_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def issue(self, expires_in: float | None = None) -> IssuedLogin:
        """A new login whose refresh token this server accepts once."""
        seconds = self.access_seconds if expires_in is None else expires_in
        login = IssuedLogin(
            access_token="sk-ant-oat01-" + secrets.token_urlsafe(24),
            refresh_token="sk-ant-ort01-" + secrets.token_urlsafe(24),
            expires_at_ms=int((time.time() + seconds) * 1000),
        )
        with self._lock:
            self._valid.add(login.refresh_token)
        return login

    def usable(self, refresh_token: str) -> bool:
        """The refresh token was issued here and not spent yet: it is the login's live one."""
        with self._lock:
            return refresh_token in self._valid

    def accepted(self) -> list[Refresh]:
        with self._lock:
            return [r for r in self.refreshes if r.accepted]

    # ------------------------------------------------------------ serving

    def __enter__(self) -> FakeOAuthServer:
        self._thread = threading.Thread(target=self._run, name="fake-oauth", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the fake OAuth server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._server is not None:
            self._loop.call_soon_threadsafe(self._server.close)
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._server = loop.run_until_complete(asyncio.start_server(self._client, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(30):
                request_line, _ = await _head(reader)
                method, target, *_ = request_line.split()
                if method != "CONNECT" or target != f"{TOKEN_HOST}:443":
                    with self._lock:
                        self.refused_connects.append(target)
                    writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                    await writer.drain()
                    return
                writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                await writer.drain()
                await writer.start_tls(self._tls)
                await self._serve_tls(reader, writer)
        except (OSError, ValueError, TimeoutError, ssl.SSLError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _serve_tls(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request_line, headers = await _head(reader)
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        method, path, *_ = request_line.split()
        if (method, path.split("?")[0]) != ("POST", TOKEN_PATH):
            _respond(writer, 404, {"error": "not_found"})
            return
        try:
            sent = json.loads(body).get("refresh_token")
        except (ValueError, AttributeError):
            sent = None
        with self._lock:
            accepted = isinstance(sent, str) and sent in self._valid
            if accepted:
                self._valid.discard(sent)  # single-use
            self.refreshes.append(Refresh(str(sent), accepted, time.time()))
        if not accepted:
            _respond(writer, 400, {"error": "invalid_grant", "error_description": "Refresh token not found or invalid"})
            return
        login = self.issue()
        _respond(
            writer,
            200,
            {
                "token_type": "Bearer",
                "access_token": login.access_token,
                "refresh_token": login.refresh_token,
                "expires_in": self.access_seconds,
                "scope": "user:inference user:profile",
            },
        )
        await writer.drain()


async def _head(reader: asyncio.StreamReader) -> tuple[str, dict[str, str]]:
    raw = await reader.readuntil(b"\r\n\r\n")
    lines = raw.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return lines[0], headers


def _respond(writer: asyncio.StreamWriter, status: int, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}[status]
    writer.write(
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        f"Connection: close\r\n\r\n".encode()
        + body
    )


@contextmanager
def fake_oauth(workdir: Path) -> Iterator[FakeOAuthServer]:
    with FakeOAuthServer(workdir) as server:
        yield server
