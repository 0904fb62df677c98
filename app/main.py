"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import gc
import logging
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from analysis.checkplan import CheckPlan
from analysis.resident import ResidentIndex
from analysis.rules.loader import get_ruleset
from app import __version__
from app.api.routes import district, health, identify, layers
from app.audit import routes as audit_routes
from app.audit.sealer import AuditSealer
from app.auth import routes as auth_routes
from app.auth import security_routes, service_account_routes
from app.auth.basic import CredentialCache
from app.auth.deps import Allow, Public
from app.auth.edge import CredentialEdge
from app.auth.passwords import PASSWORD_CHECKS_AT_ONCE
from app.auth.usage import UsageCounter
from app.calendar import routes as calendar_routes
from app.csp import policy_for
from app.db import AdmissionGate, create_pool, database_gate
from app.demolition import blocker_routes as demolition_blocker_routes
from app.demolition import import_routes as demolition_import_routes
from app.demolition import routes as demolition_routes
from app.demolition import tiles as demolition_tiles
from app.edge.forms import refuse_control_characters_in_forms
from app.edge.middleware import MEBIBYTE, RequestEdge
from app.edge.openapi import install_problem_responses
from app.errors import install_error_handlers
from app.gaps import project_routes as gap_project_routes
from app.gaps import routes as gap_routes
from app.materials import routes as materials_routes
from app.materials.routes import material_store_in_context
from app.ogc import routes as ogc_routes
from app.orgs import routes as org_routes
from app.overview import routes as overview_routes
from app.preevaluation import printed as preevaluation_printed
from app.preevaluation import renderings as preevaluation_renderings
from app.preevaluation import routes as preevaluation_routes
from app.preevaluation import sites as preevaluation_sites
from app.preevaluation import uploads as preevaluation_uploads
from app.projects import demand_routes, plan_routes, supervision_routes
from app.projects import routes as project_routes
from app.settings import Settings
from app.tiles import raster_routes, vector_routes
from app.tiles.fast_path import TileFastPath
from app.web import mount_web
from app.window import document_routes as window_document_routes
from app.window import joint_routes as window_joint_routes
from app.window import routes as window_routes
from layers.catalog.model import Catalog, load_catalog
from layers.district import DISTRICT

log = logging.getLogger("duogui")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
PERMISSION_KEY = "x-duogui-permission"


class RequestContext:
    """ASGI middleware: a request id (client's X-Request-ID if sane, else new) and security headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Tag the request and its response."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                headers.append((b"x-content-type-options", b"nosniff"))
                headers.append((b"referrer-policy", b"same-origin"))
                headers.append((b"x-frame-options", b"DENY"))
                names = {name.lower() for name, _ in headers}
                # A 304 carries no policy: a cache replaces the stored response's headers with the 304's, and
                # a policy chosen for "no Content-Type" (nothing allowed) would then ride on a revalidated
                # script — the map's tile worker lost its connect-src after a reload.
                if b"content-security-policy" not in names and message.get("status") != 304:
                    content_type = next((v for n, v in headers if n.lower() == b"content-type"), b"")
                    headers.append((b"content-security-policy", policy_for(content_type)))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _declared_permission(route: APIRoute) -> str | None:
    """The action a route declared through Allow/Public, searched through its dependency tree."""
    stack = [route.dependant]
    while stack:
        dependant = stack.pop()
        call: Any = dependant.call
        if isinstance(call, Allow):
            return call.action.value
        if isinstance(call, Public):
            return call.action
        stack.extend(dependant.dependencies)
    return None


def stamp_permissions(router: APIRouter) -> APIRouter:
    """Record each route's declared permission in its OpenAPI operation (before inclusion)."""
    for route in router.routes:
        if isinstance(route, APIRoute):
            permission = _declared_permission(route)
            if permission is not None:
                route.openapi_extra = {**(route.openapi_extra or {}), PERMISSION_KEY: permission}
    return router


def load_catalog_logged() -> Catalog:
    """Load the layer catalog; broken entries are logged by code and field and left out."""
    loaded = load_catalog()
    for error in loaded.errors:
        log.error("layer catalog: %s", error)
    return loaded.catalog


