// 预警与绩效: e-supervision warnings (yellow near the promised limit, red overdue or a late 容缺 supplement)
// and the KPIs computed from the event log, as tables, with the KPI table as CSV or XLSX.
import { api, download } from "./api.js";
import { currentLang, formatCount, pick, t } from "./i18n.js";
import { day, el, field, itemName, label, message, ratio, select, table } from "./projects_common.js";

export class Supervision {
  /** ctx: {may, asOf, rerender, orgs, templates}. */
  constructor(ctx) {
    this.ctx = ctx;
    this.warnings = null;
    this.kpis = null;
    this.by = "department";
    this.kpisBy = this.by; // the grouping the loaded rows are of: labels follow the rows, not the selector
    this.notice = null;
    this.itemQuery = new URLSearchParams(); // a link's query (#/items?…): the approval items behind a figure
    this.items = null;
  }

  /** Load warnings and KPIs as of the page's date. */
  async load() {
    const params = new URLSearchParams();
    if (this.ctx.asOf()) params.set("as_of", this.ctx.asOf());
    try {
      const kpiParams = new URLSearchParams(params);
      const by = this.by;
      kpiParams.set("by", by);
      const items = this.itemQuery.toString();
      [this.warnings, this.kpis, this.items] = await Promise.all([
        api(`/api/warnings?${params}`), api(`/api/kpis?${kpiParams}`), items ? api(`/api/approval-items?${items}`) : null,
      ]);
      this.kpisBy = by;
      this.notice = null;
    } catch (error) {
      this.notice = error;
    }
    this.ctx.rerender();
  }

  render() {
    const box = el("section", { className: "pj-supervision" }, message(this.notice, "pj-supervision-notice"));
    if (this.items) box.append(el("h3", { textContent: t("pjLinkedItems") }), this.#items());
    box.append(el("h3", { textContent: t("pjWarnings") }), this.#warnings(), el("h3", { textContent: t("pjKpis") }), this.#kpis());
    return box;
  }

  #warnings() {
    if (this.warnings == null) return el("p", { className: "note", textContent: t("pjLoading") });
    if (!this.warnings.length) return el("p", { className: "note", id: "pj-no-warnings", textContent: t("pjNoWarnings") });
    const level = w => el("span", { className: `badge warn-${w.level}`, textContent: label("pjLevels", w.level) });
    return table([
      { key: "level", head: t("pjLevel"), cell: level },
      { key: "kind", head: t("pjKind"), cell: w => label("pjKinds", w.kind) },
      { key: "project", head: t("pjProject"), cell: w => `${w.project_code} ${w.project_name}` },
      { key: "item", head: t("pjItem"), cell: w => (w.item_name_zh ? itemName(w) : "—") },
      { key: "department", head: t("pjDepartment"), cell: w => this.ctx.orgs().name(w.department_code) },
      { key: "status", head: t("pjItemStatusLabel"), cell: w => label("pjItemStatus", w.status) },
      { key: "clock", head: t("pjUsed"), cell: w => (w.elapsed_days == null ? "—" : `${w.elapsed_days}/${w.promised_days}（${w.used_pct}%）`) },
      { key: "due", head: t("pjDue"), cell: w => day(w.due_on ?? w.supplement_due) },
      { key: "message", head: t("pjMessage"), cell: w => pick(w, "message") },
    ], this.warnings, {
      id: "pj-warnings", rowProps: w => ({ level: w.level, kind: w.kind, itemCode: w.item_code ?? "", className: `warn-${w.level}` }),
    });
  }

  /** The approval items a link asked for (an overview figure), each row a link to its project. */
  #items() {
    const named = [...this.itemQuery].filter(([key]) => key !== "as_of" && key !== "unit").map(([key, value]) => {
      if (key === "state") return label("pjItemState", value);
      if (key === "stage") return label("pjStages", value);
      if (key === "department") return this.ctx.orgs().name(value);
      if (key === "kpi") return label("pjKpiSet", value);
      return value;
    });
    const clear = el("a", { href: "#/projects", id: "pj-items-clear", textContent: t("pjLinkClear") });
    const count = el("p", { className: "note", id: "pj-items-count", textContent: `${named.join(" · ")} · ${t("pjItemsCount", this.items.length)} ` }, clear);
    count.dataset.count = String(this.items.length);
    const project = i => el("a", { href: `#/project/${i.project_id}`, textContent: `${i.project_code} ${i.project_name}` });
    return el("div", {}, count, table([
      { key: "project", head: t("pjProject"), cell: project },
      { key: "item", head: t("pjItem"), cell: i => itemName(i) },
      { key: "department", head: t("pjDepartment"), cell: i => this.ctx.orgs().name(i.department_code) },
      { key: "status", head: t("pjItemStatusLabel"), cell: i => label("pjItemStatus", i.status) },
      { key: "clock", head: t("pjUsed"), cell: i => `${i.elapsed_days}/${i.promised_days}` },
    ], this.items, { id: "pj-items", rowProps: i => ({ id: String(i.id) }) }));
  }

