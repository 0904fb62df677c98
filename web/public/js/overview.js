// 领导驾驶舱 (the leaders' overview): projects by status, tier, type, sub-district and funding; investment;
// approvals in flight, overdue and by stage; KPIs by department and month; demolition progress; facility gaps
// by sub-district (stored gap answers). Charts from ECharts (served by the app from web/node_modules, never a
// CDN); every figure and bar is a link (the figure's `link`) to the page listing what it counts.
import * as echarts from "/vendor/echarts/echarts.esm.min.mjs";
import * as maplibregl from "/vendor/maplibre-gl/maplibre-gl.mjs";
import { api, authorise, download, errorText } from "./api.js";
import { currentLang, formatCount, formatNumber, mapLocale, onLangChange, t } from "./i18n.js";
import { baseMapStyle } from "./map.js";
import { el, label, Orgs, ratio, wan } from "./projects_common.js";

// Footprints coloured by status (as the project layer's legend would).
const STATUS_COLOURS = {
  reserve: "#7b8794", preparation: "#f0a202", construction: "#d7301f", completed: "#1a9850", stopped: "#444444",
};

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

const GROUPS = [
  ["status", "by_status", "pjStatus"],
  ["tier", "by_tier", "pjTier"],
  ["type", "by_type", "pjTypes"],
  ["subdistrict", "by_subdistrict", null],
  ["funding", "by_funding", null],
];

export class OverviewPage {
  /** root: the page's <main>; context: {user}. */
  constructor(root, context = {}) {
    this.root = root;
    this.layersByCode = context.layersByCode ?? null;
    this.map = null;
    this.data = null;
    this.error = null;
    this.orgs = new Orgs();
    this.items = new Map();
    this.projects = null; // id → project, for the lists behind figures
    this.selected = null;
    this.charts = {};
    root.ovCharts = this.charts; // for tests and tools
    onLangChange(() => { if (this.data) this.render(); });
  }

  async activate() {
    if (this.data === null) await this.load();
    else this.render();
  }

  destroy() {
    this.map?.remove();
    this.map = null;
    for (const chart of Object.values(this.charts)) chart.dispose();
    this.root.replaceChildren();
  }

  async load() {
    try {
      const [data, projects, orgs] = await Promise.all([api("/api/overview"), api("/api/projects"), api("/api/orgs")]);
      this.data = data;
      this.orgs = new Orgs(orgs);
      this.items = new Map(data.items.map(i => [i.id, i]));
      this.projects = new Map(projects.map(p => [p.id, p]));
      this.error = null;
    } catch (error) {
      this.error = error;
    }
    this.render();
  }

  groupName(kind, figure) {
    if (kind === "subdistrict") return figure.key === "unassigned" ? t("ovUnassigned") : (currentLang() === "en" && figure.name_en) || figure.name_zh || figure.key;
    const map = GROUPS.find(g => g[0] === kind)?.[2];
    return map ? label(map, figure.key) : figure.key;
  }

  /** Show the list behind a figure: its projects, or its approval items by id. */
  show(title, ids, kind = "projects") {
    this.selected = { title, ids, kind };
    this.renderList();
  }

  renderList() {
    const box = this.root.querySelector("#ov-list");
    if (!box || !this.selected) return;
    const { title, ids, kind } = this.selected;
    const rows = kind === "projects"
      ? ids.map(id => this.projects.get(id)).filter(Boolean).map(p => el("li", {}, el("a", { href: `#/project/${p.id}`, textContent: `${p.code} ${p.name}` }), ` · ${label("pjStatus", p.status)} · ${wan(p.investment_wan)}`))
      : ids.map(id => {
        const item = this.items.get(id);
        if (!item) return el("li", { textContent: t("ovItemNumber", id) });
        const project = this.projects.get(item.project_id);
        const name = (currentLang() === "en" && item.name_en) || item.name_zh;
        const link = el("a", { href: `#/project/${item.project_id}`, textContent: project ? `${project.code} ${project.name}` : t("ovItemNumber", id) });
        return el("li", {}, link, ` · ${name} · ${this.orgs.name(item.department_code)} · ${label("pjItemStatus", item.status)}`);
      });
    box.replaceChildren(
      el("h3", { textContent: `${title}（${formatCount(ids.length)}）` }),
      rows.length ? el("ul", { id: "ov-list-rows" }, ...rows) : el("p", { className: "note", textContent: t("ovNone") }),
    );
    box.dataset.count = String(ids.length);
  }

