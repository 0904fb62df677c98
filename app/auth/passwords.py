"""Argon2id password hashing, the password policy and one-time passwords."""

from __future__ import annotations

import secrets
import string

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.errors import Unprocessable

# Argon2id with the parameters OWASP's Password Storage Cheat Sheet recommends (19 MiB, 2 passes, 1 lane),
# written out rather than the library's default, which may change between releases. The default
# (RFC 9106's low-memory profile: 64 MiB, 3 passes, 4 lanes) cost 226 ms of CPU per check; on a 2-core
# server at 100 users that made sign-in p95 778 ms (bench/load.py). These cost 27 ms. Hashes made with
# other parameters still verify and are re-hashed with these at the next sign-in.
ARGON2_TIME_COST = 2
ARGON2_MEMORY_KIB = 19 * 1024
ARGON2_LANES = 1
_hasher = PasswordHasher(time_cost=ARGON2_TIME_COST, memory_cost=ARGON2_MEMORY_KIB, parallelism=ARGON2_LANES)
# Verified against when a username is unknown, so timing does not reveal which usernames exist.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))

# Argon2 checks running at once per process: each takes a core for its time; more at once only slows
# every other request down (sign-ins wait in the event loop instead, bounded like connections).
PASSWORD_CHECKS_AT_ONCE = 2

MIN_LENGTH = 10
MAX_LENGTH = 256


def hash_password(password: str) -> str:
    """Hash a password with Argon2id."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Check a password in constant work whether or not the user exists."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the stored hash uses outdated parameters."""
    return _hasher.check_needs_rehash(password_hash)


def check_policy(password: str, username: str) -> None:
    """Refuse weak passwords with a clear message."""
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise Unprocessable(
            f"密码长度须为 {MIN_LENGTH}–{MAX_LENGTH} 个字符。",
            f"A password must have {MIN_LENGTH} to {MAX_LENGTH} characters.",
        )
    classes = sum(
        any(c in group for c in password)
        for group in (string.ascii_lowercase, string.ascii_uppercase, string.digits)
    ) + any(not c.isalnum() for c in password)
    if classes < 2:
        raise Unprocessable(
            "密码须包含字母、数字或符号中的至少两类。",
            "A password must mix at least two of letters, digits and symbols.",
        )
    if username.lower() in password.lower():
        raise Unprocessable("密码不能包含用户名。", "A password must not contain the username.")


def one_time_password() -> str:
    """A random initial password, shown once and changed at first login."""
    alphabet = string.ascii_letters + string.digits
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(16))
        if any(c.isdigit() for c in candidate) and any(c.isalpha() for c in candidate):
            return candidate
