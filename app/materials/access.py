"""Who may read a material (its metadata and its bytes): the one rule, over every reference to it.

* the window, planners and the system administrator: every material;
* the owner organisation: its own library;
* whoever may read an application that references it — attached to the package
  (``approval.application_material``), the decision document of an opinion on one of its items
  (``approval.opinion.document_id``) or the minutes of one of its joint reviews
  (``approval.joint_review.minutes_id``): the project's unit, and departments with an item in the
  application (its rows of ``approval.application_item``, as the application's own visibility; roles with
  APPLICATIONS_READ on every organisation: all);
* a demolition material (purpose ``demolition``, the only kind a ledger event may attach, always of the
  event's project): whoever may read that project's demolition ledger.

Everyone else is told the material does not exist (404), never that it is forbidden.
"""

from __future__ import annotations

from typing import Any

from psycopg import Connection

from app.auth.deps import Grant
from app.auth.policy import Action, Role, Scope, scope_for

SEE_ALL = frozenset({Role.WINDOW, Role.PLANNER, Role.SYSTEM_ADMIN})

# The applications referencing the material, and whether the caller may read one of them: the same rule
# as the applications' own visibility (app.window.applications.visibility). A department reads through an
# application only when one of the application's items (``approval.application_item``) is its own; an item
# of the same project and stage left out of the application (merged, cancelled, done) does not count.
_APPLICATION_READERS = """
WITH refs AS (
  SELECT am.application_id FROM approval.application_material am WHERE am.material_id = %(m)s
  UNION
  SELECT ai.application_id FROM approval.opinion o
  JOIN approval.application_item ai ON ai.item_id = o.item_id
  WHERE o.document_id = %(m)s
  UNION
  SELECT j.application_id FROM approval.joint_review j WHERE j.minutes_id = %(m)s
)
SELECT 1 FROM refs JOIN approval.application a ON a.id = refs.application_id
JOIN project.project p ON p.id = a.project_id
WHERE %(any)s
   OR (%(role)s = 'project_unit' AND p.unit_org_id = %(org)s)
   OR (%(role)s = 'reviewer' AND EXISTS (
         SELECT 1 FROM approval.application_item ai JOIN approval.item i ON i.id = ai.item_id
         WHERE ai.application_id = a.id AND i.department_id = %(org)s))
LIMIT 1
"""

_LEDGER_READERS = """
SELECT 1 FROM project.project p
WHERE p.id = %(project)s
  AND (%(any)s
       OR (%(role)s = 'project_unit' AND p.unit_org_id = %(org)s)
       OR (%(role)s = 'reviewer' AND (p.owner_dept_id = %(org)s OR EXISTS (
             SELECT 1 FROM approval.item i WHERE i.project_id = p.id AND i.department_id = %(org)s))))
"""


def may_read(conn: Connection[Any], grant: Grant, material_id: int) -> bool:
    """Whether the caller may read the material's metadata and bytes (False also when it does not exist)."""
    row = conn.execute(
        "SELECT owner_org_id, project_id, purpose FROM material.material WHERE id = %s", (material_id,)
    ).fetchone()
    if row is None:
        return False
    owner_org_id, project_id, purpose = row
    principal = grant.principal
    if principal.service is not None:
        return False
    if principal.role in SEE_ALL or owner_org_id == principal.org_id:
        return True
    params = {"m": material_id, "role": principal.role.value, "org": principal.org_id}
    app_scope = scope_for(principal.role, Action.APPLICATIONS_READ)
    if app_scope is not None:
        found = conn.execute(_APPLICATION_READERS, {**params, "any": app_scope is Scope.ANY}).fetchone()
        if found is not None:
            return True
    ledger_scope = scope_for(principal.role, Action.DEMOLITION_READ)
    if purpose == "demolition" and project_id is not None and ledger_scope is not None:
        found = conn.execute(
            _LEDGER_READERS, {**params, "project": project_id, "any": ledger_scope is Scope.ANY}
        ).fetchone()
        if found is not None:
            return True
    return False
