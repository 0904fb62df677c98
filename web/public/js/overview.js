// 领导驾驶舱 (the leaders' overview): projects by status, tier, type, sub-district and funding; investment;
// approvals in flight, overdue and by stage; KPIs by department and month; demolition progress. Charts from
// ECharts (served by the app from web/node_modules, never a CDN); every figure and bar opens its list.
import * as echarts from "/vendor/echarts/echarts.esm.min.mjs";
import { api, download, errorText } from "./api.js";
import { currentLang, formatCount, onLangChange, t } from "./i18n.js";
import { el, label, Orgs, ratio, wan } from "./projects_common.js";

const GROUPS = [
  ["status", "by_status", "pjStatus"],
  ["tier", "by_tier", "pjTier"],
  ["type", "by_type", "pjTypes"],
  ["subdistrict", "by_subdistrict", null],
  ["funding", "by_funding", null],
];

export class OverviewPage {
  /** root: the page's <main>; context: {user}. */
  constructor(root) {
    this.root = root;
    this.data = null;
    this.error = null;
    this.orgs = new Orgs();
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
    for (const chart of Object.values(this.charts)) chart.dispose();
    this.root.replaceChildren();
  }

  async load() {
    try {
      const [data, projects, orgs] = await Promise.all([api("/api/overview"), api("/api/projects"), api("/api/orgs")]);
      this.data = data;
      this.orgs = new Orgs(orgs);
      this.projects = new Map(projects.map(p => [p.id, p]));
      this.error = null;
    } catch (error) {
      this.error = error;
    }
    this.render();
  }

  groupName(kind, figure) {
    if (kind === "subdistrict") return figure.key === "unassigned" ? t("ovUnassigned") : this.orgs.name(figure.key);
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
      ? ids.map(id => this.projects.get(id)).filter(Boolean).map(p => el("li", { textContent: `${p.code} ${p.name} · ${label("pjStatus", p.status)} · ${wan(p.investment_wan)}` }))
      : ids.map(id => el("li", { textContent: t("ovItemNumber", id) }));
    box.replaceChildren(
      el("h3", { textContent: `${title}（${formatCount(ids.length)}）` }),
      rows.length ? el("ul", { id: "ov-list-rows" }, ...rows) : el("p", { className: "note", textContent: t("ovNone") }),
    );
    box.dataset.count = String(ids.length);
  }

  tile(id, title, value, ids, kind = "projects") {
    const button = el("button", { type: "button", className: "ov-tile", id: `ov-${id}` },
      el("span", { className: "ov-tile-value", textContent: value }), el("span", { textContent: title }));
    button.addEventListener("click", () => this.show(title, ids, kind));
    return button;
  }

  /** A bar chart with a list of buttons below it (the same figures, readable and clickable). */
  chart(id, title, figures, name, kind = "projects", value = f => f.count) {
    const box = el("div", { className: "ov-chart", id: `ov-chart-${id}` });
    const buttons = el("ul", { className: "ov-bars" }, ...figures.map(f => {
      const b = el("button", { type: "button", className: "link", textContent: `${name(f)}：${formatCount(value(f))}` });
      b.dataset.key = f.key;
      b.addEventListener("click", () => this.show(`${title} · ${name(f)}`, f.ids, kind));
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
      chart.on("click", p => { const f = figures[p.dataIndex]; if (f) this.show(`${title} · ${name(f)}`, f.ids, kind); });
      this.charts[id] = chart;
    });
    return section;
  }

  render() {
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
      this.tile("projects", t("ovProjects"), formatCount(d.projects.count), d.projects.ids),
      this.tile("planned", t("ovPlanned"), wan(d.investment_planned_wan.investment_wan), d.investment_planned_wan.ids),
      this.tile("under-way", t("ovUnderWay"), wan(d.investment_under_way_wan.investment_wan), d.investment_under_way_wan.ids),
      this.tile("in-flight", t("ovInFlight"), formatCount(d.approvals.in_flight.count), d.approvals.in_flight.ids, "items"),
      this.tile("overdue", t("ovOverdue"), formatCount(d.approvals.overdue.count), d.approvals.overdue.ids, "items"),
      this.tile("early", t("ovEarlyRate"), ratio(d.kpi_total[0]?.early_completion_rate), d.kpi_total[0]?.early_ids ?? [], "items"),
      this.tile("one-time", t("ovOneTimeRate"), ratio(d.kpi_total[0]?.one_time_pass_rate), d.kpi_total[0]?.one_time_pass_ids ?? [], "items"),
    );
    const charts = GROUPS.map(([kind, field]) => this.chart(kind, t(`ov_${kind}`), d[field], f => this.groupName(kind, f)));
    charts.push(this.chart("stage", t("ovStages"), d.approvals.by_stage, f => label("pjStages", f.key), "items"));
    const pct = v => (v == null ? 0 : Math.round(1000 * v) / 10);
    charts.push(this.chart("dept-early", t("ovDeptEarly"), d.kpi_by_department.map(r => ({ ...r, ids: r.early_ids })), r => this.orgs.name(r.key), "items", r => pct(r.early_completion_rate)));
    charts.push(this.chart("month-pass", t("ovMonthPass"), d.kpi_by_month.map(r => ({ ...r, ids: r.one_time_pass_ids })), r => r.key, "items", r => pct(r.one_time_pass_rate)));
    charts.push(this.chart("demolition", t("ovDemolition"), d.demolition.map(r => ({ key: r.code, ids: [r.project_id], ...r })), r => r.name, "projects", r => r.progress_pct ?? 0));
    const list = el("section", { className: "ov-card ov-list", id: "ov-list", ariaLive: "polite" },
      el("p", { className: "note", textContent: t("ovPick") }));
    this.root.replaceChildren(head, tiles, el("div", { className: "ov-grid" }, ...charts), list);
    this.root.lang = currentLang();
    for (const make of this.pending) make();
    this.renderList();
    this.root.dataset.ready = "true";
  }
}