  #kpiKey(row) {
    if (this.kpisBy === "department") return this.ctx.orgs().name(row.key);
    if (this.kpisBy === "item") {
      if (row.name_zh) return itemName(row);
      for (const tpl of this.ctx.templates().values()) {
        const item = tpl.items.find(i => i.code === row.key);
        if (item) return itemName(item);
      }
    }
    return row.key === "total" ? t("pjTotal") : row.key;
  }

  #kpis() {
    const by = select(Object.entries(t("pjGroupBy")), this.by);
    by.addEventListener("change", () => { this.by = by.value; this.load(); });
    const exportButton = format => {
      const button = el("button", { type: "button", id: `pj-kpi-${format}`, textContent: t("pjExport", format.toUpperCase()) });
      button.addEventListener("click", async () => {
        const params = new URLSearchParams({ format, by: this.by, lang: currentLang() });
        if (this.ctx.asOf()) params.set("as_of", this.ctx.asOf());
        try { await download(`/api/kpis/export?${params}`, `kpis-${this.by}.${format}`); } catch (error) { this.notice = error; this.ctx.rerender(); }
      });
      return button;
    };
    const tools = el("div", { className: "pj-tools" }, field("pj-kpi-by", t("pjGroupByLabel"), by).wrap, exportButton("csv"), exportButton("xlsx"));
    if (this.kpis == null) return el("div", {}, tools, el("p", { className: "note", textContent: t("pjLoading") }));
    if (!this.kpis.length) return el("div", {}, tools, el("p", { className: "note", id: "pj-no-kpis", textContent: t("pjNoKpis") }));
    const num = formatCount;
    return el("div", {}, tools, el("p", { className: "note", textContent: t("pjKpiNote") }), table([
      { key: "key", head: t("pjGroup"), cell: r => this.#kpiKey(r) },
      { key: "items", head: t("pjKpiItems"), cell: r => num(r.items), className: "num" },
      { key: "finished", head: t("pjKpiFinished"), cell: r => num(r.finished), className: "num" },
      { key: "early", head: t("pjKpiEarly"), cell: r => num(r.early), className: "num" },
      { key: "early_rate", head: t("pjKpiEarlyRate"), cell: r => ratio(r.early_completion_rate), className: "num" },
      { key: "approved", head: t("pjKpiApproved"), cell: r => num(r.approved), className: "num" },
      { key: "one_time", head: t("pjKpiOneTime"), cell: r => num(r.one_time_pass), className: "num" },
      { key: "one_time_rate", head: t("pjKpiOneTimeRate"), cell: r => ratio(r.one_time_pass_rate), className: "num" },
      { key: "mean", head: t("pjKpiMean"), cell: r => (r.mean_working_days == null ? "—" : r.mean_working_days.toFixed(1)), className: "num" },
      { key: "overdue", head: t("pjKpiOverdue"), cell: r => num(r.overdue), className: "num" },
    ], this.kpis, { id: "pj-kpis", rowProps: r => ({ key: r.key }) }));
  }
}
