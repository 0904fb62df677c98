// The project library on the map: the link from an identified footprint (layer proj_library, a live layer of
// app/projects/map_layer.py whose feature id is the project id) to the project, and the project page's map
// of its footprint history (GET /api/projects/{id}/footprints: every version, the current one emphasised,
// each with its date), over the 底图 of /tiles/style.json; MapLibre from the app's own install.
import * as maplibregl from "/vendor/maplibre-gl/maplibre-gl.mjs";
import { api, authorise } from "./api.js";
import { formatDate, mapLocale, t } from "./i18n.js";
import { el } from "./panels.js";
import { baseMapStyle } from "./map.js";

export const PROJECT_LAYER = "proj_library";
const SOURCE = "pj-footprint-versions";
const OLD_LINE = "pj-footprint-old";
const CURRENT_FILL = "pj-footprint-current-fill";
const CURRENT_LINE = "pj-footprint-current";
const LABEL = "pj-footprint-label";
const CURRENT_COLOUR = "#d7301f";
const OLD_COLOUR = "#6a6a6a";

/**
 * The "open the project" button of an identified feature of the project layer (null for other layers or
 * when the role cannot read projects); `open(projectId)` shows the project page.
 */
export function projectLink(feature, mayRead, open) {
  if (feature.layer !== PROJECT_LAYER || !mayRead) return null;
  const button = el("button", { type: "button", className: "link pj-open-project", textContent: t("pjOpenProject") });
  button.dataset.project = String(feature.fid);
  button.addEventListener("click", event => { event.stopPropagation(); open(feature.fid); });
  return button;
}

/** [w, s, e, n] of GeoJSON geometries (CRS84), or null. */
function boundsOf(geometries) {
  const box = [Infinity, Infinity, -Infinity, -Infinity];
  const walk = c => {
    if (typeof c[0] === "number") {
      box[0] = Math.min(box[0], c[0]); box[1] = Math.min(box[1], c[1]);
      box[2] = Math.max(box[2], c[0]); box[3] = Math.max(box[3], c[1]);
    } else c.forEach(walk);
  };
  for (const g of geometries) if (g) walk(g.coordinates);
  return Number.isFinite(box[0]) ? box : null;
}

/** The versions as GeoJSON features: number (1 = first), current or not, and the label with its dates. */
function versionFeatures(footprints) {
  const count = footprints.length; // newest first
  return footprints.map((f, i) => ({
    type: "Feature",
    id: f.id,
    geometry: f.geometry,
    properties: {
      id: f.id,
      current: !f.superseded_at,
      label: t("pjFootprintLabel", count - i, formatDate(f.created_at)).replace(" · ", "\n"), // two short lines
    },
  }));
}

/** The map of a project's footprint versions (a persistent node: the map survives the page's redraws). */
export class FootprintMap {
  /** context: {layersByCode} of the map view (null: the map is drawn without the 底图). */
  constructor(context) {
    this.context = context || {};
    this.root = el("section", { id: "pj-footprint-map", className: "pj-footprint-map" });
    this.head = el("div", { className: "pj-map-head" });
    this.canvas = el("div", { className: "pj-map-canvas", id: "pj-footprint-canvas" });
    this.canvas.setAttribute("role", "region");
    this.root.append(this.head, this.canvas);
    this.map = null;
    this.shown = null; // the footprints the map holds
  }

  destroy() {
    clearInterval(this.watching);
    this.map?.remove();
    this.map = null;
    this.shown = null;
  }

  /** Draw `footprints` (newest first, from the API); returns the node to place in the page. */
  render(footprints) {
    const list = footprints || [];
    const count = list.length;
    const legend = el("ul", { className: "pj-map-legend" }, ...list.map((f, i) => {
      const swatch = el("span", { className: `pj-swatch ${f.superseded_at ? "old" : "current"}` });
      swatch.setAttribute("aria-hidden", "true");
      const state = f.superseded_at ? t("pjSuperseded", formatDate(f.superseded_at)) : t("pjFootprintCurrent");
      const item = el("li", {}, swatch, ` ${t("pjFootprintLabel", count - i, formatDate(f.created_at))} · ${state}`);
      item.dataset.footprint = String(f.id);
      return item;
    }));
    this.head.replaceChildren(el("h4", { textContent: t("pjFootprintMap") }), legend);
    this.canvas.setAttribute("aria-label", t("pjFootprintMap"));
    this.root.dataset.versions = String(count);
    this.root.hidden = !count;
    if (!count) { this.destroy(); return this.root; }
    if (this.shown !== footprints) {
      this.shown = footprints;
      if (this.map?.isStyleLoaded()) this.#setData(list);
      else if (!this.creating) this.#create(list);
      else this.pending = list;
    }
    return this.root;
  }

