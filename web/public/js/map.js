// The MapLibre map: the catalog's style with ONE composite vector source listing the ticked layers.
import * as maplibregl from "/vendor/maplibre-gl/maplibre-gl.mjs";
import { authorise } from "./api.js";
import { mapLocale } from "./i18n.js";

const VECTOR_SOURCE = "duogui"; // the style's one vector source (app/tiles/style.py)
const HIGHLIGHT = "identify-highlight"; // the outline of the identified feature picked in the panel
const OPACITY_PAINT = {
  fill: ["fill-opacity"], line: ["line-opacity"], raster: ["raster-opacity"],
  circle: ["circle-opacity", "circle-stroke-opacity"], symbol: ["text-opacity"],
};

/**
 * The composite tile URL of the ticked vector layers, in catalog order (a stable URL is a cache hit).
 * `v` changes with the layers' current versions, so a new version is never drawn from the browser's cache.
 */
export const compositeTileUrl = layers =>
  `${location.origin}/tiles/${layers.map(l => l.code).join(",")}/{z}/{x}/{y}.mvt?v=${versionStamp(layers)}`;

function versionStamp(layers) {
  let hash = 0;
  for (const ch of layers.map(l => `${l.code}:${l.current_version}`).join(",")) {
    hash = (Math.imul(hash, 31) + ch.charCodeAt(0)) | 0;
  }
  return (hash >>> 0).toString(36);
}

/** Set the style's visibilities and tile URLs for the ticked layers before the map first loads it. */
function prepareStyle(style, layers, tileUrls) {
  const on = new Set(layers.map(l => l.code));
  for (const layer of style.layers) {
    const code = layer["source-layer"] || (layer.type === "raster" ? layer.id : null);
    if (code) layer.layout = { ...layer.layout, visibility: on.has(code) ? "visible" : "none" };
  }
  const vector = layers.filter(l => l.kind !== "raster");
  if (vector.length) {
    const url = compositeTileUrl(vector);
    style.sources[VECTOR_SOURCE].tiles = [url];
    tileUrls.set(VECTOR_SOURCE, url);
  }
  for (const raster of layers.filter(l => l.kind === "raster" && style.sources[l.code])) {
    const url = rasterTileUrl(raster);
    style.sources[raster.code].tiles = [url];
    tileUrls.set(raster.code, url);
  }
}

const rasterTileUrl = layer =>
  `${location.origin}/tiles/raster/${layer.code}/{z}/{x}/{y}.png?v=${layer.current_version}`;

/**
 * The 底图 alone, to lay under another map (the demolition units, a demand's location): the base-map
 * layers of `style` (/tiles/style.json, its metadata names them) that `layersByCode` (/api/layers) lists,
 * visible, with their sources and the style's glyphs. Returns {glyphs, sources, layers}.
 */
export function baseMapStyle(style, layersByCode) {
  // Only layers with data: an empty one has no tiles to fetch (and its failing requests keep a map unloaded).
  const layers = (style.metadata?.["duogui:base_map"] ?? []).map(code => layersByCode.get(code))
    .filter(layer => layer?.current_version != null);
  const on = new Set(layers.map(l => l.code));
  const tileUrls = new Map();
  prepareStyle(style, layers, tileUrls);
  const drawn = style.layers.filter(layer => on.has(layer["source-layer"] || (layer.type === "raster" ? layer.id : null)));
  const sources = {};
  for (const id of tileUrls.keys()) sources[id] = style.sources[id];
  return { glyphs: style.glyphs, sources, layers: drawn };
}

