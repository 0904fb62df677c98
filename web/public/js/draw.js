// A small polygon tool for the map (MapLibre has none): click vertices, double-click or “完成” to close the
// ring; and the highlight of a pre-evaluated footprint.
const DRAFT = "preeval-draft";
const FOOTPRINT = "preeval-footprint";
const CANDIDATES = "preeval-candidates"; // the sites gathered for a comparison (选址比选)
const EMPTY = { type: "FeatureCollection", features: [] };
const SAME_VERTEX_PX = 4; // a double-click's two clicks land on one spot: one vertex, not two

/** The [w, s, e, n] bounds of a GeoJSON geometry's coordinates. */
export function geometryBounds(geometry) {
  const bounds = [Infinity, Infinity, -Infinity, -Infinity];
  const visit = c => {
    if (typeof c[0] === "number") {
      bounds[0] = Math.min(bounds[0], c[0]); bounds[1] = Math.min(bounds[1], c[1]);
      bounds[2] = Math.max(bounds[2], c[0]); bounds[3] = Math.max(bounds[3], c[1]);
    } else c.forEach(visit);
  };
  visit(geometry.coordinates);
  return bounds;
}

export class FootprintDraw {
  /** Drawing on a MapLibre `map` (loaded); `onChange()` hears every vertex, finish and clear. */
  constructor(map, { onChange = () => {} } = {}) {
    Object.assign(this, { map, onChange, vertices: [], polygon: null, active: false });
    map.addSource(FOOTPRINT, { type: "geojson", data: EMPTY });
    map.addSource(DRAFT, { type: "geojson", data: EMPTY });
    map.addSource(CANDIDATES, { type: "geojson", data: EMPTY });
    map.addLayer({ id: `${CANDIDATES}-fill`, type: "fill", source: CANDIDATES,
      paint: { "fill-color": "#1f77b4", "fill-opacity": 0.1 } });
    map.addLayer({ id: `${CANDIDATES}-line`, type: "line", source: CANDIDATES,
      paint: { "line-color": "#1f77b4", "line-width": 2, "line-dasharray": [3, 2] } });
    const polygons = ["==", ["geometry-type"], "Polygon"];
    map.addLayer({ id: `${FOOTPRINT}-fill`, type: "fill", source: FOOTPRINT,
      paint: { "fill-color": "#d62728", "fill-opacity": 0.12 } });
    map.addLayer({ id: `${FOOTPRINT}-line`, type: "line", source: FOOTPRINT,
      paint: { "line-color": "#d62728", "line-width": 3 } });
    map.addLayer({ id: `${DRAFT}-fill`, type: "fill", source: DRAFT, filter: polygons,
      paint: { "fill-color": "#f0a500", "fill-opacity": 0.15 } });
    map.addLayer({ id: `${DRAFT}-line`, type: "line", source: DRAFT, filter: ["!=", ["geometry-type"], "Point"],
      paint: { "line-color": "#f0a500", "line-width": 2, "line-dasharray": [2, 1] } });
    map.addLayer({ id: `${DRAFT}-vertex`, type: "circle", source: DRAFT, filter: ["==", ["geometry-type"], "Point"],
      paint: { "circle-radius": 4, "circle-color": "#fff", "circle-stroke-color": "#f0a500", "circle-stroke-width": 2 } });
    map.on("click", event => { if (this.active) this.#add(event); });
    map.on("dblclick", event => {
      if (!this.active) return;
      event.preventDefault(); // no double-click zoom while drawing
      this.finish();
    });
  }

  /** Start a new polygon (the previous draft is dropped). */
  start() {
    Object.assign(this, { vertices: [], polygon: null, active: true });
    this.map.doubleClickZoom.disable();
    this.map.getCanvas().style.cursor = "crosshair";
    this.#draw();
  }

  /** Close the ring; false when there are fewer than three vertices (drawing goes on). */
  finish() {
    if (!this.active || this.vertices.length < 3) return false;
    this.polygon = { type: "Polygon", coordinates: [[...this.vertices, this.vertices[0]]] };
    this.#stop();
    return true;
  }

  /** Drop the draft and stop drawing. */
  clear() {
    Object.assign(this, { vertices: [], polygon: null });
    this.#stop();
  }

  /** Highlight a footprint (a GeoJSON geometry, or null to remove it) and frame the map on it. */
  showFootprint(geometry) {
    const data = geometry ? { type: "Feature", properties: {}, geometry } : EMPTY;
    this.map.getSource(FOOTPRINT).setData(data);
    if (geometry) {
      const [w, s, e, n] = geometryBounds(geometry);
      this.map.fitBounds([[w, s], [e, n]], { padding: 40, maxZoom: 18, duration: 0 });
    }
  }

  /** Outline the candidate sites of a comparison (GeoJSON polygons; an empty list removes them). */
  showCandidates(polygons) {
    const features = polygons.map((geometry, i) => ({ type: "Feature", properties: { index: i }, geometry }));
    this.map.getSource(CANDIDATES).setData({ type: "FeatureCollection", features });
  }

  #stop() {
    this.active = false;
    this.map.doubleClickZoom.enable();
    this.map.getCanvas().style.cursor = "";
    this.#draw();
  }

  #add(event) {
    const last = this.vertices.at(-1);
    if (last) {
      const p = this.map.project(last);
      if (Math.hypot(p.x - event.point.x, p.y - event.point.y) < SAME_VERTEX_PX) return;
    }
    this.vertices.push([event.lngLat.lng, event.lngLat.lat]);
    this.#draw();
  }

  #draw() {
    const points = this.vertices.map(c => ({ type: "Feature", properties: {}, geometry: { type: "Point", coordinates: c } }));
    const shapes = [];
    if (this.polygon) shapes.push({ type: "Feature", properties: {}, geometry: this.polygon });
    else if (this.vertices.length >= 2) {
      const ring = this.vertices.length >= 3 ? [...this.vertices, this.vertices[0]] : this.vertices;
      shapes.push({ type: "Feature", properties: {}, geometry: { type: "LineString", coordinates: ring } });
    }
    this.map.getSource(DRAFT).setData({ type: "FeatureCollection", features: [...shapes, ...(this.active ? points : [])] });
    this.onChange();
  }
}
