// 需求池 (the bottom-up demand pool): submitters raise needs and see the outcome; triagers (planners,
// administrators) merge a duplicate, accept a need into an existing project, or reject it with a reason.
import { api } from "./api.js";
import { formatDate, t } from "./i18n.js";
import { PointPicker } from "./locator.js";
import { el, field, label, message, select, table } from "./projects_common.js";

const EMPTY = { source_kind: "resident", title: "", description: "", lon: "", lat: "" };

export class DemandPool {
  /** ctx: {may, rerender, projects, changed}. */
  constructor(ctx) {
    this.ctx = ctx;
    // The location is picked on a map (the typed longitude and latitude stay, as a fallback).
    this.locator = new PointPicker(ctx.place, (lon, lat) => {
      Object.assign(this.form, { lon, lat });
      for (const [id, value] of [["pj-d-lon", lon], ["pj-d-lat", lat]]) {
        const input = document.getElementById(id);
        if (input) input.value = value;
      }
    });
    this.demands = null;
    this.form = { ...EMPTY };
    this.notice = null;
    this.decisions = {}; // demand id → {verb, value, reason} being filled in
  }

  async load() {
    try {
      this.demands = await api("/api/demands");
    } catch (error) {
      this.notice = error;
    }
    this.ctx.rerender();
  }

  render() {
    return el("section", { className: "pj-demands" }, el("h3", { textContent: t("pjDemands") }),
      message(this.notice, "pj-demand-notice"), this.#form(), this.#list());
  }

  #form() {
    const f = this.form;
    const bind = (key, input) => {
      input.value = f[key];
      input.addEventListener("input", () => { f[key] = input.value; this.locator.show(f.lon, f.lat); });
      input.addEventListener("change", () => { f[key] = input.value; });
      return input;
    };
    const form = el("form", { id: "pj-demand-form", className: "pj-form", noValidate: true },
      el("h4", { textContent: t("pjDemandNew") }),
      el("div", { className: "pj-grid" },
        field("pj-d-kind", t("pjSourceKind"), bind("source_kind",
          // Gap-analysis demands are made from a candidate site on the gaps page, not typed in here.
          select(Object.entries(t("pjSourceKinds")).filter(([kind]) => kind !== "gap_analysis")))).wrap,
        field("pj-d-title", t("pjDemandTitle"), bind("title", el("input", { maxLength: 200 }))).wrap,
        field("pj-d-lon", t("pjLon"), bind("lon", el("input", { inputMode: "decimal" }))).wrap,
        field("pj-d-lat", t("pjLat"), bind("lat", el("input", { inputMode: "decimal" }))).wrap),
      this.locator.render(f.lon, f.lat),
      field("pj-d-description", t("pjDemandDescription"), bind("description", el("textarea", { rows: 3, maxLength: 5000 }))).wrap,
      el("button", { type: "submit", className: "primary", id: "pj-d-submit", textContent: t("pjDemandSubmit") }));
    form.addEventListener("submit", event => { event.preventDefault(); this.#submit(); });
    return form;
  }

  async #submit() {
    const f = this.form;
    if (!f.title.trim() || !f.description.trim()) { this.notice = { key: "pjErrDemand" }; this.ctx.rerender(); return; }
    const body = { source_kind: f.source_kind, title: f.title.trim(), description: f.description.trim() };
    if (f.lon.trim() || f.lat.trim()) Object.assign(body, { lon: Number(f.lon), lat: Number(f.lat) });
    try {
      const demand = await api("/api/demands", { method: "POST", body: JSON.stringify(body), headers: { "Content-Type": "application/json" } });
      this.notice = { ok: ["pjDemandSubmitted", demand.id] };
      this.form = { ...EMPTY };
    } catch (error) {
      this.notice = error;
    }
    await this.load();
  }

  #list() {
    if (this.demands == null) return el("p", { className: "note", textContent: t("pjLoading") });
    if (!this.demands.length) return el("p", { className: "note", textContent: t("pjNoDemands") });
    const outcome = d => [d.project_code, d.merged_into_id ? t("pjMergedDemand", d.merged_into_id) : null, d.reason].filter(Boolean).join(" · ") || "—";
    const columns = [
      { key: "id", head: "#", cell: d => String(d.id), className: "num" },
      { key: "kind", head: t("pjSourceKind"), cell: d => label("pjSourceKinds", d.source_kind) },
      { key: "title", head: t("pjDemandTitle"), cell: d => el("span", { title: d.description, textContent: d.title }) },
      { key: "status", head: t("pjStatusLabel"), cell: d => label("pjDemandStatus", d.status) },
      { key: "outcome", head: t("pjOutcome"), cell: outcome },
      { key: "created", head: t("pjCreated"), cell: d => formatDate(d.created_at) },
    ];
    if (this.ctx.may("demands:triage")) columns.push({ key: "triage", head: t("pjTriage"), cell: d => (d.status === "open" ? this.#triage(d) : "—") });
    return table(columns, this.demands, { id: "pj-demand-list", rowProps: d => ({ id: String(d.id), status: d.status }) });
  }

  #triage(demand) {
    const state = (this.decisions[demand.id] ??= { verb: "accept", value: "", reason: "" });
    const verb = select(Object.entries(t("pjTriageVerbs")), state.verb);
    verb.addEventListener("change", () => { state.verb = verb.value; state.value = ""; this.ctx.rerender(); });
    const choices = state.verb === "accept"
      ? this.ctx.projects().map(p => [String(p.id), `${p.code} ${p.name}`])
      : (this.demands ?? []).filter(d => d.id !== demand.id && d.status !== "rejected" && d.status !== "merged").map(d => [String(d.id), `#${d.id} ${d.title}`]);
    const target = select([["", t("pjChoose")], ...choices], state.value);
    target.addEventListener("change", () => { state.value = target.value; });
    const reason = el("input", { value: state.reason, placeholder: t("pjReason"), maxLength: 2000 });
    reason.addEventListener("input", () => { state.reason = reason.value; });
    const go = el("button", { type: "button", textContent: t("pjApply") });
    go.addEventListener("click", () => this.#decide(demand, state));
    const box = el("div", { className: "pj-triage" }, verb);
    if (state.verb !== "reject") box.append(target);
    box.append(reason, go);
    return box;
  }

  async #decide(demand, state) {
    const body = { version: demand.version, reason: state.reason.trim() || null };
    if (state.verb === "accept") body.project_id = state.value ? Number(state.value) : null;
    if (state.verb === "merge") body.into_id = state.value ? Number(state.value) : null;
    try {
      await api(`/api/demands/${demand.id}/${state.verb}`, { method: "POST", body: JSON.stringify(body), headers: { "Content-Type": "application/json" } });
      this.notice = { ok: ["pjDemandDecided", demand.id, state.verb] };
      delete this.decisions[demand.id];
    } catch (error) {
      this.notice = error;
    }
    await this.load();
  }
}
