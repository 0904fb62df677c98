"""Helpers shared by tests (kept out of conftest so test modules can import them)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from app.auth import users
from app.auth.policy import Role
from layers.audit import Actor


@dataclass
class Account:
    """A user created for a test, with a live token."""

    id: int
    username: str
    password: str
    org_id: int
    token: str

    @property
    def headers(self) -> dict[str, str]:
        """Authorization header for requests as this user."""
        return {"Authorization": f"Bearer {self.token}"}


def unique(prefix: str) -> str:
    """A unique, valid username or code."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def sign_in(client: TestClient, username: str, password: str) -> str:
    """Sign in through the API and return the bearer token."""
    r = client.post("/api/auth/token", data={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def signed_in_account(conn: psycopg.Connection[Any], client: TestClient, role: Role, org: str) -> Account:
    """A new account of ``role`` in organisation ``org`` (created as the owner), signed in through the API."""
    password = "Passw0rd-" + uuid.uuid4().hex[:6]
    user, _ = users.create_user(
        conn,
        Actor.system("tests"),
        users.UserCreate(
            username=unique(role.value.replace("_", "")), role=role, org_code=org, password=password
        ),
    )
    return Account(user.id, user.username, password, user.org_id, sign_in(client, user.username, password))
