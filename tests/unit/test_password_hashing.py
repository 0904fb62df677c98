"""Password hashes: Argon2id with the stated parameters, old ones still accepted and then upgraded."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.low_level import Type

from app.auth import passwords


def test_new_hashes_are_argon2id_with_owasp_parameters() -> None:
    stored = passwords.hash_password("Correct-horse-9")
    # The PHC string names the algorithm and its parameters: m in KiB, t passes, p lanes.
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert passwords.verify_password(stored, "Correct-horse-9")
    assert not passwords.verify_password(stored, "Correct-horse-8")
    assert not passwords.needs_rehash(stored)


def test_a_hash_made_with_the_old_default_still_verifies_and_is_due_for_rehash() -> None:
    old = PasswordHasher(time_cost=3, memory_cost=65536, parallelism=4, type=Type.ID).hash("Correct-horse-9")
    assert old.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert passwords.verify_password(old, "Correct-horse-9")
    assert passwords.needs_rehash(old)
