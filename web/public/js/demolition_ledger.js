// The ledger (台账): the project's units in a table — filter by status, search, sort — and its downloads.
import { download, errorText } from "./api.js";
import { formatCount, formatDate, pick, t } from "./i18n.js";
import { el } from "./panels.js";
import { fill, formatNumber, statusSwatch } from "./demolition_progress.js";

// The columns: key, header text key, the value sorted on, and the cell's text.
const COLUMNS = [
  { key: "unit_code", label: "dmUnitCode", sort: u => u.unit_code },
  { key: "owner_name", label: "dmOwner", sort: u => u.owner_name ?? "" },
  { key: "address", label: "dmAddress", sort: u => u.address ?? "" },
  { key: "owner_type", label: "dmOwnerType", sort: u => u.owner_type ?? "" },
  { key: "floor_area_m2", label: "dmFloorAreaM2", sort: u => Number(u.floor_area_m2), numeric: true },
  { key: "households", label: "dmHouseholds", sort: u => u.households, numeric: true },
  { key: "status", label: "dmStatus", sort: u => u.statusOrder },
  { key: "updated_at", label: "dmUpdated", sort: u => u.updated_at },
];

export const ownerTypeName = code => (code ? t("dmOwnerTypes")[code] ?? code : "—");

export class LedgerTable {
  /** The ledger of `page`'s project, drawn into `root`. */
  constructor(root, page) {
    this.root = root;
    this.page = page;
    this.reset();
  }

  /** A new project: no filter, code order. */
  reset() {
    this.filter = { status: "", query: "" };
    this.sort = { key: "unit_code", dir: 1 };
    this.downloadError = null;
  }

  /** Show only the units in one status (from the progress table). */
  filterStatus(status) {
    this.filter.status = status;
    this.render();
  }

  /** The units passing the filter, sorted. */
  rows() {
    const order = new Map(this.page.statuses.map(s => [s.code, s.order]));
    const query = this.filter.query.trim().toLowerCase();
    const column = COLUMNS.find(c => c.key === this.sort.key);
    return this.page.units
      .map(u => ({ ...u, statusOrder: order.get(u.status) ?? 0 }))
      .filter(u => !this.filter.status || u.status === this.filter.status)
      .filter(u => !query || [u.unit_code, u.owner_name, u.address].some(v => v?.toLowerCase().includes(query)))
      .sort((a, b) => {
        const [x, y] = [column.sort(a), column.sort(b)];
        const cmp = column.numeric || typeof x === "number" ? x - y : String(x).localeCompare(String(y), "zh-CN");
        return this.sort.dir * (cmp || a.unit_code.localeCompare(b.unit_code));
      });
  }

  render() {
    const project = this.page.project();
    if (!project) { this.root.replaceChildren(); return; }
    const rows = this.rows();
    fill(this.root,
      el("h3", { textContent: t("dmLedger") }),
      this.#toolbar(),
      this.page.tools.length ? el("div", { className: "dm-tools" }, ...this.page.tools.map(tool => tool.render())) : null,
      el("p", { className: "note", id: "dm-ledger-count", textContent: t("dmShown", rows.length, this.page.units.length) }),
      el("div", { className: "table-scroll" }, this.#table(rows)),
    );
  }

  #toolbar() {
    const status = el("select", { id: "dm-filter-status" },
      el("option", { value: "", textContent: t("dmAllStatuses") }),
      ...this.page.statuses.map(s => el("option", { value: s.code, textContent: pick(s), selected: s.code === this.filter.status })));
    status.setAttribute("aria-label", t("dmFilterStatus"));
    status.addEventListener("change", () => { this.filter.status = status.value; this.render(); });
    const search = el("input", { id: "dm-search", type: "search", value: this.filter.query, placeholder: t("dmSearch") });
    search.setAttribute("aria-label", t("dmSearch"));
    search.addEventListener("input", () => {
      this.filter.query = search.value;
      this.#refreshBody();
    });
    const id = this.page.projectId;
    const code = this.page.project()?.code ?? id;
    const exports = [
      ["csv", "dmExportCsv", `/api/demolition/projects/${id}/units.csv`, `demolition-ledger-${code}.csv`],
      ["xlsx", "dmExportXlsx", `/api/demolition/projects/${id}/progress.xlsx${this.page.asOfQuery()}`, `demolition-${code}.xlsx`],
      ["html", "dmExportHtml", `/api/demolition/projects/${id}/summary.html${this.page.asOfQuery()}`, `demolition-${code}.html`],
    ].map(([kind, label, path, name]) => {
      const button = el("button", { type: "button", textContent: t(label) });
      button.dataset.download = kind;
      button.addEventListener("click", async () => {
        this.downloadError = null;
        try { await download(path, name); } catch (error) { this.downloadError = error; }
        this.render();
      });
      return button;
    });
    return el("div", { className: "dm-toolbar" }, status, search,
      el("span", { className: "dm-downloads" }, ...exports),
      this.downloadError ? el("p", { className: "error", role: "alert", textContent: errorText(this.downloadError) }) : null);
  }

  /** Redraw the rows and the count only (typing in the search box keeps its focus). */
  #refreshBody() {
    const rows = this.rows();
    this.root.querySelector("#dm-ledger-count").textContent = t("dmShown", rows.length, this.page.units.length);
    this.root.querySelector("table.dm-units tbody").replaceWith(this.#body(rows));
  }

  #table(rows) {
    const headers = COLUMNS.map(column => {
      const button = el("button", { type: "button", className: "link", textContent: t(column.label) });
      button.addEventListener("click", () => {
        this.sort = { key: column.key, dir: this.sort.key === column.key ? -this.sort.dir : 1 };
        this.render();
      });
      const th = el("th", { scope: "col" }, button);
      th.dataset.key = column.key;
      if (this.sort.key === column.key) th.setAttribute("aria-sort", this.sort.dir > 0 ? "ascending" : "descending");
      return th;
    });
    return el("table", { className: "dm-table dm-units" }, el("thead", {}, el("tr", {}, ...headers)), this.#body(rows));
  }

  #body(rows) {
    const body = el("tbody");
    if (!rows.length) {
      body.append(el("tr", {}, el("td", { colSpan: COLUMNS.length, className: "note", textContent: t("dmNoUnitsShown") })));
      return body;
    }
    for (const u of rows) {
      const status = this.page.status(u.status);
      const tr = el("tr", { tabIndex: 0 },
        el("td", { textContent: u.unit_code }),
        el("td", { textContent: u.owner_name ?? "—" }),
        el("td", { textContent: u.address ?? "—" }),
        el("td", { textContent: ownerTypeName(u.owner_type) }),
        el("td", { className: "num", textContent: formatNumber(u.floor_area_m2) }),
        el("td", { className: "num", textContent: formatCount(u.households) }),
        el("td", { className: "dm-status" }, statusSwatch(status), ` ${pick(status)}`),
        el("td", { textContent: formatDate(u.updated_at, true) }));
      Object.assign(tr.dataset, { id: String(u.id), status: u.status });
      if (u.id === this.page.unit.unitId) tr.classList.add("picked");
      const open = () => this.page.openUnit(u.id);
      tr.addEventListener("click", open);
      tr.addEventListener("keydown", event => { if (event.key === "Enter") open(); });
      body.append(tr);
    }
    return body;
  }
}