export class PlanMap {
  /**
   * A map in `container` drawing `style` (from /tiles/style.json) with the ticked `layers` on, framed on
   * `bounds` [w, s, e, n]; `onError(error)` hears failed tile and style requests.
   */
  constructor(container, style, bounds, layers, { onError, hash = "map" } = {}) {
    this.styleLayersOf = new Map(); // layer code → its style layer ids (fill, outline, label)
    this.baseOpacity = new Map(); // style layer id → {property: value} as the style had it
    for (const layer of style.layers) {
      const code = layer["source-layer"] || (layer.type === "raster" ? layer.id : null);
      if (!code) continue;
      if (!this.styleLayersOf.has(code)) this.styleLayersOf.set(code, []);
      this.styleLayersOf.get(code).push(layer.id);
      const base = {};
      for (const prop of OPACITY_PAINT[layer.type] || []) base[prop] = layer.paint?.[prop] ?? 1;
      this.baseOpacity.set(layer.id, base);
    }
    this.tileUrls = new Map(); // source id → the tile URL last set
    prepareStyle(style, layers, this.tileUrls);
    this.map = new maplibregl.Map({
      container,
      style,
      bounds,
      fitBoundsOptions: { padding: 20 },
      hash, // "map": the view is kept in the address (#map=zoom/lat/lon): reload and share keep the place
      maxZoom: 20,
      transformRequest: authorise,
      // Han characters too come from the served glyph ranges (/tiles/fonts, built from the bundled Noto Sans
      // SC), never from the machine's fonts: labels read the same on a client with no CJK font.
      localIdeographFontFamily: false,
      attributionControl: false,
      locale: mapLocale(),
    });
    this.map.addControl(new maplibregl.NavigationControl({ visualizePitch: false }), "top-right");
    this.map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-left");
    if (onError) this.map.on("error", event => onError(event.error));
    this.ready = new Promise(resolve => this.map.once("load", resolve));
  }

  /** Show exactly the ticked `layers` (/api/layers entries, catalog order): vector ones through ONE source. */
  show(layers) {
    const on = new Set(layers.map(l => l.code));
    for (const [code, ids] of this.styleLayersOf) {
      for (const id of ids) this.map.setLayoutProperty(id, "visibility", on.has(code) ? "visible" : "none");
    }
    const vector = layers.filter(l => l.kind !== "raster");
    const url = compositeTileUrl(vector);
    if (vector.length && url !== this.tileUrls.get(VECTOR_SOURCE)) {
      this.tileUrls.set(VECTOR_SOURCE, url);
      this.map.getSource(VECTOR_SOURCE).setTiles([url]);
    }
    for (const raster of layers.filter(l => l.kind === "raster")) {
      const rasterUrl = rasterTileUrl(raster);
      if (rasterUrl !== this.tileUrls.get(raster.code) && this.map.getSource(raster.code)) {
        this.tileUrls.set(raster.code, rasterUrl);
        this.map.getSource(raster.code).setTiles([rasterUrl]);
      }
    }
  }

  /** Scale the style's own opacities of one layer by `value` (0–1). */
  setOpacity(code, value) {
    for (const id of this.styleLayersOf.get(code) || []) {
      for (const [prop, base] of Object.entries(this.baseOpacity.get(id) || {})) {
        const scaled = typeof base === "number" ? base * value : value;
        this.map.setPaintProperty(id, prop, scaled);
      }
    }
  }

  /** Mark the clicked point. */
  markPoint(lngLat) {
    if (!this.marker) {
      const el = document.createElement("div");
      el.className = "identify-marker";
      this.marker = new maplibregl.Marker({ element: el });
    }
    this.marker.setLngLat(lngLat).addTo(this.map);
  }

  /** Outline one identified feature (a GeoJSON geometry in CRS84), or clear the outline with null. */
  highlight(geometry) {
    const data = { type: "FeatureCollection", features: geometry ? [{ type: "Feature", properties: {}, geometry }] : [] };
    if (!this.map.getSource(HIGHLIGHT)) {
      this.map.addSource(HIGHLIGHT, { type: "geojson", data });
      const kinds = (...types) => ["match", ["geometry-type"], types, true, false];
      const polygons = kinds("Polygon", "MultiPolygon");
      this.map.addLayer({ id: `${HIGHLIGHT}-fill`, type: "fill", source: HIGHLIGHT, filter: polygons,
        paint: { "fill-color": "#ffd400", "fill-opacity": 0.25 } });
      this.map.addLayer({ id: `${HIGHLIGHT}-line`, type: "line", source: HIGHLIGHT,
        filter: kinds("LineString", "MultiLineString", "Polygon", "MultiPolygon"),
        paint: { "line-color": "#ff7f00", "line-width": 3 } });
      this.map.addLayer({ id: `${HIGHLIGHT}-point`, type: "circle", source: HIGHLIGHT,
        filter: kinds("Point", "MultiPoint"),
        paint: { "circle-radius": 8, "circle-color": "rgba(0,0,0,0)", "circle-stroke-color": "#ff7f00", "circle-stroke-width": 3 } });
    } else {
      this.map.getSource(HIGHLIGHT).setData(data);
    }
  }

  zoom() { return this.map.getZoom(); }
  on(event, fn) { this.map.on(event, fn); }
  fitBounds(bounds) { this.map.fitBounds(bounds, { padding: 20, maxZoom: 17 }); }
  resize() { this.map.resize(); }
}