  #setData(list) {
    this.map.getSource(SOURCE).setData({ type: "FeatureCollection", features: versionFeatures(list) });
    this.map.fitBounds(boundsOf(list.map(f => f.geometry)), { padding: 40, maxZoom: 18, duration: 0 });
    this.#watch(this.map, list.length);
  }

  async #create(list) {
    this.creating = true;
    this.map?.remove();
    this.map = null;
    this.root.dataset.drawn = "";
    let base = { sources: {}, layers: [], glyphs: undefined };
    try {
      const style = await api("/tiles/style.json");
      base = this.context.layersByCode ? baseMapStyle(style, this.context.layersByCode) : { ...base, glyphs: style.glyphs };
    } catch { /* drawn without the 底图 */ }
    list = this.pending || list;
    this.pending = null;
    this.creating = false;
    const data = { type: "FeatureCollection", features: versionFeatures(list) };
    const current = ["==", ["get", "current"], true];
    const layers = [
      { id: "background", type: "background", paint: { "background-color": "#eef1f4" } },
      ...base.layers,
      { id: OLD_LINE, type: "line", source: SOURCE, filter: ["!", current],
        paint: { "line-color": OLD_COLOUR, "line-width": 2, "line-dasharray": [3, 2] } },
      { id: CURRENT_FILL, type: "fill", source: SOURCE, filter: current,
        paint: { "fill-color": CURRENT_COLOUR, "fill-opacity": 0.25 } },
      { id: CURRENT_LINE, type: "line", source: SOURCE, filter: current,
        paint: { "line-color": CURRENT_COLOUR, "line-width": 3.5 } },
    ];
    if (base.glyphs) {
      layers.push({ id: LABEL, type: "symbol", source: SOURCE,
        layout: { "text-field": ["get", "label"], "text-font": ["Noto Sans SC Regular"], "text-size": 12, "text-allow-overlap": true },
        paint: { "text-color": "#222222", "text-halo-color": "#ffffff", "text-halo-width": 1.2 } });
    }
    const style = { version: 8, sources: { ...base.sources, [SOURCE]: { type: "geojson", data } }, layers };
    if (base.glyphs) style.glyphs = base.glyphs;
    this.map = new maplibregl.Map({
      container: this.canvas, style, bounds: boundsOf(list.map(f => f.geometry)),
      fitBoundsOptions: { padding: 40, maxZoom: 18 }, maxZoom: 20, transformRequest: authorise,
      attributionControl: false, localIdeographFontFamily: false, locale: mapLocale(),
    });
    this.map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-right");
    this.map.on("error", event => { this.root.dataset.error = String(event.error?.message ?? event.error); });
    this.#watch(this.map, list.length);
  }

  /**
   * Once the map is drawn, note how many versions it shows (distinct features rendered, for tests and
   * tools). Polled, as the demolition map does.
   */
  #watch(map, expected) {
    clearInterval(this.watching);
    this.root.dataset.loaded = "false";
    this.watching = setInterval(() => {
      if (map !== this.map) { clearInterval(this.watching); return; }
      if (!map.loaded() || !map.areTilesLoaded()) return;
      const drawn = new Set(map.queryRenderedFeatures({ layers: [OLD_LINE, CURRENT_LINE] }).map(f => f.id));
      const current = new Set(map.queryRenderedFeatures({ layers: [CURRENT_LINE] }).map(f => f.id));
      if (drawn.size < expected) return;
      clearInterval(this.watching);
      Object.assign(this.root.dataset, { loaded: "true", drawn: String(drawn.size), current: [...current].join(",") });
    }, 100);
  }
}
