// The pre-evaluation (预评价) tab: a footprint drawn on the map or uploaded, the project type, the report, and the
// user's stored reports with their stale marks and re-check.
import { api, download, errorText } from "./api.js";
import { FootprintDraw } from "./draw.js";
import { currentLang, formatCount, formatDate, pick, t } from "./i18n.js";
import { el } from "./panels.js";
import { area, percent, projectTypeName, reportView, verdictName } from "./preeval_report.js";

const $ = id => document.getElementById(id);
const BASE = "/api/pre-evaluations";
const MAX_SITES = 5; // the comparison endpoint takes 2–5 candidates

/** A message of the page itself (not from the API), shown in whichever language is chosen. */
const localError = key => ({ key });

export class PreEvalPage {
  /** The tab over the workspace's `planMap` (loaded); `layersByCode` names the layers of the findings. */
  constructor(planMap, layersByCode) {
    this.layersByCode = layersByCode;
    this.rules = null;
    this.reports = null; // the list, newest first
    this.stored = null; // the report shown
    this.error = null;
    this.busy = false;
    this.sites = []; // candidate sites for a comparison: {name, polygon}
    this.sitesAdded = 0;
    this.comparison = null;
    this.batch = null;
    this.events = new AbortController();
    this.draw = new FootprintDraw(planMap.map, { onChange: () => this.#drawStatus() });
    this.#wire();
    this.#reset();
  }

  /** True while vertices are being clicked (the map's identify then stands aside). */
  drawing() { return this.draw.active; }

  /** Forget the listeners of this session (the page's static form outlives it). */
  destroy() { this.events.abort(); }

  /** Load the rules and the list on first showing; later showings keep what is there. */
  async activate() {
    if (this.rules) return;
    try {
      const [rules, reports] = await Promise.all([api(`${BASE}/rules`), api(`${BASE}?limit=100`)]);
      Object.assign(this, { rules, reports });
      this.#fillTypes();
      this.render();
    } catch (error) {
      this.#fail(error);
    }
  }

  /** Draw everything that carries language again (after a switch). */
  render() {
    this.#fillTypes();
    this.#drawStatus();
    this.#renderReport();
    this.#renderSites();
    this.#renderComparison();
    this.#renderBatch();
    this.#renderList();
    this.#renderError();
  }

  #reset() {
    for (const id of ["preeval-report", "preeval-list"]) $(id).replaceChildren();
    $("preeval-type").replaceChildren();
    $("preeval-flags").querySelectorAll(".flag").forEach(n => n.remove());
    $("preeval-status").textContent = "";
    $("preeval-error").textContent = "";
    this.#sourceChanged();
  }

  #wire() {
    const on = (id, type, fn) => $(id).addEventListener(type, fn, { signal: this.events.signal });
    on("preeval-draw", "click", () => { this.draw.start(); this.#clearError(); });
    on("preeval-finish", "click", () => {
      if (!this.draw.finish()) this.#fail(localError("drawing"));
    });
    on("preeval-clear", "click", () => this.draw.clear());
    on("preeval-source-draw", "change", () => this.#sourceChanged());
    on("preeval-source-file", "change", () => this.#sourceChanged());
    on("preeval-form", "submit", event => { event.preventDefault(); this.#run(); });
    on("preeval-add-site", "click", () => this.#addSite());
    on("preeval-compare", "click", () => this.#compare());
    on("preeval-file-batch", "click", () => this.#fileMany("batch"));
    on("preeval-file-compare", "click", () => this.#fileMany("compare"));
  }

  #sourceChanged() {
    const file = $("preeval-source-file").checked;
    $("preeval-draw-tools").hidden = file;
    $("preeval-file-tools").hidden = !file;
    if (file) this.draw.clear();
  }

  #fillTypes() {
    if (!this.rules) return;
    const select = $("preeval-type");
    const chosen = select.value;
    const types = Object.entries(this.rules.settings.project_types);
    select.replaceChildren(el("option", { value: "", textContent: `— ${t("projectType")} —` }),
      ...types.map(([key, type]) => el("option", { value: key, textContent: pick(type) })));
    select.value = chosen;
    const flags = $("preeval-flags");
    const ticked = new Set([...flags.querySelectorAll("input:checked")].map(i => i.value));
    flags.querySelectorAll(".flag").forEach(n => n.remove());
    for (const [key, flag] of Object.entries(this.rules.settings.project_flags)) {
      const box = el("input", { type: "checkbox", id: `preeval-flag-${key}`, value: key, checked: ticked.has(key) });
      flags.append(el("div", { className: "field inline flag" }, box, el("label", { htmlFor: box.id, textContent: pick(flag) })));
    }
  }

  #drawStatus() {
    const n = this.draw.vertices.length;
    const text = this.draw.active ? t("drawing", n) : this.draw.polygon ? t("drawn", n) : t("drawNone");
    $("preeval-draw-status").textContent = this.draw.active ? `${text} ${t("drawHint")}` : text;
    $("preeval-finish").disabled = !this.draw.active;
  }

  /** The request of the form as it stands, or a local error. */
  #request() {
    const type = $("preeval-type").value;
    if (!type) return { error: localError("chooseType") };
    const code = $("preeval-code").value.trim() || null;
    const flags = [...$("preeval-flags").querySelectorAll("input:checked")].map(i => i.value);
    if ($("preeval-source-file").checked) {
      const file = $("preeval-file").files[0];
      if (!file) return { error: localError("chooseFile") };
      const body = new FormData();
      body.append("file", file);
      body.append("project_type", type);
      if (code) body.append("project_code", code);
      if ($("preeval-crs").value.trim()) body.append("crs", $("preeval-crs").value.trim());
      if (flags.length) body.append("flags", flags.join(","));
      return { path: `${BASE}/upload`, body };
    }
    if (!this.draw.polygon) return { error: localError("drawFirst") };
    const body = JSON.stringify({ footprint: this.draw.polygon, project_type: type, project_code: code, flags });
    return { path: BASE, body, headers: { "Content-Type": "application/json" } };
  }

  async #run() {
    const request = this.#request();
    if (request.error) { this.#fail(request.error); return; }
    await this.#busyWith(t("running"), async () => {
      const stored = await api(request.path, { method: "POST", body: request.body, headers: request.headers });
      await this.#show(stored);
      this.draw.clear();
    });
  }

  /**
   * Every feature of the chosen file as a footprint of its own: checked one by one (`batch`, a refused
   * feature gets its reason) or compared as 2–5 candidate sites (`compare`).
   */
  async #fileMany(kind) {
    const request = this.#request();
    if (!request.error && !$("preeval-source-file").checked) request.error = localError("chooseFile");
    if (request.error) { this.#fail(request.error); return; }
    await this.#busyWith(t(kind === "batch" ? "batching" : "comparing"), async () => {
      const answer = await api(`${BASE}/${kind}/upload`, { method: "POST", body: request.body });
      if (kind === "compare") { this.#showComparison(answer); return; }
      this.batch = answer;
      this.#renderBatch();
      $("preeval-batch").scrollIntoView?.({ block: "start" });
    });
  }

  #renderBatch() {
    const root = $("preeval-batch");
    const b = this.batch;
    if (!b) { root.replaceChildren(); return; }
    const columns = ["featureIndex", "featureName", "verdict", "prohibitedArea", "conditionalArea", "households",
      "buildableShare", "openReport"];
    const head = el("tr", {}, ...columns.map(k => el("th", { scope: "col", textContent: t(k) })));
    const rows = b.items.map(item => {
      const s = item.summary;
      const cells = [String(item.index + 1), item.name || "—"];
      if (!s) {
        const reason = currentLang() === "en" ? item.error.message_en : item.error.message_zh;
        const row = el("tr", { className: "failed" }, ...cells.map(c => el("td", { textContent: c })),
          el("td", { colSpan: columns.length - 2, textContent: `${t("notChecked")}：${reason}` }));
        row.dataset.index = item.index;
        return row;
      }
      const open = el("button", { type: "button", className: "link", textContent: `#${s.report_id}`, onclick: () => this.open(s.report_id) });
      const row = el("tr", {}, ...[...cells, verdictName(s.verdict), area(s.prohibited_area_m2), area(s.conditional_area_m2),
        formatCount(s.households), percent(s.buildable_share_pct)].map(c => el("td", { textContent: c })), el("td", {}, open));
      row.dataset.index = item.index;
      return row;
    });
    root.replaceChildren(
      el("h3", { textContent: t("batchTitle", b.count, b.checked, b.failed) }),
      el("div", { className: "scroll" }, el("table", { className: "versions batch" }, el("thead", {}, head), el("tbody", {}, ...rows))));
  }

  /** The drawn footprint becomes a candidate site of the comparison (选址比选). */
  #addSite() {
    if (!this.draw.polygon) { this.#fail(localError("drawFirst")); return; }
    if (this.sites.length >= MAX_SITES) { this.#fail(localError("tooManySites")); return; }
    this.sitesAdded += 1;
    this.sites.push({ name: t("siteName", this.sitesAdded), polygon: this.draw.polygon });
    this.draw.clear();
    this.#clearError();
    this.#renderSites();
  }

  #renderSites() {
    const list = $("preeval-site-list");
    list.replaceChildren(...this.sites.map((site, i) => el("li", {},
      el("span", { textContent: site.name }), " ",
      el("button", { type: "button", className: "link", textContent: t("removeSite"),
        onclick: () => { this.sites.splice(i, 1); this.#renderSites(); } }))));
    $("preeval-compare").disabled = this.sites.length < 2;
    $("preeval-compare").title = this.sites.length ? t("sitesNote", this.sites.length) : "";
    this.draw.showCandidates(this.sites.map(s => s.polygon));
  }

  /** Check every candidate and show them side by side with the recommendation order. */
  async #compare() {
    const type = $("preeval-type").value;
    if (!type) { this.#fail(localError("chooseType")); return; }
    if (this.sites.length < 2) { this.#fail(localError("tooFewSites")); return; }
    const body = JSON.stringify({
      project_type: type,
      project_code: $("preeval-code").value.trim() || null,
      flags: [...$("preeval-flags").querySelectorAll("input:checked")].map(i => i.value),
      candidates: this.sites.map(s => ({ name: s.name, footprint: s.polygon })),
    });
    await this.#busyWith(t("comparing"), async () => {
      this.#showComparison(await api(`${BASE}/compare`, { method: "POST", body, headers: { "Content-Type": "application/json" } }));
    });
  }

  #showComparison(comparison) {
    this.comparison = comparison;
    this.#renderComparison();
    $("preeval-comparison").scrollIntoView?.({ block: "start" });
  }

  #renderComparison() {
    const root = $("preeval-comparison");
    const c = this.comparison;
    if (!c) { root.replaceChildren(); return; }
    const sites = c.candidates;
    const yuan = v => (v == null ? "—" : `${formatCount(Math.round(v))} ${t("yuan")}`);
    const rows = [
      ["rank", s => (s.rank === 1 ? `${s.rank}（${t("recommended")}）` : String(s.rank))],
      ["verdict", s => verdictName(s.verdict)],
      ["footprintArea", s => area(s.footprint_area_m2)],
      ["prohibitedArea", s => area(s.prohibited_area_m2)],
      ["conditionalArea", s => area(s.conditional_area_m2)],
      ["buildings", s => formatCount(s.buildings)],
      ["households", s => formatCount(s.households)],
      ["compensation", s => yuan(s.compensation_yuan)],
      ["approvalsCount", s => formatCount(s.approvals.length)],
      ["buildableShare", s => percent(s.buildable_share_pct)],
      ["notCheckableCount", s => formatCount(s.not_checkable)],
    ];
    const head = el("tr", {}, el("th", { scope: "col" }),
      ...sites.map(s => el("th", { scope: "col", className: s.rank === 1 ? "recommended" : "", textContent: s.name })));
    const body = rows.map(([key, value]) => {
      const row = el("tr", {}, el("th", { scope: "row", textContent: t(key) }), ...sites.map(s => el("td", { textContent: value(s) })));
      row.dataset.metric = key;
      return row;
    });
    const open = el("tr", {}, el("th", { scope: "row", textContent: t("openReport") }), ...sites.map(s => el("td", {},
      s.report_id ? el("button", { type: "button", className: "link", textContent: `#${s.report_id}`, onclick: () => this.open(s.report_id) }) : "—")));
    root.replaceChildren(
      el("h3", { textContent: t("comparisonTitle") }),
      el("table", { className: "versions comparison" }, el("thead", {}, head), el("tbody", {}, ...body, open)),
      el("p", { className: "note", textContent: `${t("orderingRule")}：${pick(c, "ordering_rule")}` }));
  }

  /** Open a stored report from the list. */
  open(id) {
    return this.#busyWith("…", async () => this.#show(await api(`${BASE}/${id}`)), false);
  }

  #recheck(id) {
    return this.#busyWith(t("rechecking"), async () => this.#show(await api(`${BASE}/${id}/recheck`, { method: "POST" })));
  }

  /**
   * Run one step with the form disabled; the page changes only when the whole step succeeded, and an API
   * error leaves what was shown in place. `refresh`: the list changed too.
   */
  async #busyWith(status, step, refresh = true) {
    if (this.busy) return;
    this.busy = true;
    const buttons = ["preeval-run", "preeval-file-batch", "preeval-file-compare"].map($);
    for (const button of buttons) button.disabled = true;
    $("preeval-status").textContent = status;
    this.#clearError();
    try {
      await step();
      if (refresh) {
        this.reports = await api(`${BASE}?limit=100`);
        this.#renderList();
      }
    } catch (error) {
      this.#fail(error);
    } finally {
      this.busy = false;
      for (const button of buttons) button.disabled = false;
      $("preeval-status").textContent = "";
    }
  }

  /** Fetch the report's footprint, then show both at once. */
  async #show(stored) {
    const footprint = await api(`${BASE}/${stored.id}/footprint`);
    this.stored = stored;
    this.#renderReport();
    this.#renderList();
    this.draw.showFootprint(footprint.geometry);
    $("preeval-report").scrollIntoView?.({ block: "start" });
  }

  #renderReport() {
    const root = $("preeval-report");
    if (!this.stored) { root.replaceChildren(); return; }
    root.replaceChildren(reportView(this.stored, {
      rules: this.rules,
      layersByCode: this.layersByCode,
      onRecheck: id => this.#recheck(id),
      onDownload: (id, kind) => this.#download(id, kind),
    }));
  }

  async #download(id, kind) {
    const lang = currentLang() === "en" ? "en" : "zh";
    const query = kind === "html" ? `?download=1&lang=${lang}` : `?lang=${lang}`;
    try {
      await download(`${BASE}/${id}/report.${kind}${query}`, `pre-evaluation-${id}.${kind}`);
    } catch (error) {
      this.#fail(error);
    }
  }