def settle_heap() -> None:
    """Move everything loaded at start-up (catalog, rule set, modules) out of the collector's sight.

    The garbage collector's full passes otherwise walk these hundreds of thousands of long-lived objects
    again and again while a large pre-evaluation allocates; measured, that was a fifth of a 10 km² check.
    """
    get_ruleset()
    gc.collect()
    gc.freeze()


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application for ``settings`` (read from the environment when omitted)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = create_pool(settings)
        pool.open(wait=False)
        app.state.pool = pool
        # Admission gates are made here, inside the serving event loop they wait in.
        app.state.db_gate = database_gate(settings)
        app.state.heavy_gate = AdmissionGate(
            "heavy", settings.heavy_capacity, settings.pool_timeout_s, settings.pool_queue_limit
        )
        app.state.password_gate = AdmissionGate(
            "passwords", PASSWORD_CHECKS_AT_ONCE, settings.pool_timeout_s, settings.pool_queue_limit
        )
        # The catalog and the rule set compiled once for every check (before the heap is frozen).
        app.state.check_plan = CheckPlan(app.state.catalog, get_ruleset())
        settle_heap()
        # The check index is copied into memory in the background; checks read the database until then.
        app.state.resident = ResidentIndex(pool.connection, settings.check_memory_mb)
        app.state.resident.request_refresh()
        # New audit rows are linked into the hash chain in the background (see app/audit/sealer.py).
        app.state.audit_sealer = AuditSealer(pool.connection, settings.audit_seal_interval_s)
        app.state.audit_sealer.start()
        usage: UsageCounter = app.state.usage
        flusher = asyncio.create_task(usage.flush_periodically(pool.connection, settings.usage_flush_seconds))
        try:
            yield
        finally:
            flusher.cancel()
            try:
                await run_in_threadpool(usage.flush_with, pool.connection)
            except Exception:  # the database may be gone at shutdown: the counts are a statistic
                log.exception("service account usage: the last flush failed")
            app.state.audit_sealer.close()
            app.state.resident.close()
            raster = getattr(app.state, "raster_tiles", None)
            if raster is not None:
                raster.close()
            pool.close()

    app = FastAPI(
        title="多规合一平台 Duogui API",
        version=__version__,
        description=f"{DISTRICT.name_zh}“多规合一”平台：一张底图、项目预评价、审批跟踪、征拆协调。",
        openapi_url="/api/openapi.json",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        # Text fields of multipart forms (uploads) are checked here; the rest of the edge is RequestEdge.
        dependencies=[Depends(refuse_control_characters_in_forms), Depends(material_store_in_context)],
    )
    app.state.settings = settings
    app.state.basic_cache = CredentialCache(settings.basic_cache_seconds)
    app.state.usage = UsageCounter()
    install_error_handlers(app)
    install_problem_responses(app)
    app.state.catalog = load_catalog_logged()
    # Map tiles come by the dozen per screen: their routes are matched first.
    for module in (
        vector_routes,
        raster_routes,
        health,
        auth_routes,
        service_account_routes,
        security_routes,
        org_routes,
        audit_routes,
        layers,
        identify,
        district,
        preevaluation_routes,
        preevaluation_renderings,
        preevaluation_printed,
        preevaluation_sites,
        preevaluation_uploads,
        gap_routes,
        gap_project_routes,
        calendar_routes,
        project_routes,
        plan_routes,
        supervision_routes,
        overview_routes,
        demand_routes,
        window_routes,
        demolition_routes,
        demolition_import_routes,
        demolition_blocker_routes,
        demolition_tiles,
        materials_routes,
        window_joint_routes,
        window_document_routes,
        ogc_routes,
    ):
        app.include_router(stamp_permissions(module.router))
    mount_web(app, settings)
    app.add_middleware(TileFastPath)
    # HTTP Basic is resolved before the tile fast path and the routes (no connection held for Argon2).
    app.add_middleware(CredentialEdge)
    app.add_middleware(
        RequestEdge,
        max_body_bytes=settings.max_body_mb * MEBIBYTE,
        max_upload_bytes=settings.max_upload_mb * MEBIBYTE,
    )
    app.add_middleware(RequestContext)  # outermost: tiles get their request id and headers too
    return app
