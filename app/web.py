"""Serving the browser application and the offline API docs from the project's own install."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader
from starlette.exceptions import HTTPException
from starlette.types import Receive, Scope, Send

from analysis import print_page
from app.ogc import html as ogc_html
from app.settings import Settings

# One local copy of Leaflet for every printable map (pre-evaluation reports, demolition summaries).
LEAFLET_PATH = print_page.LEAFLET_PATH
# MapLibre GL JS (ES module and its worker) for the planners' map at /.
MAPLIBRE_PATH = "/vendor/maplibre-gl"
ECHARTS_PATH = "/vendor/echarts"
# Noto Sans SC (SIL Open Font License), split by Unicode range: the browser fetches only the parts a page
# shows, so Chinese text and map labels look the same on every machine, with or without CJK fonts.
FONT_PATH = print_page.FONT_PATH
# The app's own page assets (no page carries inline script or style: see the Content-Security-Policy).
ASSETS_DIR = Path(__file__).parent / "static"
ASSETS_PATH = "/assets/app"
SWAGGER_PATH = "/api/docs/assets"
_ENV = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=True)
# Paths of the service's interfaces: an unknown one is a 404 whatever the method, never a web app file.
API_PREFIXES = ("/api/", "/ogc/", "/tiles/")


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

    echarts = settings.web_dir / "node_modules" / "echarts" / "dist"
    if echarts.is_dir():
        # The leaders' overview's charts: served by the app (offline), never from a CDN.
        app.mount(ECHARTS_PATH, StaticFiles(directory=echarts), name="echarts")

    font = settings.web_dir / "node_modules" / "@fontsource" / "noto-sans-sc"
    if font.is_dir():
        app.mount(FONT_PATH, StaticFiles(directory=font), name="font-noto-sans-sc")

    # The app itself answers whatever no route matches (not a mount at "/": a mount matches every path and
    # method, so a wrong method on an API path would reach it and answer 404 instead of 405).
    app.router.default = WebFallback(StaticFiles(directory=settings.web_dir / "public", html=True))


class WebFallback:
    """ASGI app behind every route: the browser app's files for GET/HEAD, 404 under the API, else 405."""

    def __init__(self, site: StaticFiles) -> None:
        self.site = site

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve a file of the web app, or answer why there is none."""
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path.startswith(API_PREFIXES):
            raise HTTPException(status_code=404)
        if scope["method"] not in ("GET", "HEAD"):
            raise HTTPException(status_code=405, headers={"Allow": "GET, HEAD"})
        await self.site(scope, receive, send)