  #renderList() {
    const root = $("preeval-list");
    if (!this.reports) { root.replaceChildren(); return; }
    if (!this.reports.length) { root.replaceChildren(el("p", { className: "note", textContent: t("noReports") })); return; }
    const head = el("tr", {}, ...["reportId", "evaluatedAt", "type", "verdict"].map(k => el("th", { scope: "col", textContent: t(k) })));
    const rows = this.reports.map(r => {
      const open = el("button", { type: "button", className: "link", textContent: `#${r.id}`, onclick: () => this.open(r.id) });
      open.setAttribute("aria-label", `${t("open")} ${t("reportTitle", r.id)}`);
      const verdict = el("span", { className: "verdict-cell", textContent: verdictName(r.verdict) });
      const row = el("tr", { className: r.id === this.stored?.id ? "current" : "" },
        el("td", {}, open),
        el("td", {}, el("div", { textContent: formatDate(r.created_at, true) }), r.project_code ? el("div", { textContent: r.project_code }) : null),
        el("td", { textContent: projectTypeName(this.rules, r.project_type) }),
        el("td", {}, verdict, r.stale ? el("span", { className: "badge stale", textContent: t("staleReport") }) : null));
      row.dataset.id = r.id;
      return row;
    });
    root.replaceChildren(el("table", { className: "versions reports" }, el("thead", {}, head), el("tbody", {}, ...rows)));
  }

  #fail(error) {
    this.error = error;
    this.#renderError();
  }

  #clearError() { this.error = null; this.#renderError(); }

  #renderError() {
    const error = this.error;
    $("preeval-error").textContent = !error ? "" : error.key ? t(error.key, this.draw.vertices.length) : errorText(error);
  }
}
