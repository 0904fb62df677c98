"""Serving the browser application and the offline API docs from the project's own install."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader

from analysis import print_page
from app.ogc import html as ogc_html
from app.settings import Settings

# One local copy of Leaflet for every printable map (pre-evaluation reports, demolition summaries).
LEAFLET_PATH = print_page.LEAFLET_PATH
# MapLibre GL JS (ES module and its worker) for the planners' map at /.
MAPLIBRE_PATH = "/vendor/maplibre-gl"
# Noto Sans SC (SIL Open Font License), split by Unicode range: the browser fetches only the parts a page
# shows, so Chinese text and map labels look the same on every machine, with or without CJK fonts.
FONT_PATH = "/vendor/fonts/noto-sans-sc"
# The app's own page assets (no page carries inline script or style: see the Content-Security-Policy).
ASSETS_DIR = Path(__file__).parent / "static"
ASSETS_PATH = "/assets/app"
SWAGGER_PATH = "/api/docs/assets"
_ENV = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=True)


def mount_web(app: FastAPI, settings: Settings) -> None:
    """Mount Swagger UI, Leaflet, MapLibre and the Chinese font from web/node_modules, and the app at /."""
    app.mount(ASSETS_PATH, StaticFiles(directory=ASSETS_DIR), name="app-assets")
    app.mount(print_page.ASSETS_PATH, StaticFiles(directory=print_page.ASSETS_DIR), name="print-assets")
    app.mount(ogc_html.ASSETS_PATH, StaticFiles(directory=ogc_html.ASSETS_DIR), name="ogc-assets")
    swagger = settings.web_dir / "node_modules" / "swagger-ui-dist"
    if swagger.is_dir():
        app.mount(SWAGGER_PATH, StaticFiles(directory=swagger), name="swagger-assets")

        @app.get("/api/docs", include_in_schema=False)
        def api_docs() -> HTMLResponse:
            page = _ENV.get_template("api_docs.html").render(
                title="Duogui API 文档", openapi_url=app.openapi_url, swagger=SWAGGER_PATH, assets=ASSETS_PATH
            )
            return HTMLResponse(page)

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
