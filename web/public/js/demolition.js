// The demolition ledger (征拆协调): every household unit of a project from survey to hand-over, its state
// changes, blockers and progress. Shown as its own view (#demolition-page) for demolition:read. The parts live
// in demolition_*.js; this module holds the page's state and loads what they show.
import { api, errorText } from "./api.js";
import { pick, t } from "./i18n.js";
import { el } from "./panels.js";
import { BlockerPanel } from "./demolition_blockers.js";
import { BulkPanel } from "./demolition_bulk.js";
import { FromReportPanel, ManualUnitPanel } from "./demolition_create.js";
import { ImportPanel } from "./demolition_import.js";
import { LedgerTable } from "./demolition_ledger.js";
import { UnitMap } from "./demolition_map.js";
import { fill, renderProgress } from "./demolition_progress.js";
import { renderTrend } from "./demolition_trend.js";
import { UnitPanel } from "./demolition_unit.js";

const PROJECT_KEY = "duogui.demolition.project";
const BASE = "/api/demolition";

export class DemolitionPage {
  /** root: the page's <main>; context: {user} (user.permissions from /api/auth/me). */
  constructor(root, context) {
    this.root = root;
    this.context = context;
    const permissions = context.user.permissions ?? {};
    // What the role may do, from the server's one policy table: only that is shown.
    this.can = {
      manage: Boolean(permissions["demolition:manage"]),
      blockers: Boolean(permissions["blockers:work"]),
      coordinate: permissions["blockers:work"] === "any", // coordinators and administrators
      attach: Boolean(permissions["materials:upload"]), // a transition's document goes to the materials store
    };
    this.projects = null; // /api/demolition/projects: units first
    this.statuses = []; // the pipeline with its legend colours
    this.orgs = []; // departments and sub-districts (names, the choices of the forms)
    this.projectId = null;
    this.units = [];
    this.progress = null;
    this.error = null;
    this.revision = 0; // bumped with every ledger change: the map fetches fresh tiles
    this.asOf = ""; // the day progress is computed for ("" = today)
    this.nodes = {
      head: el("div", { className: "dm-head" }),
      error: el("p", { className: "error", id: "dm-error", role: "alert" }),
      progress: el("section", { className: "dm-progress", id: "dm-progress" }),
      trend: el("section", { className: "dm-trend", id: "dm-trend" }),
      ledger: el("section", { className: "dm-ledger", id: "dm-ledger" }),
      side: el("div", { className: "dm-side" }),
      blockers: el("section", { className: "dm-blockers", id: "dm-blockers" }),
    };
    this.ledger = new LedgerTable(this.nodes.ledger, this);
    // Ledger upkeep for demolition:manage: from a pre-evaluation, by hand, from a spreadsheet, bulk changes.
    this.tools = this.can.manage
      ? [new FromReportPanel(this), new ManualUnitPanel(this), new ImportPanel(this), new BulkPanel(this)]
      : [];
    this.unit = new UnitPanel(el("section", { className: "dm-unit", id: "dm-unit" }), this);
    this.map = new UnitMap(el("section", { className: "dm-map", id: "dm-map" }), this);
    this.blockers = new BlockerPanel(this.nodes.blockers, this);
    this.nodes.side.append(this.map.root, this.unit.root);
    this.root.replaceChildren(
      this.nodes.head, this.nodes.error, this.nodes.progress, this.nodes.trend,
      el("div", { className: "dm-main" }, this.nodes.ledger, this.nodes.side), this.nodes.blockers,
    );
  }

  /** The view was opened: load the projects on first showing, the chosen project's ledger each time. */
  async activate() {
    try {
      if (!this.projects) {
        const [statuses, projects, orgs] = await Promise.all([
          api(`${BASE}/statuses`), api(`${BASE}/projects`), api("/api/orgs"),
        ]);
        Object.assign(this, { statuses, projects, orgs });
        const saved = Number(localStorage.getItem(PROJECT_KEY));
        const first = projects.find(p => p.id === saved) ?? projects[0];
        this.projectId = first?.id ?? null;
      }
      await this.reload();
    } catch (error) {
      this.fail(error);
    }
  }

