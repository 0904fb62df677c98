// What a project's detail links to besides its plan: a stored pre-evaluation report whose findings add
// approval items (POST /api/projects/{id}/plan/pre-evaluations/{report}), and the footprint history.
import { api } from "./api.js";
import { formatCount, formatDate, pick, t } from "./i18n.js";
import { el, field, itemName, itemReason, message, table } from "./projects_common.js";
import { picker } from "./picker.js";

export class PreevalLink {
  /** ctx: {project() → the project shown, linked() → Promise (reload the plan)}. */
  constructor(ctx) {
    this.ctx = ctx;
    this.reset();
  }

  reset() {
    this.reports = null; // the stored reports the user may see (GET /api/pre-evaluations)
    this.choice = "";
    this.added = null; // the items the last link added or annotated
    this.notice = null;
    this.busy = false;
  }

  /**
   * Load the reports the user may see: the newest 500, and every report naming the project's code however old
   * (the server searches), those first.
   */
  async load() {
    const code = this.ctx.project().code;
    try {
      const [newest, own] = await Promise.all([api("/api/pre-evaluations?limit=500"),
        code ? api(`/api/pre-evaluations?limit=500&q=${encodeURIComponent(code)}`) : []]);
      const reports = [...new Map([...own, ...newest].map(r => [r.id, r])).values()];
      this.reports = reports.sort((a, b) => (b.project_code === code) - (a.project_code === code) || b.id - a.id);
    } catch (error) {
      this.reports = [];
      this.notice = error;
    }
  }

  render(rerender) {
    const box = el("section", { id: "pj-link", className: "pj-link" }, el("h4", { textContent: t("pjLinkTitle") }),
      el("p", { className: "note", textContent: t("pjLinkHint") }));
    if (this.reports == null) {
      box.append(el("p", { className: "note", textContent: t("pjLoading") }));
      return box;
    }
    const code = this.ctx.project().code;
    if (!this.reports.length) {
      box.append(el("p", { className: "note", id: "pj-link-none", textContent: t("pjLinkNone") }), message(this.notice, "pj-link-notice"));
      return box;
    }
    // A report is recognised by its project (name and code), type, place, date and verdict; typing filters.
    const project = r => (r.project_name ? `${r.project_name}（${r.project_code}）` : r.project_code ?? t("pjLinkNoProject"));
    const option = r => {
      const text = t("pjLinkOption", r.id, project(r), pick(r, "project_type"), pick(r, "subdistrict") || "—",
        formatDate(r.created_at), t("pjVerdicts")[r.verdict] ?? r.verdict, formatCount(Math.round(r.footprint_area_m2)),
        r.project_code === code, r.stale);
      return [String(r.id), text, [r.project_type_zh, r.project_type_en, r.subdistrict_zh, r.subdistrict_en, r.verdict].join(" ")];
    };
    const chooser = picker(this.reports.map(option), this.choice, t("pjLinkReport"));
    chooser.addEventListener("change", () => { this.choice = chooser.value; });
    const add = el("button", { type: "button", id: "pj-link-submit", className: "primary", textContent: t("pjLinkSubmit") });
    add.disabled = this.busy;
    add.addEventListener("click", () => this.#link(rerender));
    box.append(el("div", { className: "pj-tools" }, field("pj-link-report", t("pjLinkReport"), chooser).wrap, add),
      message(this.notice, "pj-link-notice"));
    if (this.added?.length) {
      box.append(el("ul", { id: "pj-link-items", className: "pj-link-items" }, ...this.added.map(item => {
        const li = el("li", {}, el("strong", { textContent: itemName(item) }), el("span", { textContent: ` — ${itemReason(item)}` }));
        li.dataset.itemCode = item.item_code;
        return li;
      })));
    }
    return box;
  }

  async #link(rerender) {
    if (!this.choice) { this.notice = { key: "pjErrChooseReport" }; rerender(); return; }
    this.busy = true;
    this.notice = null;
    this.added = null;
    rerender();
    try {
      this.added = await api(`/api/projects/${this.ctx.project().id}/plan/pre-evaluations/${this.choice}`, { method: "POST" });
      this.notice = this.added.length ? { ok: ["pjLinkAdded", Number(this.choice), this.added.length] } : { ok: ["pjLinkNothing", Number(this.choice)] };
    } catch (error) {
      this.notice = error;
    }
    this.busy = false;
    await this.ctx.linked();
  }
}

/** The footprint history (current first): area, when it was recorded, whether it was superseded, note. */
export function footprintHistory(footprints) {
  const box = el("section", { id: "pj-footprint-history", className: "pj-footprints" }, el("h4", { textContent: t("pjFootprints") }));
  if (!footprints?.length) {
    box.append(el("p", { className: "note", id: footprints ? "pj-no-footprints" : "", textContent: t(footprints ? "pjNoFootprints" : "pjLoading") }));
    return box;
  }
  box.append(table([
    { key: "id", head: "#", cell: f => String(f.id), className: "num" },
    { key: "area", head: t("pjArea"), cell: f => `${formatCount(Math.round(f.area_m2 * 100) / 100)} m²`, className: "num" },
    { key: "created", head: t("pjRecorded"), cell: f => formatDate(f.created_at) },
    { key: "state", head: t("pjFootprintState"), cell: f => (f.superseded_at ? t("pjSuperseded", formatDate(f.superseded_at)) : t("pjFootprintCurrent")) },
    { key: "note", head: t("pjNote"), cell: f => f.note || "—" },
  ], footprints, { id: "pj-footprints", rowProps: f => ({ id: String(f.id), current: String(!f.superseded_at) }) }));
  return box;
}
