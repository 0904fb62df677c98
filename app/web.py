"""Serving the browser application and the offline API docs from the project's own install."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from app.settings import Settings

# One local copy of Leaflet for every printable map (pre-evaluation reports, demolition summaries).
LEAFLET_PATH = "/vendor/leaflet"


def mount_web(app: FastAPI, settings: Settings) -> None:
    """Mount Swagger UI (/api/docs) and Leaflet (/vendor/leaflet) from web/node_modules, the app at /."""
    swagger = settings.web_dir / "node_modules" / "swagger-ui-dist"
    if swagger.is_dir():
        app.mount("/api/docs/assets", StaticFiles(directory=swagger), name="swagger-assets")

        @app.get("/api/docs", include_in_schema=False)
        def api_docs() -> HTMLResponse:
            return get_swagger_ui_html(
                openapi_url="/api/openapi.json",
                title="Duogui API 文档",
                swagger_js_url="/api/docs/assets/swagger-ui-bundle.js",
                swagger_css_url="/api/docs/assets/swagger-ui.css",
                swagger_favicon_url="/api/docs/assets/favicon-32x32.png",
            )

    leaflet = settings.web_dir / "node_modules" / "leaflet" / "dist"
    if leaflet.is_dir():
        # Leaflet for the HTML pre-evaluation reports: served by the app, never from a CDN.
        app.mount(LEAFLET_PATH, StaticFiles(directory=leaflet), name="leaflet")

    site = _site_dir(settings.web_dir)
    app.mount("/", StaticFiles(directory=site, html=True), name="web")


def _site_dir(web_dir: Path) -> Path:
    """The built web app (``web/dist``) when present, else the plain sources in ``web/public``."""
    built = web_dir / "dist"
    return built if (built / "index.html").exists() else web_dir / "public"
