"""The people of the demo history: real accounts, made through the user service, and their grants.

Every service call of the history acts as one of these accounts with the permission the policy gives its
role — the same :class:`~app.auth.deps.Grant` a signed-in request would carry — so the history can do
nothing the API would refuse to that person, and its event logs name people, not "system".
Accounts are created disabled of sign-in (a random password never shown): they exist so the records
name who did what; an administrator may enable one like any other account.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from psycopg import Connection

from app.auth.deps import Grant, Principal
from app.auth.policy import Action, Role, scope_for
from app.auth.users import UserCreate, create_user
from app.errors import Forbidden
from app.orgs import service as orgs
from layers.audit import Actor

# The generator's own identity in the audit trail (it creates the accounts and organisations).
GENERATOR = Actor.system("demo:history")


@dataclass(frozen=True)
class Person:
    """One demo account."""

    user_id: int
    username: str
    role: Role
    org_id: int
    org_code: str

    def grant(self, action: Action) -> Grant:
        """The grant this person's role has for ``action`` (403 when the role has none)."""
        scope = scope_for(self.role, action)
        if scope is None:
            raise Forbidden(
                f"演示账户 {self.username} 无权执行 {action.value}。",
                f"Demo account {self.username} may not {action.value}.",
            )
        principal = Principal(
            self.user_id,
            self.username,
            self.role,
            self.org_id,
            False,
            None,
            datetime.now() + timedelta(hours=1),
        )
        return Grant(principal, action, scope, Actor(self.user_id, self.username, self.org_id))


@dataclass
class People:
    """Accounts by username, made on demand."""

    conn: Connection[Any]
    by_name: dict[str, Person] = field(default_factory=dict)

    def org(self, code: str, name_zh: str, name_en: str, kind: orgs.OrgKind) -> int:
        """The organisation ``code``, created (audited) when missing."""
        row = self.conn.execute("SELECT id FROM auth.organisation WHERE code = %s", (code,)).fetchone()
        if row is not None:
            return int(row[0])
        created = orgs.create_org(
            self.conn,
            GENERATOR,
            orgs.OrganisationCreate(code=code, name_zh=name_zh, name_en=name_en, kind=kind),
        )
        return created.id

    def person(self, username: str, display_name: str, role: Role, org_code: str) -> Person:
        """The account ``username``, created when missing."""
        if username in self.by_name:
            return self.by_name[username]
        row = self.conn.execute(
            "SELECT u.id, u.role, o.id, o.code FROM auth.user u JOIN auth.organisation o ON o.id = u.org_id"
            " WHERE u.username = %s",
            (username,),
        ).fetchone()
        if row is None:
            user, _ = create_user(
                self.conn,
                GENERATOR,
                UserCreate(username=username, display_name=display_name, role=role, org_code=org_code),
            )
            org_id = self.conn.execute(
                "SELECT id FROM auth.organisation WHERE code = %s", (org_code,)
            ).fetchone()
            assert org_id is not None
            found = Person(user.id, username, role, int(org_id[0]), org_code)
        else:
            found = Person(int(row[0]), username, Role(row[1]), int(row[2]), str(row[3]))
        self.by_name[username] = found
        return found
