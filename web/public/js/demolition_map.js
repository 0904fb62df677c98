// A small map of the project's units coloured by status (the demolition tiles and style of
// app/demolition/tiles.py, MapLibre from the app's own install); a click on a unit opens it in the ledger.
import * as maplibregl from "/vendor/maplibre-gl/maplibre-gl.mjs";
import { api, authorise, errorText } from "./api.js";
import { mapLocale, pick, t } from "./i18n.js";
import { el } from "./panels.js";
import { statusSwatch } from "./demolition_progress.js";
import { baseMapStyle } from "./map.js";

const FILL = "demolition-unit-fill"; // the layers of /tiles/demolition/{id}/style.json
const PICKED = "demolition-unit-picked";

/** [w, s, e, n] of the units' GeoJSON geometries (CRS84), or null when none has one. */
function unitBounds(units) {
  const box = [Infinity, Infinity, -Infinity, -Infinity];
  const walk = c => {
    if (typeof c[0] === "number") {
      box[0] = Math.min(box[0], c[0]); box[1] = Math.min(box[1], c[1]);
      box[2] = Math.max(box[2], c[0]); box[3] = Math.max(box[3], c[1]);
    } else c.forEach(walk);
  };
  for (const u of units) if (u.geometry) walk(u.geometry.coordinates);
  return Number.isFinite(box[0]) ? box : null;
}

export class UnitMap {
  constructor(root, page) {
    this.root = root;
    this.page = page;
    this.map = null;
    this.shownProject = null; // the project whose style the map has
    this.error = null;
    this.head = el("div", { className: "dm-map-head" });
    this.canvas = el("div", { className: "dm-map-canvas", id: "dm-map-canvas" });
    this.canvas.setAttribute("role", "region");
    this.root.append(this.head, this.canvas);
  }

  destroy() {
    clearInterval(this.watching);
    this.map?.remove();
    this.map = null;
  }

  render() {
    const bounds = unitBounds(this.page.units);
    const legend = el("ul", { className: "dm-legend" }, ...this.page.statuses.map(s =>
      el("li", {}, statusSwatch(s), ` ${pick(s)}`)));
    const note = this.error ? el("p", { className: "error", textContent: errorText(this.error) })
      : !bounds && this.page.projectId != null ? el("p", { className: "note", textContent: t("dmNoGeometry") }) : null;
    this.head.replaceChildren(...[el("h3", { textContent: t("dmMap") }), legend, note].filter(Boolean));
    this.canvas.setAttribute("aria-label", t("dmMap"));
    this.canvas.hidden = !bounds;
    if (!bounds) { this.destroy(); this.shownProject = null; return; }
    if (this.shownProject !== this.page.projectId || (!this.map && !this.creating)) this.#create(bounds);
    else this.#refresh();
  }

  /** A new map for the chosen project, framed on its units. */
  async #create(bounds) {
    const projectId = this.page.projectId;
    const ticket = (this.ticket ?? 0) + 1; // only the latest creation goes on
    Object.assign(this, { ticket, creating: true, shownProject: projectId, error: null });
    this.destroy();
    this.root.dataset.loaded = "false";
    let style, base;
    try {
      [style, base] = await Promise.all([api(`/tiles/demolition/${projectId}/style.json`), this.#baseMap()]);
    } catch (error) {
      if (ticket === this.ticket) Object.assign(this, { error, creating: false });
      this.render();
      return;
    }
    if (ticket !== this.ticket) return;
    this.creating = false;
    this.tileBase = style.sources.demolition.tiles[0];
    style.sources.demolition.tiles = [`${this.tileBase}?v=${this.page.revision}`];
    // The 底图 (boundaries, roads, water, names) under the units, so a unit is seen where it is.
    Object.assign(style.sources, base.sources);
    style.glyphs ??= base.glyphs;
    style.layers.unshift({ id: "background", type: "background", paint: { "background-color": "#eef1f4" } }, ...base.layers);
    style.layers.push({ id: PICKED, type: "line", source: "demolition", "source-layer": "demolition_unit",
      filter: ["==", ["id"], -1], paint: { "line-color": "#0b4f8a", "line-width": 3 } });
    const map = new maplibregl.Map({
      container: this.canvas, style, bounds, fitBoundsOptions: { padding: 30, maxZoom: 18 }, maxZoom: 20,
      transformRequest: authorise, attributionControl: false,
      localIdeographFontFamily: false, // Han labels from the served glyphs, as on the main map
      locale: mapLocale(),
    });
    this.map = map;
    this.map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-right");
    this.map.on("click", FILL, event => {
      const id = event.features?.[0]?.id;
      if (id != null) this.page.openUnit(Number(id));
    });
    this.map.on("mouseenter", FILL, () => { this.map.getCanvas().style.cursor = "pointer"; });
    this.map.on("mouseleave", FILL, () => { this.map.getCanvas().style.cursor = ""; });
    this.map.on("error", event => { this.root.dataset.error = String(event.error?.message ?? event.error); });
    this.tilesRevision = this.page.revision;
    this.#watch(map);
    this.map.once("load", () => this.#refresh());
  }

  /** The base map's sources and layers (none when the page was opened without the map's layer list). */
  async #baseMap() {
    const layersByCode = this.page.context.layersByCode;
    if (!layersByCode) return { sources: {}, layers: [] };
    return baseMapStyle(await api("/tiles/style.json"), layersByCode);
  }

  /**
   * Mark the section once `map` is drawn with every tile in (for tests and tools). Polled: MapLibre's "idle"
   * was seen not to come after the first load here.
   */
  #watch(map) {
    clearInterval(this.watching);
    this.root.dataset.loaded = "false";
    this.watching = setInterval(() => {
      if (map !== this.map) { clearInterval(this.watching); return; }
      if (!map.loaded() || !map.areTilesLoaded()) return;
      clearInterval(this.watching);
      Object.assign(this.root.dataset, { loaded: "true", revision: String(this.tilesRevision) });
    }, 100);
  }

  /** New tiles after a ledger change (the URL carries the revision), and the open unit outlined. */
  #refresh() {
    if (!this.map?.isStyleLoaded()) return;
    if (this.tilesRevision !== this.page.revision) {
      this.tilesRevision = this.page.revision;
      this.map.getSource("demolition").setTiles([`${this.tileBase}?v=${this.page.revision}`]);
      this.#watch(this.map);
    }
    this.map.setFilter(PICKED, ["==", ["id"], this.page.unit.unitId ?? -1]);
  }
}
