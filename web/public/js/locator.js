// A small map to pick a point on (a demand's location): the 底图 under a marker; a click sets the point. The
// node is kept between renders of its form, so the map is made once and keeps its view.
import * as maplibregl from "/vendor/maplibre-gl/maplibre-gl.mjs";
import { api, authorise } from "./api.js";
import { mapLocale, t } from "./i18n.js";
import { baseMapStyle } from "./map.js";
import { el } from "./panels.js";

export class PointPicker {
  /** `context`: {layersByCode (/api/layers), district (/api/district)}; `onPick(lon, lat)` hears a click. */
  constructor(context, onPick) {
    Object.assign(this, { context, onPick, map: null, marker: null });
    this.canvas = el("div", { className: "point-picker-map", id: "pj-d-map" });
    this.canvas.setAttribute("role", "application");
    this.node = el("div", { className: "point-picker" }, el("p", { className: "note", id: "pj-d-map-hint" }), this.canvas);
  }

  /** The node to place in the form, showing `lon`/`lat` (strings, maybe empty) as the marker. */
  render(lon, lat) {
    this.node.querySelector("p").textContent = t("pjPickOnMap");
    this.canvas.setAttribute("aria-label", t("pjPickOnMap"));
    if (!this.map && !this.creating) this.#create();
    else if (this.map) requestAnimationFrame(() => this.map?.resize()); // re-attached: the size may differ
    this.show(lon, lat);
    return this.node;
  }

  /** Put the marker at a typed or picked point (nothing for an empty or non-numeric one). */
  show(lon, lat) {
    const point = [Number(lon), Number(lat)];
    if (!this.map || `${lon}`.trim() === "" || `${lat}`.trim() === "" || !point.every(Number.isFinite)) {
      this.marker?.remove();
      return;
    }
    this.marker ??= new maplibregl.Marker({ color: "#d7301f" });
    this.marker.setLngLat(point).addTo(this.map);
  }

  async #create() {
    this.creating = true;
    const { layersByCode, district } = this.context;
    let base = { sources: {}, layers: [] };
    try {
      if (layersByCode) base = baseMapStyle(await api("/tiles/style.json"), layersByCode);
    } catch { /* no base map: the point can still be picked on the background */ }
    const style = { version: 8, glyphs: base.glyphs, sources: base.sources,
      layers: [{ id: "background", type: "background", paint: { "background-color": "#f4f3ef" } }, ...base.layers] };
    if (!style.glyphs) delete style.glyphs;
    this.map = new maplibregl.Map({
      container: this.canvas, style, bounds: district.extent, fitBoundsOptions: { padding: 10 }, maxZoom: 19,
      transformRequest: authorise, attributionControl: false,
      localIdeographFontFamily: false, // Han labels from the served glyphs, as on the main map
      locale: mapLocale(),
    });
    this.map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-right");
    this.map.on("click", event => {
      const lon = event.lngLat.lng.toFixed(6), lat = event.lngLat.lat.toFixed(6);
      this.onPick(lon, lat);
      this.show(lon, lat);
    });
    this.map.once("load", () => { this.canvas.dataset.ready = "true"; }); // for tests and tools
    this.creating = false;
  }

  destroy() { this.map?.remove(); this.map = null; }
}
