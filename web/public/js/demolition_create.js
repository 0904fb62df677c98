// Creating units (demolition:manage): from a stored pre-evaluation's buildings to demolish, or one by hand.
// The API skips buildings already in the ledger (by unit code), so creating twice adds nothing; the panel
// says how many units, households and m² were created and which were skipped.
import { api, errorText } from "./api.js";
import { formatCount, formatDate, pick, t } from "./i18n.js";
import { el } from "./panels.js";
import { fill, formatArea } from "./demolition_progress.js";

const units = projectId => `/api/demolition/projects/${projectId}`;

/** Units from a stored pre-evaluation report (POST …/units/from-pre-evaluation). */
export class FromReportPanel {
  constructor(page) {
    this.page = page;
    this.root = el("details", { className: "dm-tool", id: "dm-from-report" });
    this.root.addEventListener("toggle", () => { if (this.root.open && !this.choices && !this.busy) this.load(); });
    this.reset();
  }

  reset() {
    Object.assign(this, { choices: null, picked: null, result: null, error: null, busy: false });
    if (this.root.open) this.load();
  }

  /** The reports offered for the chosen project (its own first), with what each would bring in. */
  async load() {
    const id = this.page.projectId;
    this.busy = true;
    try {
      const choices = await api(`${units(id)}/pre-evaluations`);
      if (id !== this.page.projectId) return;
      this.choices = choices;
      if (!choices.some(c => c.id === this.picked)) this.picked = choices[0]?.id ?? null;
    } catch (error) {
      this.error = error;
    }
    this.busy = false;
    this.render();
    this.root.dataset.loaded = "true"; // for tests and tools
  }

  render() {
    const body = [el("summary", { textContent: t("dmFromReport") }), el("p", { className: "note", textContent: t("dmFromReportHint") })];
    if (this.choices && !this.choices.length) body.push(el("p", { className: "note", id: "dm-no-reports", textContent: t("dmNoReports") }));
    if (this.choices?.length) body.push(this.#form());
    if (this.busy && !this.choices) body.push(el("p", { className: "note", textContent: t("dmLoading") }));
    body.push(this.#outcome());
    fill(this.root, ...body);
    return this.root;
  }

  #form() {
    const head = ["", "dmReportNo", "dmReportDate", "dmReportCode", "dmVerdict", "dmBuildings", "dmHouseholds", "dmFloorArea", "dmInLedger"];
    const rows = this.choices.map(c => {
      const radio = el("input", { type: "radio", name: "dm-report", value: String(c.id), checked: c.id === this.picked });
      radio.setAttribute("aria-label", t("dmReportNo") + ` #${c.id}`);
      radio.addEventListener("change", () => { this.picked = c.id; });
      const tr = el("tr", {},
        el("td", {}, radio),
        el("td", { textContent: `#${c.id}` }),
        el("td", { textContent: formatDate(c.created_at, true) }),
        el("td", {}, c.project_code ?? "—", c.linked ? el("span", { className: "badge dm-met", textContent: t("dmThisProject") }) : null),
        el("td", {}, t("dmVerdicts")[c.verdict] ?? c.verdict, c.stale ? el("span", { className: "badge stale", textContent: t("dmReportStale") }) : null),
        el("td", { className: "num", textContent: formatCount(c.buildings) }),
        el("td", { className: "num", textContent: formatCount(c.households) }),
        el("td", { className: "num", textContent: formatArea(c.floor_area_m2) }),
        el("td", { className: "num", textContent: formatCount(c.in_ledger) }));
      tr.dataset.id = String(c.id);
      return tr;
    });
    const table = el("table", { className: "dm-table dm-reports" },
      el("caption", { textContent: t("dmReportsCaption") }),
      el("thead", {}, el("tr", {}, ...head.map(h => el("th", { scope: "col", textContent: h ? t(h) : "" })))),
      el("tbody", {}, ...rows));
    const form = el("form", { className: "dm-form", id: "dm-from-report-form" },
      el("div", { className: "table-scroll" }, table),
      el("button", { type: "submit", className: "primary", disabled: this.busy, textContent: this.busy ? t("dmCreating") : t("dmCreateUnits") }));
    form.addEventListener("submit", event => { event.preventDefault(); this.#create(); });
    return form;
  }

  #outcome() {
    if (this.error) return el("p", { className: "error", role: "alert", id: "dm-from-report-result", textContent: errorText(this.error) });
    const r = this.result;
    if (!r) return null;
    return el("div", { className: "report", role: "status", id: "dm-from-report-result" },
      el("p", { className: r.created ? "ok" : "note", textContent: r.created
        ? t("dmCreatedFrom", r.created, formatCount(r.households), formatArea(r.floor_area_m2), r.report_id)
        : t("dmCreatedNone", r.report_id) }),
      r.unit_codes.length ? el("p", { className: "dm-created-codes", textContent: r.unit_codes.join("、") }) : null,
      r.skipped.length ? el("p", { className: "note dm-skipped", textContent: t("dmSkippedExisting", r.skipped.length, r.skipped.join("、")) }) : null);
  }

  async #create() {
    const reportId = this.picked;
    if (reportId == null) return;
    Object.assign(this, { busy: true, error: null, result: null });
    this.render();
    try {
      const result = await api(`${units(this.page.projectId)}/units/from-pre-evaluation`, {
        method: "POST", body: JSON.stringify({ pre_evaluation_id: reportId }), headers: { "Content-Type": "application/json" },
      });
      this.result = { ...result, report_id: reportId };
    } catch (error) {
      this.error = error;
    }
    this.busy = false;
    if (this.result) { await this.load(); await this.page.changed(); } else this.render();
  }
}

// The hand-entry form: key, input kind. Floor area and households are required (0 is allowed).
const FIELDS = [
  ["unit_code", "code"], ["owner_name", "text"], ["address", "text"], ["owner_type", "owner"],
  ["floor_area_m2", "area"], ["households", "integer"], ["valuation_yuan", "money"],
  ["agreed_compensation_yuan", "money"], ["paid_compensation_yuan", "money"], ["subdistrict_code", "subdistrict"],
];
const DECIMAL = /^\d+(\.\d{1,2})?$/;

/** The message key (and its argument) for a field's value, or null when it is good (the API checks again). */
export function fieldProblem(key, kind, value) {
  const text = value.trim();
  if (kind === "code") {
    if (!text) return ["dmErrCodeMissing"];
    if (text.length > 64) return ["dmErrCodeLong"];
  }
  if (kind === "area" && !text) return ["dmErrAreaMissing"];
  if (kind === "integer" && !text) return ["dmErrHouseholdsMissing"];
  if (kind === "area" && !(DECIMAL.test(text) && Number(text) <= 1e9)) return ["dmErrArea"];
  if (kind === "integer" && !(/^\d+$/.test(text) && Number(text) <= 100000)) return ["dmErrHouseholds"];
  if (kind === "money" && text && !(DECIMAL.test(text) && Number(text) <= 1e13)) return ["dmErrMoney", key];
  if (kind === "text" && text.length > (key === "address" ? 300 : 200)) return ["dmErrTooLong", key];
  return null;
}

/** A problem's text in the language chosen now. */
const say = ([message, key]) =>
  message === "dmErrMoney" ? t(message, t("dmMoneyNames")[key]) : key ? t(message, t("dmFields")[key]) : t(message);

/** One unit entered by hand (POST …/units), checked field by field before it is sent. */
export class ManualUnitPanel {
  constructor(page) {
    this.page = page;
    this.root = el("details", { className: "dm-tool", id: "dm-new-unit" });
    this.reset();
  }