  /** A link into the page (#/demolition/<project id>): that project's ledger. */
  async route({ id }) {
    if (id != null) {
      this.projectId = id;
      localStorage.setItem(PROJECT_KEY, String(id));
    }
    const chosen = this.projectId;
    await this.activate();
    if (chosen != null && this.projectId !== chosen) { this.projectId = chosen; await this.reload(); }
  }

  /** Draw again (after a language switch). */
  render() {
    this.#renderHead();
    this.nodes.error.textContent = this.error ? errorText(this.error) : "";
    renderProgress(this.nodes.progress, this);
    renderTrend(this.nodes.trend, this);
    this.ledger.render();
    this.unit.render();
    this.map.render();
    this.blockers.render();
    this.root.dataset.ready = this.projects ? "true" : "false"; // for tests and tools
  }

  /** Sign-out: forget everything shown. */
  destroy() {
    this.map.destroy();
    this.root.replaceChildren();
  }

  /** Show an error of the page (an ApiError's message follows the language). */
  fail(error) {
    this.error = error;
    this.nodes.error.textContent = errorText(error);
  }

  /** The chosen project's entry of the chooser. */
  project() { return this.projects?.find(p => p.id === this.projectId) ?? null; }

  /** The status entry (labels, colour) of a code. */
  status(code) { return this.statuses.find(s => s.code === code) ?? { code, name_zh: code, name_en: code, colour: "#999" }; }

  /** An organisation's name by its code (departments, sub-districts). */
  orgName(code) {
    const org = this.orgs.find(o => o.code === code);
    return org ? pick(org) : code ?? "—";
  }

  /** Load the chosen project's ledger, progress and blockers, then draw. */
  async reload() {
    const id = this.projectId;
    if (id == null) { this.units = []; this.progress = null; this.render(); return; }
    const [units, progress, projects] = await Promise.all([
      api(`${BASE}/projects/${id}/units`), api(`${BASE}/projects/${id}/progress${this.asOfQuery()}`), api(`${BASE}/projects`),
    ]);
    if (id !== this.projectId) return; // another project was chosen meanwhile
    Object.assign(this, { units, progress, projects, error: null });
    this.revision += 1;
    await this.blockers.load();
    this.render();
    this.root.dataset.revision = String(this.revision); // for tests and tools: a reload has been drawn
  }

  /** "?as_of=…" when another day than today is chosen, else "". */
  asOfQuery() { return this.asOf ? `?as_of=${this.asOf}` : ""; }

  /** A unit changed (edit, transition, import): the ledger, progress and map follow; errors are shown. */
  async changed() {
    try { await this.reload(); } catch (error) { this.fail(error); }
  }

  /** Open a unit in the detail panel (from the table or the map). */
  async openUnit(id) {
    await this.unit.open(id);
    this.ledger.render();
    this.map.render();
  }

  async #chooseProject(id) {
    this.projectId = id;
    localStorage.setItem(PROJECT_KEY, String(id));
    this.ledger.reset();
    this.unit.close();
    this.blockers.reset();
    this.tools.forEach(tool => tool.reset());
    try { await this.reload(); } catch (error) { this.fail(error); }
  }

  #renderHead() {
    const select = el("select", { id: "dm-project" });
    select.setAttribute("aria-label", t("dmProject"));
    for (const p of this.projects ?? []) {
      const label = `${p.name} · ${p.code}${p.units ? ` · ${t("dmUnitCount", p.units)}` : ` · ${t("dmNoUnits")}`}`;
      select.append(el("option", { value: String(p.id), textContent: label, selected: p.id === this.projectId }));
    }
    select.addEventListener("change", () => this.#chooseProject(Number(select.value)));
    const chooser = el("label", { className: "dm-chooser" }, el("span", { textContent: t("dmProject") }), select);
    const asOf = el("input", { type: "date", id: "dm-as-of", value: this.asOf });
    asOf.addEventListener("change", async () => {
      this.asOf = asOf.value;
      try { await this.reload(); } catch (error) { this.fail(error); }
    });
    const day = el("label", { className: "dm-chooser dm-as-of" }, el("span", { textContent: t("dmAsOf") }), asOf);
    const empty = this.projects && !this.projects.length ? el("p", { className: "note", textContent: t("dmNoProjects") }) : null;
    fill(this.nodes.head, el("h2", { textContent: t("viewDemolition") }), chooser, day, empty);
  }
}
