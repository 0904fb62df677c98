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
# MapLibre GL JS (ES module and its worker) for the planners' map at /.
MAPLIBRE_PATH = "/vendor/maplibre-gl"
# Noto Sans SC (SIL Open Font License), split by Unicode range: the browser fetches only the parts a page
# shows, so Chinese text and map labels look the same on every machine, with or without CJK fonts.
FONT_PATH = "/vendor/fonts/noto-sans-sc"


def mount_web(app: FastAPI, settings: Settings) -> None:
    """Mount Swagger UI, Leaflet, MapLibre and the Chinese font from web/node_modules, and the app at /."""
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

    maplibre = settings.web_dir / "node_modules" / "maplibre-gl" / "dist"
    if maplibre.is_dir():
        # The map app's renderer: served by the app so that the map works offline, never from a CDN.
        app.mount(MAPLIBRE_PATH, StaticFiles(directory=maplibre), name="maplibre")

    font = settings.web_dir / "node_modules" / "@fontsource" / "noto-sans-sc"
    if font.is_dir():
        app.mount(FONT_PATH, StaticFiles(directory=font), name="font-noto-sans-sc")

    site = _site_dir(settings.web_dir)
    app.mount("/", StaticFiles(directory=site, html=True), name="web")


def _site_dir(web_dir: Path) -> Path:
    """The built web app (``web/dist``) when present, else the plain sources in ``web/public``."""
    built = web_dir / "dist"
    return built if (built / "index.html").exists() else web_dir / "public"