  /** A number: a link to the list behind it (else its list shown below the charts). */
  tile(id, title, value, ids, kind = "projects", link = null) {
    const node = el(link ? "a" : "button", { className: "ov-tile", id: `ov-${id}` },
      el("span", { className: "ov-tile-value", textContent: value }), el("span", { textContent: title }));
    if (link) node.href = link;
    else { node.type = "button"; node.addEventListener("click", () => this.show(title, ids, kind)); }
    return node;
  }

  /** Open what a figure counts: its list page (`link`), else its list below the charts. */
  open(title, figure, kind) {
    if (figure.link) location.hash = figure.link;
    else this.show(title, figure.ids, kind);
  }

  /** A bar chart with a list of buttons below it (the same figures, readable and clickable). */
  chart(id, title, figures, name, kind = "projects", value = f => f.count) {
    const box = el("div", { className: "ov-chart", id: `ov-chart-${id}` });
    const buttons = el("ul", { className: "ov-bars" }, ...figures.map(f => {
      const text = `${name(f)}：${formatCount(value(f))}`;
      const b = f.link ? el("a", { href: f.link, textContent: text }) : el("button", { type: "button", className: "link", textContent: text });
      b.dataset.key = f.key;
      if (!f.link) b.addEventListener("click", () => this.show(`${title} · ${name(f)}`, f.ids, kind));
      return el("li", {}, b);
    }));
    const section = el("section", { className: "ov-card" }, el("h3", { textContent: title }), box, buttons);
    this.pending.push(() => {
      const chart = echarts.init(box, null, { renderer: "canvas" });
      chart.setOption({
        animation: false,
        grid: { left: 8, right: 8, top: 8, bottom: 8, containLabel: true },
        xAxis: { type: "category", data: figures.map(name), axisLabel: { interval: 0, overflow: "truncate", width: 80 } },
        yAxis: { type: "value", minInterval: 1 },
        series: [{ type: "bar", data: figures.map(value), label: { show: true, position: "top" } }],
      });
      chart.on("click", p => { const f = figures[p.dataIndex]; if (f) this.open(`${title} · ${name(f)}`, f, kind); });
      this.charts[id] = chart;
    });
    return section;
  }

  /** The projects' current footprints on the 底图, coloured by status; a click opens that project. */
  mapCard() {
    const canvas = el("div", { className: "ov-map", id: "ov-map" });
    canvas.setAttribute("role", "region");
    canvas.setAttribute("aria-label", t("ovMap"));
    const places = this.data.places;
    const legend = el("ul", { className: "ov-bars" }, ...Object.keys(STATUS_COLOURS).map(s => {
      const swatch = el("span", { className: `ov-swatch ov-${s}` });
      swatch.setAttribute("aria-hidden", "true");
      return el("li", {}, swatch, ` ${label("pjStatus", s)}`);
    }));
    const note = places.length ? null : el("p", { className: "note", textContent: t("ovNoPlaces") });
    this.pending.push(() => this.drawMap(canvas, places));
    return el("section", { className: "ov-card ov-map-card" }, el("h3", { textContent: t("ovMap") }), canvas, legend, note);
  }

