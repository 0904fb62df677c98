"""HTTP Basic credentials: parsing, the service-key shape, and people's passwords verified and remembered.

Desktop GIS (QGIS 3.22) cannot send a bearer token; its built-in auth methods send HTTP Basic on every
request. A person's Basic password is checked exactly as a sign-in (:func:`app.auth.sessions.settle_basic`:
lock-out, audit), Argon2 running with no pooled connection held. QGIS then asks for hundreds of tiles a
minute with the same header, and an Argon2 check per tile would cost 27 ms of CPU each, so a verified
header is remembered for a short time (``basic_cache_seconds``, 5 minutes by default):

- keyed by an HMAC-SHA256 of the whole header under a random per-process key (fast; the cache never
  holds the password, and its keys cannot be tested offline against guesses without that key);
- holding the account id and the password hash the password matched. Every request still reads the
  account's row (one indexed read, as a bearer token's session lookup) and is accepted only while the
  account still has that hash, is not disabled and not locked: a password change or reset, a disable or a
  lock-out refuses the next request at once, in every worker process, with no signal between them;
- bounded (least recently used entries go first) and forgotten when a request answers 401 or 423;
- identical headers arriving together (a map screen's first tiles) share one check: one Argon2, one
  audit row, and one counted failure for one wrong guess sent many times at once.

A successful check is audited as ``auth.login`` (``method: basic``) once per remembered period, not per
request. Service keys are never remembered: they are looked up by their SHA-256 on each request (see
:func:`app.auth.deps.authenticate_key`), so a revoked key fails on its next request.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import re
import secrets
import time
from collections import OrderedDict
from datetime import UTC, datetime, timedelta

from fastapi import Request

from app.auth.deps import PresentedKey, VerifiedPassword, client_ip
from app.auth.sessions import checked_and_settled, settle_basic
from app.errors import Unauthenticated

# An API key: "dgk_" and 32 random bytes in URL-safe base64 (256 bits; see app.auth.service_accounts).
KEY_PATTERN = re.compile(r"^dgk_[A-Za-z0-9_-]{43}$")
MAX_USERNAME = 64
MAX_PASSWORD = 256
CACHE_ENTRIES = 4096


def parse_basic(header: str) -> tuple[str, str]:
    """The (username, password) of an ``Authorization: Basic`` header (RFC 7617, UTF-8); 401 if malformed."""
    try:
        decoded = base64.b64decode(header.split(" ", 1)[1].strip(), validate=True).decode("utf-8")
    except (IndexError, binascii.Error, UnicodeDecodeError):
        raise _malformed() from None
    username, colon, password = decoded.partition(":")
    if not colon or not username or len(username) > MAX_USERNAME or len(password) > MAX_PASSWORD:
        raise _malformed()
    if not username.isprintable():  # a NUL or control character is no one's name (and no database text)
        raise _malformed()
    return username, password


def _malformed() -> Unauthenticated:
    return Unauthenticated(
        "HTTP Basic 凭据格式错误。", "Malformed HTTP Basic credentials.", code="invalid_credentials"
    )


def presented_key(username: str, password: str) -> PresentedKey | None:
    """The service key in a Basic password, when it has the shape of one (else a person's password)."""
    if not KEY_PATTERN.match(password):
        return None
    return PresentedKey(username, hashlib.sha256(password.encode("ascii")).digest())


class CredentialCache:
    """Verified Basic passwords, remembered briefly (see the module's docstring). Used in the event loop."""

    def __init__(self, ttl_s: float, max_entries: int = CACHE_ENTRIES) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._secret = secrets.token_bytes(32)
        self._entries: OrderedDict[bytes, tuple[float, VerifiedPassword]] = OrderedDict()
        self._checking: dict[bytes, asyncio.Task[VerifiedPassword]] = {}

    def key_of(self, header: str) -> bytes:
        """The cache key of an Authorization header."""
        return hmac.new(self._secret, header.encode("utf-8"), hashlib.sha256).digest()

    def get(self, key: bytes) -> VerifiedPassword | None:
        """A remembered verification that has not expired."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= time.monotonic():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, key: bytes, verified: VerifiedPassword) -> None:
        """Remember a verification (when remembering is enabled)."""
        if self.ttl_s <= 0:
            return
        self._entries[key] = (time.monotonic() + self.ttl_s, verified)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def forget(self, key: bytes) -> None:
        """Drop a remembered verification (its request was refused)."""
        self._entries.pop(key, None)

    async def verified(self, request: Request, key: bytes, username: str, password: str) -> VerifiedPassword:
        """The remembered verification, else one check shared by identical headers arriving together."""
        found = self.get(key)
        if found is not None:
            return found
        task = self._checking.get(key)
        if task is None:
            task = asyncio.ensure_future(self._check(request, key, username, password))
            self._checking[key] = task
            task.add_done_callback(lambda _: self._checking.pop(key, None))
        # Shielded: a client that goes away must not cancel the check other requests wait for.
        return await asyncio.shield(task)

    async def _check(self, request: Request, key: bytes, username: str, password: str) -> VerifiedPassword:
        settings = request.app.state.settings
        user_id, password_hash = await checked_and_settled(
            request,
            username,
            password,
            lambda conn, check: settle_basic(
                conn,
                settings,
                username,
                check,
                client_ip=client_ip(request),
                request_id=getattr(request.state, "request_id", None),
            ),
        )
        valid_until = datetime.now(UTC) + timedelta(seconds=self.ttl_s)
        verified = VerifiedPassword(user_id, password_hash, valid_until)
        self.put(key, verified)
        return verified
