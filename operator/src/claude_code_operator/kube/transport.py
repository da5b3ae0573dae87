"""lightkube's HTTP client (httpx2) carrying its requests over aiohttp.

lightkube keeps the API's semantics (resources, errors, auth flows); aiohttp, already here for kopf,
moves the bytes: against the local API server it costs about a third of the CPU per request of httpx2's
own transport (0.6 against 1.5 ms per apply), and a burst of new resources is a burst of requests.
Responses are read whole, so a watch cannot go through here (the operator's watches are kopf's).
"""

from __future__ import annotations

import ssl

import aiohttp
import httpx2

#: Response headers that describe the body as sent; aiohttp hands over the decoded body.
_AS_SENT = frozenset({b"content-encoding", b"content-length", b"transfer-encoding"})


class AiohttpTransport(httpx2.AsyncBaseTransport):
    def __init__(self, tls: ssl.SSLContext, connections: int) -> None:
        self._tls = tls
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        """Made on first use, inside the event loop that serves the requests."""
        if self._session is None:
            connector = aiohttp.TCPConnector(ssl=self._tls, limit=self._connections)
            self._session = aiohttp.ClientSession(
                connector=connector, cookie_jar=aiohttp.DummyCookieJar(), skip_auto_headers=("User-Agent",)
            )
        return self._session

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.url.params.get("watch") in ("true", "1"):
            raise NotImplementedError("watches are kopf's: this transport reads responses whole")
        timeout = request.extensions.get("timeout") or {}
        timeouts = aiohttp.ClientTimeout(total=None, sock_connect=timeout.get("connect"), sock_read=timeout.get("read"))
        try:
            async with self._open().request(
                request.method,
                str(request.url),
                headers=list(request.headers.multi_items()),
                data=await request.aread() or None,
                timeout=timeouts,
                allow_redirects=False,
            ) as response:
                body = await response.read()
                # Raw bytes: a header that is not ASCII (a webhook's Warning) must not fail the request.
                headers = [(k, v) for k, v in response.raw_headers if k.lower() not in _AS_SENT]
        except aiohttp.ConnectionTimeoutError as error:
            raise httpx2.ConnectTimeout(f"no connection in time: {error}", request=request) from error
        except TimeoutError as error:  # aiohttp's read time-outs are asyncio's, which are TimeoutError
            raise httpx2.ReadTimeout(f"no answer in time: {error}", request=request) from error
        except aiohttp.ClientConnectorError as error:
            raise httpx2.ConnectError(str(error), request=request) from error
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError) as error:
            raise httpx2.ReadError(f"{type(error).__name__}: {error}", request=request) from error
        except aiohttp.ClientError as error:
            raise httpx2.TransportError(f"{type(error).__name__}: {error}", request=request) from error
        return httpx2.Response(response.status, headers=headers, content=body, request=request)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
