"""The one permission policy: role × action → organisation scope.

Every route declares the action it performs through :class:`Allow` (or :data:`PUBLIC`); the
application stamps it into the OpenAPI document as ``x-duogui-permission`` and a test walks every
operation to prove none is left undeclared.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """User roles."""

    SYSTEM_ADMIN = "system_admin"
    SECURITY_ADMIN = "security_admin"
    AUDIT_ADMIN = "audit_admin"
    PLANNER = "planner"
    PROJECT_UNIT = "project_unit"
    REVIEWER = "reviewer"
    COORDINATOR = "coordinator"
    VIEWER = "viewer"
    WINDOW = "window"
    LEADER = "leader"


ROLE_LABELS: dict[Role, tuple[str, str]] = {
    Role.SYSTEM_ADMIN: ("系统管理员", "System administrator"),
    Role.SECURITY_ADMIN: ("安全管理员", "Security administrator"),
    Role.AUDIT_ADMIN: ("安全审计员", "Audit administrator"),
    Role.PLANNER: ("规划人员", "Planner"),
    Role.PROJECT_UNIT: ("项目单位", "Project unit"),
    Role.REVIEWER: ("审批部门", "Department reviewer"),
    Role.COORDINATOR: ("征拆协调", "Demolition coordinator"),
    Role.VIEWER: ("只读用户", "Viewer"),
    Role.WINDOW: ("综合窗口人员", "One-window staff"),
    Role.LEADER: ("领导", "Leader"),
}

# 三员分立: the three administrators. An account holding one keeps it for life (a database trigger refuses
# any role change to or from them), so no account ever holds two; only the security administrator gives them.
ADMINISTRATOR_ROLES = frozenset({Role.SYSTEM_ADMIN, Role.SECURITY_ADMIN, Role.AUDIT_ADMIN})
# The roles that work with business data (the system administrator may assign these).
BUSINESS_ROLES = frozenset(Role) - ADMINISTRATOR_ROLES


class Scope(StrEnum):
    """How far a granted action reaches."""

    ANY = "any"  # every organisation's objects
    ORG = "org"  # objects of the caller's own organisation
    SELF = "self"  # the caller's own account only


class Action(StrEnum):
    """Everything a route can do, named ``resource:verb``."""

    SELF_READ = "self:read"
    SELF_UPDATE = "self:update"
    USERS_READ = "users:read"
    USERS_MANAGE = "users:manage"
    ORGS_READ = "orgs:read"
    ORGS_MANAGE = "orgs:manage"
    AUDIT_READ = "audit:read"
    AUDIT_EXPORT = "audit:export"
    AUDIT_VERIFY = "audit:verify"
    LAYERS_READ = "layers:read"
    LAYERS_IMPORT = "layers:import"
    PREEVAL_RUN = "preeval:run"
    # Facility gap analysis (issue 18).
    GAPS_READ = "gaps:read"
    GAPS_PROPOSE = "gaps:propose"
    # Approval tracker (issue 6).
    CALENDAR_READ = "calendar:read"
    CALENDAR_MANAGE = "calendar:manage"
    PROJECTS_READ = "projects:read"
    PROJECTS_MANAGE = "projects:manage"
    ITEMS_TRANSITION = "items:transition"
    SUPERVISION_READ = "supervision:read"
    DEMANDS_SUBMIT = "demands:submit"
    DEMANDS_TRIAGE = "demands:triage"
    # Demolition ledger (issue 7).
    DEMOLITION_READ = "demolition:read"
    DEMOLITION_MANAGE = "demolition:manage"
    BLOCKERS_WORK = "blockers:work"
    # Machine clients (issue 14).
    SERVICE_ACCOUNTS_MANAGE = "service_accounts:manage"
    # One window (综合窗口): applications by stage, their review, and the materials store.
    APPLICATIONS_READ = "applications:read"
    APPLICATIONS_SUBMIT = "applications:submit"
    APPLICATIONS_INTAKE = "applications:intake"
    APPLICATIONS_REVIEW = "applications:review"
    MATERIALS_READ = "materials:read"
    MATERIALS_UPLOAD = "materials:upload"
    # Security administration (issue 14).
    SECURITY_READ = "security:read"
    SECURITY_MANAGE = "security:manage"
    ACCOUNTS_UNLOCK = "accounts:unlock"
    ROLES_GRANT = "roles:grant"
    # The leaders' overview (领导驾驶舱, issue 18).
    OVERVIEW_READ = "overview:read"


PUBLIC = "public"

_EVERYONE_SELF = dict.fromkeys(Role, Scope.SELF)
# Everyone who works with the district's data: the business roles and the system administrator (the
# security and audit administrators see none of it).
_WORKING_ANY = dict.fromkeys(BUSINESS_ROLES | {Role.SYSTEM_ADMIN}, Scope.ANY)
_SECURITY_ONLY = {Role.SECURITY_ADMIN: Scope.ANY}

POLICY: dict[Action, dict[Role, Scope]] = {
    Action.SELF_READ: _EVERYONE_SELF,
    Action.SELF_UPDATE: _EVERYONE_SELF,
    # The security administrator reads the directory to do its job (lock-outs, administrators).
    Action.USERS_READ: {
        Role.SYSTEM_ADMIN: Scope.ANY,
        Role.SECURITY_ADMIN: Scope.ANY,
        Role.PLANNER: Scope.ORG,
        Role.PROJECT_UNIT: Scope.ORG,
        Role.REVIEWER: Scope.ORG,
        Role.COORDINATOR: Scope.ORG,
        Role.WINDOW: Scope.ORG,
    },
    Action.USERS_MANAGE: {Role.SYSTEM_ADMIN: Scope.ANY},
    # The directory of departments and units is not private: every signed-in user may read it.
    Action.ORGS_READ: _WORKING_ANY | _SECURITY_ONLY,
    Action.ORGS_MANAGE: {Role.SYSTEM_ADMIN: Scope.ANY},
    # The audit log is the audit administrator's alone: no one else reads, exports or verifies it.
    Action.AUDIT_READ: {Role.AUDIT_ADMIN: Scope.ANY},
    Action.AUDIT_EXPORT: {Role.AUDIT_ADMIN: Scope.ANY},
    Action.AUDIT_VERIFY: {Role.AUDIT_ADMIN: Scope.ANY},
    # The base map is shared by every department; restricted layers are filtered by the catalog.
    Action.LAYERS_READ: _WORKING_ANY,
    Action.LAYERS_IMPORT: {Role.SYSTEM_ADMIN: Scope.ANY, Role.PLANNER: Scope.ANY},
    # Checking a footprint reads only the shared base map; every working role may do it.
    Action.PREEVAL_RUN: {
        Role.SYSTEM_ADMIN: Scope.ANY,
        Role.PLANNER: Scope.ANY,
        Role.PROJECT_UNIT: Scope.ORG,
        Role.REVIEWER: Scope.ANY,
        Role.COORDINATOR: Scope.ANY,
    },
    # Facility gaps read the shared base map (district-wide figures); the population cells behind them are
    # shown only to roles that may see the restricted population layer.
    Action.GAPS_READ: {
        Role.SYSTEM_ADMIN: Scope.ANY,
        Role.LEADER: Scope.ANY,
        Role.PLANNER: Scope.ANY,
        Role.VIEWER: Scope.ANY,
        Role.REVIEWER: Scope.ANY,
    },
    # Planners (规划人员) generate projects from the map: a candidate site becomes a reserve project (with the
    # unit named in the request) or a demand in the pool. Project units and departments do not.
    Action.GAPS_PROPOSE: {Role.SYSTEM_ADMIN: Scope.ANY, Role.PLANNER: Scope.ANY},
    # Approval tracker. Reviewers' ORG scope means "projects involving my department" (app/projects).
    Action.CALENDAR_READ: _WORKING_ANY,
    Action.CALENDAR_MANAGE: {Role.SYSTEM_ADMIN: Scope.ANY},
    Action.PROJECTS_READ: {
        Role.SYSTEM_ADMIN: Scope.ANY,
        Role.LEADER: Scope.ANY,
        Role.PLANNER: Scope.ANY,
        Role.WINDOW: Scope.ANY,
        Role.PROJECT_UNIT: Scope.ORG,
        Role.REVIEWER: Scope.ORG,
        Role.COORDINATOR: Scope.ANY,
        Role.VIEWER: Scope.ANY,
    },
    Action.PROJECTS_MANAGE: {
        Role.SYSTEM_ADMIN: Scope.ANY,
        Role.PROJECT_UNIT: Scope.ORG,
        Role.REVIEWER: Scope.ORG,
    },
    # Which transition a role may take (unit submits, the item's department reviews) is checked per item.
    Action.ITEMS_TRANSITION: {
        Role.SYSTEM_ADMIN: Scope.ANY,
        Role.PROJECT_UNIT: Scope.ORG,
        Role.REVIEWER: Scope.ORG,
    },
    Action.SUPERVISION_READ: {
        Role.SYSTEM_ADMIN: Scope.ANY,
        Role.LEADER: Scope.ANY,
        Role.PLANNER: Scope.ANY,
        Role.WINDOW: Scope.ANY,
        Role.PROJECT_UNIT: Scope.ORG,
        Role.REVIEWER: Scope.ORG,
        Role.COORDINATOR: Scope.ANY,
        Role.VIEWER: Scope.ANY,
    },
    # Demands: everyone may submit and see their own; planners and admins triage (merge/accept/reject).
    Action.DEMANDS_SUBMIT: dict.fromkeys(BUSINESS_ROLES - {Role.LEADER}, Scope.SELF)
    | {Role.SYSTEM_ADMIN: Scope.ANY, Role.PLANNER: Scope.ANY},
    Action.DEMANDS_TRIAGE: {Role.SYSTEM_ADMIN: Scope.ANY, Role.PLANNER: Scope.ANY},
    # Demolition ledger: ORG scope reads the projects that involve the caller (app/projects visibility).
    Action.DEMOLITION_READ: {
        Role.SYSTEM_ADMIN: Scope.ANY,
        Role.LEADER: Scope.ANY,
        Role.PLANNER: Scope.ANY,
        Role.PROJECT_UNIT: Scope.ORG,
        Role.REVIEWER: Scope.ORG,
        Role.COORDINATOR: Scope.ANY,
        Role.VIEWER: Scope.ANY,
    },
    # Only coordinators (土地整备局/街道) and administrators change units and their statuses.
    Action.DEMOLITION_MANAGE: {Role.SYSTEM_ADMIN: Scope.ANY, Role.COORDINATOR: Scope.ANY},
    # Blockers: coordinators raise, escalate and resolve; the assigned department comments and resolves
    # (ORG: blockers assigned to the caller's department); project units comment on their projects'.
    Action.BLOCKERS_WORK: {
        Role.SYSTEM_ADMIN: Scope.ANY,
        Role.COORDINATOR: Scope.ANY,
        Role.REVIEWER: Scope.ORG,
        Role.PROJECT_UNIT: Scope.ORG,
    },
    # One window (受审分离): the unit submits; the window receives, checks, merges corrections and issues but
    # never decides; each department decides only its own items (ORG: applications with an item of the
    # caller's department). Planners and the system administrator see everything.
    Action.APPLICATIONS_READ: {
        Role.SYSTEM_ADMIN: Scope.ANY,
        Role.LEADER: Scope.ANY,
        Role.PLANNER: Scope.ANY,
        Role.WINDOW: Scope.ANY,
        Role.PROJECT_UNIT: Scope.ORG,
        Role.REVIEWER: Scope.ORG,
        Role.VIEWER: Scope.ANY,
    },
    Action.APPLICATIONS_SUBMIT: {Role.PROJECT_UNIT: Scope.ORG},
    Action.APPLICATIONS_INTAKE: {Role.WINDOW: Scope.ANY},
    # The system administrator records the opinions of bodies with no department account (the metro group,
    # the gas company…) on their items only, as in the item-by-item flow (app/window/review.py).
    Action.APPLICATIONS_REVIEW: {Role.REVIEWER: Scope.ORG, Role.SYSTEM_ADMIN: Scope.ANY},
    # Materials are read where their application, project or ledger may be read (checked per file).
    Action.MATERIALS_READ: {
        Role.SYSTEM_ADMIN: Scope.ANY,
        Role.PLANNER: Scope.ANY,
        Role.WINDOW: Scope.ANY,
        Role.PROJECT_UNIT: Scope.ORG,
        Role.REVIEWER: Scope.ORG,
        Role.COORDINATOR: Scope.ANY,
    },
    # Units upload application materials, departments their decision documents, coordinators demolition
    # agreements.
    Action.MATERIALS_UPLOAD: {
        Role.PROJECT_UNIT: Scope.ORG,
        Role.REVIEWER: Scope.ORG,
        Role.COORDINATOR: Scope.ANY,
    },
    # The security administrator: the policy (password, lock-out, idle sessions), the role × action matrix,
    # lock-outs, the administrator accounts and the machine clients' keys (service accounts: created, revoked
    # and watched) — and no business data.
    Action.SECURITY_READ: _SECURITY_ONLY,
    Action.SECURITY_MANAGE: _SECURITY_ONLY,
    Action.ACCOUNTS_UNLOCK: _SECURITY_ONLY,
    Action.ROLES_GRANT: _SECURITY_ONLY,
    Action.SERVICE_ACCOUNTS_MANAGE: _SECURITY_ONLY,
    # District leaders (read-only, district-wide), planners (发改), the system administrator and viewers.
    Action.OVERVIEW_READ: {
        Role.LEADER: Scope.ANY,
        Role.PLANNER: Scope.ANY,
        Role.SYSTEM_ADMIN: Scope.ANY,
        Role.VIEWER: Scope.ANY,
    },
}

# What a service account may be granted (pre-evaluation is not: a stored report belongs to a person).
SERVICE_ACTIONS = frozenset({Action.LAYERS_READ})

# Actions still open to an account that must first replace its one-time or expired password.
ALLOWED_BEFORE_PASSWORD_CHANGE = frozenset({Action.SELF_READ, Action.SELF_UPDATE})


def scope_for(role: Role, action: Action) -> Scope | None:
    """The scope ``role`` has for ``action``, or None when it has none."""
    return POLICY.get(action, {}).get(role)
