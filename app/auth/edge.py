"""What requests to /api, /ogc and /tiles meet about credentials, before routing and on the way out.

On the way in, HTTP Basic credentials are resolved (:mod:`app.auth.basic`): a service key is passed on
to be looked up with the route's connection, a person's password is verified (or found remembered)
here, so that no route ever holds a pooled connection while Argon2 runs.

On the way out:

- a 401 advertises ``Basic realm="Duogui"`` where Basic helps: when the request came with Basic, or on
  /ogc and /tiles when it came with no bearer token and not from a page's script (``Sec-Fetch-Mode``
  absent, as from QGIS and GDAL, or ``navigate``, a person opening /ogc in a browser). The browser app's
  own requests send ``Sec-Fetch-Mode: cors``, so an expired session never pops a browser password dialog;
- a response built from a restricted layer (``RESTRICTED_LAYERS`` in the request state, set where the
  catalog entry is resolved) is sent ``Cache-Control: no-store`` without an ETag: QGIS's disk cache
  ignores ``Vary: Authorization`` and would hand such a tile to a later session without credentials;
- a service account's answered request is counted with its response bytes (:mod:`app.auth.usage`).
"""

from __future__ import annotations

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.auth.basic import CredentialCache, parse_basic, presented_key
from app.auth.deps import BASIC_CREDENTIALS, LAYERS_READ_BY_SERVICE, RESTRICTED_LAYERS, SERVICE_ACCOUNT_ID
from app.auth.usage import UsageCounter
from app.errors import DuoguiError, handled_response

GUARDED = ("/api", "/ogc", "/tiles")
CHALLENGED = ("/ogc", "/tiles")
BASIC_CHALLENGE = b'Basic realm="Duogui", charset="UTF-8"'
_DROPPED_ON_NO_STORE = {b"cache-control", b"etag"}


def _under(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(path == p or path.startswith(p + "/") for p in prefixes)


class CredentialEdge:
    """ASGI middleware: HTTP Basic in, challenges, ``no-store`` and usage counts out (see the module)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Resolve Basic credentials, then run the request with the outgoing rules."""
        if scope["type"] != "http" or not _under(scope["path"], GUARDED):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        header = request.headers.get("authorization", "")
        scheme = header.split(" ", 1)[0].lower()
        cache: CredentialCache = request.app.state.basic_cache
        cache_key = cache.key_of(header) if scheme == "basic" else None
        outgoing = _Outgoing(request, send, scheme, cache, cache_key)
        if cache_key is not None:
            try:
                username, password = parse_basic(header)
                key = presented_key(username, password)
                setattr(
                    request.state,
                    BASIC_CREDENTIALS,
                    key or await cache.verified(request, cache_key, username, password),
                )
            except DuoguiError as exc:
                response = await handled_response(request, exc)
                await response(scope, receive, outgoing.send)
                return
        await self.app(scope, receive, outgoing.send)


class _Outgoing:
    """The response side of one request: headers rewritten at the start, bytes counted to the end."""

    def __init__(
        self, request: Request, send: Send, scheme: str, cache: CredentialCache, cache_key: bytes | None
    ) -> None:
        self.request, self._send, self.scheme = request, send, scheme
        self.cache, self.cache_key = cache, cache_key
        self.body_bytes = 0

    async def send(self, message: Message) -> None:
        """Pass ``message`` on, applying the rules of the module."""
        if message["type"] == "http.response.start":
            message["headers"] = self._headers(message["status"], list(message.get("headers", [])))
        elif message["type"] == "http.response.body":
            self.body_bytes += len(message.get("body", b""))
            if not message.get("more_body", False):
                self._count()
        await self._send(message)

    def _headers(self, status: int, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        state = self.request.state
        if status in (401, 423) and self.cache_key is not None:
            self.cache.forget(self.cache_key)
        if status == 401 and self._challenge_basic():
            headers.append((b"www-authenticate", BASIC_CHALLENGE))
        if getattr(state, RESTRICTED_LAYERS, False):
            headers = [(n, v) for n, v in headers if n.lower() not in _DROPPED_ON_NO_STORE]
            headers.append((b"cache-control", b"no-store"))
        return headers

    def _challenge_basic(self) -> bool:
        if self.scheme == "basic":
            return True
        if self.scheme == "bearer" or not _under(self.request.url.path, CHALLENGED):
            return False
        return self.request.headers.get("sec-fetch-mode", "navigate") == "navigate"

    def _count(self) -> None:
        account_id = getattr(self.request.state, SERVICE_ACCOUNT_ID, None)
        if account_id is None:
            return
        layers = getattr(self.request.state, LAYERS_READ_BY_SERVICE, ())
        usage: UsageCounter = self.request.app.state.usage
        usage.add(account_id, sorted(layers), self.body_bytes)