  async drawMap(canvas, places) {
    this.map?.remove();
    this.map = null;
    let base = { sources: {}, layers: [] };
    try {
      const style = await api("/tiles/style.json");
      if (this.layersByCode) base = baseMapStyle(style, this.layersByCode);
    } catch { /* drawn without the 底图 */ }
    if (!canvas.isConnected) return;
    const features = places.map(p => ({ type: "Feature", id: p.project_id, geometry: p.geometry, properties: { id: p.project_id, status: p.status } }));
    const colour = ["match", ["get", "status"], ...Object.entries(STATUS_COLOURS).flat(), "#7b8794"];
    const style = {
      version: 8,
      sources: { ...base.sources, "ov-places": { type: "geojson", data: { type: "FeatureCollection", features } } },
      layers: [
        { id: "background", type: "background", paint: { "background-color": "#eef1f4" } },
        ...base.layers,
        { id: "ov-places-fill", type: "fill", source: "ov-places", paint: { "fill-color": colour, "fill-opacity": 0.45 } },
        { id: "ov-places-line", type: "line", source: "ov-places", paint: { "line-color": colour, "line-width": 2 } },
      ],
    };
    if (base.glyphs) style.glyphs = base.glyphs;
    const bounds = boundsOf(places.map(p => p.geometry));
    const map = new maplibregl.Map({
      container: canvas, style, ...(bounds ? { bounds, fitBoundsOptions: { padding: 30, maxZoom: 16 } } : { center: [114.25, 22.7], zoom: 10 }),
      transformRequest: authorise, attributionControl: false, localIdeographFontFamily: false, locale: mapLocale(),
    });
    this.map = map;
    this.root.ovMap = map; // for tests and tools
    map.on("click", "ov-places-fill", event => {
      const id = event.features?.[0]?.properties?.id;
      const project = this.projects.get(id);
      if (id != null) this.show(project ? `${project.code} ${project.name}` : t("ovMap"), [id]);
    });
    map.on("load", () => { this.root.dataset.mapReady = "true"; });
  }

  /** Facility gaps by sub-district from the stored answers: not covered and shortfall, each a link to the
   * gaps page of that facility and sub-district; a facility type without an answer: not computed yet. */
  gapsCard() {
    const rows = [];
    for (const g of this.data.gaps) {
      const facility = el("a", { href: g.link, textContent: currentLang() === "en" ? g.name_en : g.name_zh });
      const unit = currentLang() === "en" ? g.unit_en : g.unit_zh;
      if (g.state === "not_computed") {
        const row = el("tr", {}, el("th", { scope: "row" }, facility), el("td", { colSpan: 3, className: "note" }, el("a", { href: g.link, textContent: t("ovGapNotComputed") })));
        row.dataset.facility = g.facility;
        rows.push(row);
        continue;
      }
      for (const a of [...g.subdistricts, g.district]) {
        const place = a.subdistrict == null ? t("ovGapDistrict") : (currentLang() === "en" ? a.name_en : a.name_zh) || a.subdistrict;
        const cell = text => el("td", { className: "num" }, el("a", { href: a.link, textContent: text }));
        const row = el("tr", { className: a.subdistrict == null ? "ov-gap-total" : "" },
          el("th", { scope: "row" }, facility.cloneNode(true)),
          el("td", {}, el("a", { href: a.link, textContent: place })),
          cell(formatCount(a.not_covered)),
          cell(`${formatNumber(a.shortfall, 1)} ${unit}`));
        Object.assign(row.dataset, { facility: g.facility, subdistrict: a.subdistrict ?? "" });
        rows.push(row);
      }
      const when = g.computed_at ? g.computed_at.slice(0, 10) : "";
      const versions = [...g.layers, ...g.network].map(v => `${v.layer} v${v.number}`).join(", ");
      rows.push(el("tr", { className: "note" }, el("td", { colSpan: 4, className: "note" },
        t(g.state === "stale" ? "ovGapStale" : "ovGapAnswer", when, g.standards_version ?? "", versions))));
    }
    const head = el("tr", {}, ...["ovGapFacility", "ovGapPlace", "ovGapNotCovered", "ovGapShortfall"].map(k => el("th", { scope: "col", textContent: t(k) })));
    const table = el("table", { id: "ov-gaps", className: "ov-gaps" }, el("thead", {}, head), el("tbody", {}, ...rows));
    return el("section", { className: "ov-card ov-gaps-card" }, el("h3", { textContent: t("ovGaps") }), el("div", { className: "ov-scroll" }, table));
  }

