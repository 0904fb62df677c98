// The gap page's map: the cells in deficit (shaded by shortfall) and the ranked candidate sites over the 底图.
// The answer names features by layer and fid only, so their outlines come from the OGC API's single-feature
// route (/ogc/collections/{layer}/items/{fid}, CRS84), the largest deficits first and at most MAX_CELLS.
import * as maplibregl from "/vendor/maplibre-gl/maplibre-gl.mjs";
import { api, authorise } from "./api.js";
import { mapLocale, t } from "./i18n.js";
import { el } from "./panels.js";
import { baseMapStyle } from "./map.js";

const MAX_CELLS = 60;
const CELL_LAYER = "cur_population";

/** [w, s, e, n] of GeoJSON features, or null when none has a geometry. */
function bounds(features) {
  const box = [Infinity, Infinity, -Infinity, -Infinity];
  const walk = c => {
    if (typeof c[0] === "number") {
      box[0] = Math.min(box[0], c[0]); box[1] = Math.min(box[1], c[1]);
      box[2] = Math.max(box[2], c[0]); box[3] = Math.max(box[3], c[1]);
    } else c.forEach(walk);
  };
  for (const f of features) if (f.geometry) walk(f.geometry.coordinates);
  return Number.isFinite(box[0]) ? box : null;
}

/** One feature's geometry from the OGC API (null when it cannot be read). */
async function geometry(layer, fid) {
  try {
    return (await api(`/ogc/collections/${encodeURIComponent(layer)}/items/${fid}`)).geometry ?? null;
  } catch {
    return null;
  }
}

export class GapMap {
  /** context: {layersByCode} (the map's layer list; without it, no 底图 under the features). */
  constructor(context) {
    this.context = context;
    this.map = null;
    this.answer = null;
    this.root = el("section", { className: "gp-map", id: "gp-map" });
    this.canvas = el("div", { className: "gp-map-canvas" });
    this.canvas.setAttribute("role", "region");
  }

  destroy() {
    clearInterval(this.watching);
    this.map?.remove();
    this.map = null;
  }

  /** The section for `answer` (its map is made, or kept, once the features are read). */
  render(answer) {
    this.canvas.setAttribute("aria-label", t("gpMap"));
    const legend = el("ul", { className: "gp-legend" },
      el("li", {}, el("span", { className: "gp-swatch gp-swatch-cell" }), ` ${t("gpMapCells")}`),
      el("li", {}, el("span", { className: "gp-swatch gp-swatch-site" }), ` ${t("gpMapSites")}`));
    this.root.replaceChildren(el("h3", { textContent: t("gpMap") }), legend, this.canvas);
    if (answer !== this.answer) { this.answer = answer; this.#load(answer); }
    return this.root;
  }

  async #load(answer) {
    const ticket = (this.ticket ?? 0) + 1;
    this.ticket = ticket;
    this.root.dataset.loaded = "false";
    const cells = answer.deficit_cells.slice(0, MAX_CELLS);
    const [cellShapes, siteShapes, base] = await Promise.all([
      Promise.all(cells.map(c => geometry(CELL_LAYER, c.fid))),
      Promise.all(answer.candidates.map(c => geometry(c.layer, c.fid))),
      this.context.layersByCode ? api("/tiles/style.json").then(s => baseMapStyle(s, this.context.layersByCode))
        .catch(() => ({ sources: {}, layers: [] })) : { sources: {}, layers: [] },
    ]);
    if (ticket !== this.ticket) return;
    const max = Math.max(1e-9, ...cells.map(c => c.shortfall));
    const cellFeatures = cells.map((c, i) => ({ type: "Feature", geometry: cellShapes[i],
      properties: { share: c.shortfall / max } })).filter(f => f.geometry);
    const siteFeatures = answer.candidates.map((c, i) => ({ type: "Feature", geometry: siteShapes[i],
      properties: { rank: String(c.rank) } })).filter(f => f.geometry);
    Object.assign(this.root.dataset, { cells: String(cellFeatures.length), sites: String(siteFeatures.length) });
    const box = bounds([...cellFeatures, ...siteFeatures]);
    this.destroy();
    this.canvas.hidden = !box;
    if (!box) { this.root.dataset.loaded = "true"; return; }
    const style = {
      version: 8, glyphs: base.glyphs, sources: {
        ...base.sources,
        "gap-cells": { type: "geojson", data: { type: "FeatureCollection", features: cellFeatures } },
        "gap-sites": { type: "geojson", data: { type: "FeatureCollection", features: siteFeatures } },
      },
      layers: [
        { id: "background", type: "background", paint: { "background-color": "#eef1f4" } }, ...base.layers,
        { id: "gap-cells", type: "fill", source: "gap-cells", paint: {
          "fill-color": "#c0392b", "fill-opacity": ["+", 0.25, ["*", 0.6, ["get", "share"]]] } },
        { id: "gap-cells-line", type: "line", source: "gap-cells", paint: { "line-color": "#922b21", "line-width": 1 } },
        { id: "gap-sites", type: "circle", source: "gap-sites", paint: {
          "circle-radius": 7, "circle-color": "#1f6fb2", "circle-stroke-color": "#ffffff", "circle-stroke-width": 2 } },
      ],
    };
    if (!style.glyphs) delete style.glyphs;
    const [w, s, e, n] = box;
    const pad = 0.002;
    this.map = new maplibregl.Map({
      container: this.canvas, style, bounds: [w - pad, s - pad, e + pad, n + pad], maxZoom: 19,
      transformRequest: authorise, attributionControl: false, localIdeographFontFamily: false, locale: mapLocale(),
    });
    this.map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-right");
    this.map.on("error", event => { this.root.dataset.error = String(event.error?.message ?? event.error); });
    const map = this.map;
    this.watching = setInterval(() => {
      if (map !== this.map) { clearInterval(this.watching); return; }
      if (!map.loaded() || !map.areTilesLoaded()) return;
      clearInterval(this.watching);
      this.root.dataset.loaded = "true"; // for tests and tools
    }, 100);
  }
}