  reset() {
    Object.assign(this, { draft: {}, problems: {}, error: null, created: null, busy: false });
  }

  render() {
    const inputs = FIELDS.map(([key, kind]) => this.#field(key, kind));
    const count = Object.keys(this.problems).length;
    const form = el("form", { className: "dm-form dm-grid-form", id: "dm-new-unit-form", noValidate: true },
      count ? el("p", { className: "error", role: "alert", id: "dm-new-unit-summary", textContent: t("dmErrSummary", count) }) : null,
      ...inputs,
      el("div", { className: "dm-actions" },
        el("button", { type: "submit", className: "primary", disabled: this.busy, textContent: t("dmAddUnit") })));
    form.addEventListener("input", event => { this.draft[event.target.name] = event.target.value; });
    form.addEventListener("change", event => { this.draft[event.target.name] = event.target.value; });
    form.addEventListener("submit", event => { event.preventDefault(); this.#send(); });
    fill(this.root,
      el("summary", { textContent: t("dmNewUnit") }),
      el("p", { className: "note", textContent: t("dmNewUnitHint") }),
      form,
      this.error ? el("p", { className: "error", role: "alert", id: "dm-new-unit-error", textContent: errorText(this.error) }) : null,
      this.created ? el("p", { className: "ok", role: "status", id: "dm-new-unit-done", textContent: t("dmUnitAdded", this.created) }) : null);
    return this.root;
  }

  #field(key, kind) {
    const id = `dm-new-${key}`;
    const value = this.draft[key] ?? "";
    let input;
    if (kind === "owner" || kind === "subdistrict") {
      const choices = kind === "owner" ? Object.entries(t("dmOwnerTypes"))
        : this.page.orgs.filter(o => o.kind === "subdistrict").map(o => [o.code, pick(o)]);
      input = el("select", { id }, el("option", { value: "", textContent: "—" }),
        ...choices.map(([code, name]) => el("option", { value: code, textContent: name })));
      input.value = value;
    } else {
      // Text inputs, so that a wrong number reaches the check as typed (a number input would blank it).
      input = el("input", { id, type: "text", value });
      if (kind === "area" || kind === "money") input.inputMode = "decimal";
      if (kind === "integer") input.inputMode = "numeric";
    }
    input.name = key;
    const label = (key === "unit_code" ? t("dmUnitCode") : t("dmFields")[key]) + (kind === "code" || kind === "area" || kind === "integer" ? " *" : "");
    const problem = this.problems[key];
    const field = el("div", { className: "field" }, el("label", { htmlFor: id, textContent: label }), input);
    if (problem) {
      const message = el("p", { className: "error dm-field-error", id: `${id}-error`, textContent: say(problem) });
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", message.id);
      field.append(message);
    }
    return field;
  }

  async #send() {
    this.problems = {};
    for (const [key, kind] of FIELDS) {
      const problem = fieldProblem(key, kind, String(this.draft[key] ?? ""));
      if (problem) this.problems[key] = problem;
    }
    Object.assign(this, { error: null, created: null });
    if (Object.keys(this.problems).length) {
      this.render();
      this.root.querySelector("[aria-invalid=true]")?.focus();
      return;
    }
    const body = {};
    for (const [key, kind] of FIELDS) {
      const text = String(this.draft[key] ?? "").trim();
      if (!text) continue;
      body[key] = kind === "integer" ? Number(text) : text;
    }
    this.busy = true;
    this.render();
    let unit = null;
    try {
      unit = await api(`${units(this.page.projectId)}/units`, {
        method: "POST", body: JSON.stringify(body), headers: { "Content-Type": "application/json" },
      });
    } catch (error) {
      this.error = error;
    }
    this.busy = false;
    if (!unit) { this.render(); return; }
    Object.assign(this, { draft: {}, created: unit.unit_code });
    await this.page.changed();
    await this.page.openUnit(unit.id);
  }
}