  render() {
    this.root.dataset.mapReady = "";
    for (const chart of Object.values(this.charts)) chart.dispose();
    for (const key of Object.keys(this.charts)) delete this.charts[key];
    this.pending = [];
    const head = el("div", { className: "pj-head" }, el("h2", { textContent: t("ovTitle") }));
    if (this.error || !this.data) {
      this.root.replaceChildren(head, el("p", { className: "error", textContent: this.error ? errorText(this.error) : t("pjLoading") }));
      return;
    }
    const d = this.data;
    const exportButton = el("button", { type: "button", id: "ov-export", textContent: t("ovExport") });
    exportButton.addEventListener("click", () => download("/api/overview.xlsx", "overview.xlsx"));
    head.append(el("span", { className: "note", textContent: t("ovAsOf", d.as_of) }), exportButton);
    const tiles = el("div", { className: "ov-tiles" },
      this.tile("projects", t("ovProjects"), formatCount(d.projects.count), d.projects.ids, "projects", d.projects.link),
      this.tile("planned", t("ovPlanned"), wan(d.investment_planned_wan.investment_wan), d.investment_planned_wan.ids, "projects", d.investment_planned_wan.link),
      this.tile("under-way", t("ovUnderWay"), wan(d.investment_under_way_wan.investment_wan), d.investment_under_way_wan.ids, "projects", d.investment_under_way_wan.link),
      this.tile("in-flight", t("ovInFlight"), formatCount(d.approvals.in_flight.count), d.approvals.in_flight.ids, "items", d.approvals.in_flight.link),
      this.tile("overdue", t("ovOverdue"), formatCount(d.approvals.overdue.count), d.approvals.overdue.ids, "items", d.approvals.overdue.link),
      this.tile("early", t("ovEarlyRate"), ratio(d.kpi_total[0]?.early_completion_rate), d.kpi_total[0]?.early_ids ?? [], "items", d.kpi_total[0]?.links.early),
      this.tile("one-time", t("ovOneTimeRate"), ratio(d.kpi_total[0]?.one_time_pass_rate), d.kpi_total[0]?.one_time_pass_ids ?? [], "items", d.kpi_total[0]?.links.one_time_pass),
    );
    const charts = GROUPS.map(([kind, field]) => this.chart(kind, t(`ov_${kind}`), d[field], f => this.groupName(kind, f)));
    charts.push(this.chart("stage", t("ovStages"), d.approvals.by_stage, f => label("pjStages", f.key), "items"));
    const pct = v => (v == null ? 0 : Math.round(1000 * v) / 10);
    charts.push(this.chart("dept-early", t("ovDeptEarly"), d.kpi_by_department.map(r => ({ ...r, ids: r.early_ids, link: r.links.early })), r => this.orgs.name(r.key), "items", r => pct(r.early_completion_rate)));
    charts.push(this.chart("month-pass", t("ovMonthPass"), d.kpi_by_month.map(r => ({ ...r, ids: r.one_time_pass_ids, link: r.links.one_time_pass })), r => r.key, "items", r => pct(r.one_time_pass_rate)));
    charts.push(this.chart("demolition", t("ovDemolition"), d.demolition.map(r => ({ ...r, key: r.code, ids: [r.project_id] })), r => r.name, "projects", r => r.progress_pct ?? 0));
    const list = el("section", { className: "ov-card ov-list", id: "ov-list", ariaLive: "polite" },
      el("p", { className: "note", textContent: t("ovPick") }));
    this.root.replaceChildren(head, tiles, el("div", { className: "ov-grid" }, this.mapCard(), ...charts), this.gapsCard(), list);
    this.root.lang = currentLang();
    for (const make of this.pending) make();
    this.renderList();
    this.root.dataset.ready = "true";
  }
}
