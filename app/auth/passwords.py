"""Argon2id password hashing, the password policy and one-time passwords."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass

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

MAX_LENGTH = 256
ONE_TIME_LENGTH = 16
# The four character classes a password's complexity counts (符号: anything not a letter or digit).
CLASS_NAMES = (
    ("小写字母", "lower-case letters"),
    ("大写字母", "upper-case letters"),
    ("数字", "digits"),
    ("符号", "symbols"),
)
# Symbols of one-time passwords: none that is awkward to read aloud or to type in a form.
_OTP_SYMBOLS = "-_.@#%+="


@dataclass(frozen=True, slots=True)
class PasswordRules:
    """The complexity part of the identification policy (the defaults are the shipped policy's)."""

    min_length: int = 12
    min_classes: int = 3


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


def character_classes(password: str) -> int:
    """How many of the four classes (lower, upper, digit, symbol) the password uses."""
    return sum(
        any(c in group for c in password)
        for group in (string.ascii_lowercase, string.ascii_uppercase, string.digits)
    ) + any(not c.isalnum() for c in password)


def check_policy(password: str, username: str, rules: PasswordRules | None = None) -> None:
    """Refuse a password the policy's length and character classes do not allow, with a clear message."""
    rules = rules or PasswordRules()
    if not rules.min_length <= len(password) <= MAX_LENGTH:
        raise Unprocessable(
            f"密码长度须为 {rules.min_length}–{MAX_LENGTH} 个字符。",
            f"A password must have {rules.min_length} to {MAX_LENGTH} characters.",
            code="password_too_short",
        )
    if character_classes(password) < rules.min_classes:
        zh = "、".join(name for name, _ in CLASS_NAMES)
        en = ", ".join(name for _, name in CLASS_NAMES)
        raise Unprocessable(
            f"密码须包含{zh}中的至少 {rules.min_classes} 类。",
            f"A password must mix at least {rules.min_classes} of: {en}.",
            code="password_too_simple",
        )
    if username.lower() in password.lower():
        raise Unprocessable(
            "密码不能包含用户名。", "A password must not contain the username.", code="password_has_username"
        )


def one_time_password(length: int = ONE_TIME_LENGTH) -> str:
    """A random initial password, shown once and changed at first login; it has all four classes."""
    alphabet = string.ascii_letters + string.digits + _OTP_SYMBOLS
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(length))
        if character_classes(candidate) == 4 and candidate[0].isalnum() and candidate[-1].isalnum():
            return candidate
