// The facility gap page (设施缺口, 寻找发展差距): one facility type, the district or a sub-district; the figures,
// the standards and input versions the answer names, the cells in deficit (roles that may see the
// population grid) and the ranked candidate sites, each of which a planner (gaps:propose) turns into a
// reserve-tier project (POST /api/gaps/candidates/{facility}/{fid}/project, then opened in the project library)
// or a demand in the pool (…/demand, then named in a notice). A candidate already taken is refused (409).
// Shown as its own view (#gaps-page) to roles with gaps:read (user.permissions, /api/auth/me).
import { api, errorText } from "./api.js";
import { currentLang, formatCount, formatNumber, pick, t } from "./i18n.js";
import { GapMap } from "./gaps_map.js";
import { el, table } from "./projects_common.js";

const DEFAULT_INVESTMENT_WAN = 0; // the project form asks for the estimate later

export class GapsPage {
  /** root: the page's <main>; context: {user, openProject(id)}. */
  constructor(root, context) {
    this.root = root;
    this.user = context.user;
    this.layersByCode = context.layersByCode ?? new Map();
    this.openProject = context.openProject ?? (() => {});
    this.types = null; // /api/gaps/facilities
    this.subdistricts = []; // [{value, label_zh, label_en}] from the sub-district layer's codes
    this.facility = null;
    this.subdistrict = "";
    this.answer = null;
    this.error = null;
    this.busy = false;
    this.making = null; // the candidate fid being turned into a project
    this.orgs = []; // /api/orgs, for the new project's parties (callers who may create projects)
    this.party = { unit: "", owner: "", investment: "" };
    this.notice = null; // what the last action made (a demand), shown above the candidates
    this.mapView = new GapMap({ layersByCode: context.layersByCode });
  }

  #mayMake() { return Boolean(this.user.permissions?.["gaps:propose"]); }

  destroy() { this.mapView.destroy(); }

  /** The view was opened: load the facility types (once) and the answer for the chosen one. */
  async activate() {
    if (!this.types) {
      try {
        const [types, layer, orgs] = await Promise.all([
          api("/api/gaps/facilities"),
          api("/api/layers/admin_subdistrict").catch(() => null),
          this.#mayMake() ? api("/api/orgs") : [],
        ]);
        this.orgs = orgs;
        this.types = types;
        const attribute = layer?.attributes?.find(a => a.name === "subdistrict");
        this.subdistricts = attribute?.codes ?? [];
        if (!this.routed) this.facility = types.facilities[0]?.code ?? null;
      } catch (error) {
        this.error = error;
        this.render();
        return;
      }
    }
    await this.load();
  }

  /** A link into the page (#/gaps?facility=…&subdistrict=…): that facility type and sub-district. */
  async route({ params }) {
    if (params.get("facility")) this.facility = params.get("facility");
    this.subdistrict = params.get("subdistrict") ?? "";
    this.routed = true;
    await this.activate();
  }

  /** Fetch the answer for the chosen facility type and sub-district. */
  async load() {
    if (!this.facility) { this.render(); return; }
    this.busy = true;
    this.error = null;
    this.notice = null;
    this.root.dataset.ready = "";
    this.render();
    const query = new URLSearchParams({ facility: this.facility, cells_limit: "200" });
    if (this.subdistrict) query.set("subdistrict", this.subdistrict);
    try {
      this.answer = await api(`/api/gaps?${query}`);
    } catch (error) {
      this.answer = null;
      this.error = error;
    }
    this.busy = false;
    this.render();
    this.root.dataset.ready = "true"; // for tests and tools
  }

  /** Draw again (after a language switch, or when data arrived). */
  render() {
    const parts = [el("h2", { textContent: t("viewGaps") }), this.#form()];
    if (this.error) parts.push(el("p", { className: "error", role: "alert", textContent: errorText(this.error) }));
    if (this.notice) parts.push(el("p", { className: "note gp-notice", id: "gp-notice", role: "status", textContent: this.notice }));
    if (this.busy) parts.push(el("p", { className: "note", textContent: t("gpBusy") }));
    if (this.answer && !this.busy) {
      parts.push(this.#figures(), this.#standard(), this.mapView.render(this.answer), this.#candidates(), this.#cells(),
        this.#versions());
    }
    this.root.replaceChildren(...parts);
  }

  #type() { return this.types?.facilities.find(f => f.code === this.facility) ?? null; }

  #unit() { const type = this.#type(); return type ? pick(type, "unit") : ""; }

  #subdistrictName(code) {
    if (code == null) return t("gpNoSubdistrict");
    const known = this.subdistricts.find(c => c.value === code);
    return known ? pick(known, "label") : code;
  }

  #form() {
    const facility = el("select", { id: "gp-facility" }, ...(this.types?.facilities ?? []).map(f =>
      el("option", { value: f.code, textContent: pick(f), selected: f.code === this.facility })));
    facility.addEventListener("change", () => { this.facility = facility.value; this.load(); });
    const sub = el("select", { id: "gp-subdistrict" },
      el("option", { value: "", textContent: t("gpDistrict"), selected: !this.subdistrict }),
      ...this.subdistricts.map(c =>
        el("option", { value: c.value, textContent: pick(c, "label"), selected: c.value === this.subdistrict })));
    sub.addEventListener("change", () => { this.subdistrict = sub.value; this.load(); });
    return el("div", { className: "gp-form" },
      el("label", {}, el("span", { textContent: t("gpFacility") }), facility),
      el("label", {}, el("span", { textContent: t("gpArea") }), sub));
  }

  #figureRow(row, head) {
    const unit = this.#unit();
    return {
      head, population: formatCount(row.population), covered: formatCount(row.covered),
      not_covered: formatCount(row.not_covered), unreachable: formatCount(row.unreachable),
      demand: `${formatNumber(row.demand, 1)} ${unit}`, met: `${formatNumber(row.met, 1)} ${unit}`,
      shortfall: `${formatNumber(row.shortfall, 1)} ${unit}`, deficit_cells: formatCount(row.deficit_cells),
    };
  }

  #figures() {
    const a = this.answer;
    const total = this.#figureRow(a.area, a.subdistrict ? this.#subdistrictName(a.subdistrict) : t("gpDistrict"));
    const rows = [total, ...a.subdistricts.filter(() => !a.subdistrict)
      .map(r => this.#figureRow(r, this.#subdistrictName(r.subdistrict)))];
    const keys = ["population", "covered", "not_covered", "unreachable", "demand", "met", "shortfall", "deficit_cells"];
    const columns = [
      { key: "head", head: t("gpArea"), cell: r => r.head },
      ...keys.map(k => ({ key: k, head: t("gpCol")[k], cell: r => r[k], className: "num" })),
    ];
    return el("section", { className: "gp-figures" },
      el("h3", { textContent: t("gpFigures") }),
      table(columns, rows, { id: "gp-figures", rowProps: r => (r === total ? { className: "gp-total" } : {}) }));
  }

  #standard() {
    const s = this.answer.standard;
    const marked = figure => (figure.assumed ? ` (${t("gpAssumed")})` : "");
    const source = figure => (figure.assumed ? figure.note : figure.source) || "—";
    const items = [
      [t("gpRadius"), `${formatNumber(s.radius_m.value, 0)} m${marked(s.radius_m)}`, source(s.radius_m)],
      [t("gpPer1000"), `${formatNumber(s.provision.per_1000, 2)} ${pick(s.provision, "unit")}${marked(s.provision)}`,
        source(s.provision)],
      [t("gpMinSite"), `${formatNumber(s.min_site_m2.value, 0)} m²${marked(s.min_site_m2)}`, source(s.min_site_m2)],
    ];
    return el("section", { className: "gp-standard", id: "gp-standard" },
      el("h3", { textContent: `${t("gpStandard")} · ${pick(s)}` }),
      el("dl", {}, ...items.flatMap(([k, v, src]) => [
        el("dt", { textContent: k }), el("dd", {}, el("span", { textContent: v }),
          el("small", { className: "note", textContent: ` ${src}` }))])));
  }

  #candidates() {
    const a = this.answer;
    const unit = this.#unit();
    const mayMake = this.#mayMake();
    const columns = [
      { key: "rank", head: t("gpRank"), cell: c => String(c.rank), className: "num" },
      { key: "site", head: t("gpSite"), cell: c => c.parcel_code || `#${c.fid}` },
      { key: "sd", head: t("gpSubdistrict"), cell: c => this.#subdistrictName(c.subdistrict) },
      { key: "land", head: t("gpLandUse"), cell: c => c.land_use || "—" },
      { key: "site_m2", head: t("gpSiteArea"), className: "num", cell: c => (c.site_m2 == null ? "—"
        : `${formatNumber(c.site_m2, 1)} m²${c.meets_min_site === false ? ` (${t("gpBelowMin")})` : ""}`) },
      { key: "new", head: t("gpNewlyServed"), className: "num", cell: c => formatCount(c.newly_served) },
      { key: "short", head: t("gpShortReached"), className: "num",
        cell: c => `${formatNumber(c.shortfall_reached, 1)} ${unit}` },
    ];
    if (mayMake) {
      columns.push({ key: "act", head: t("gpAction"),
        cell: c => this.#taken(c) ?? el("span", { className: "gp-actions" }, this.#makeButton(c), this.#demandButton(c)) });
    }
    const body = a.candidates.length
      ? table(columns, a.candidates, { id: "gp-candidates", rowProps: c => ({ fid: String(c.fid) }) })
      : el("p", { className: "note", textContent: t("gpNoCandidates") });
    return el("section", { className: "gp-candidates" }, el("h3", { textContent: t("gpCandidates") }),
      mayMake && a.candidates.length ? this.#partyForm() : null, body);
  }

  /** The new project's parties and estimate; the unit and department default to the facility type's. */
  #partyForm() {
    const choose = (id, key, kinds, blank) => {
      const select = el("select", { id },
        el("option", { value: "", textContent: blank, selected: !this.party[key] }),
        ...this.orgs.filter(o => kinds.includes(o.kind)).map(o =>
          el("option", { value: o.code, textContent: pick(o), selected: o.code === this.party[key] })));
      select.addEventListener("change", () => { this.party[key] = select.value; });
      return select;
    };
    const investment = el("input", { id: "gp-investment", type: "number", min: "0", step: "any",
      value: this.party.investment, inputMode: "decimal" });
    investment.addEventListener("input", () => { this.party.investment = investment.value; });
    const fields = [];
    if (this.user.role !== "project_unit") {
      fields.push(el("label", {}, el("span", { textContent: t("gpUnit") }),
        choose("gp-unit", "unit", ["project_unit", "subdistrict"], t("gpByType"))));
    }
    if (this.user.role !== "reviewer" && this.user.role !== "project_unit") {
      fields.push(el("label", {}, el("span", { textContent: t("gpOwner") }),
        choose("gp-owner", "owner", ["department"], t("gpByType"))));
    }
    fields.push(el("label", {}, el("span", { textContent: t("gpInvestment") }), investment));
    return el("div", { className: "gp-form gp-party" }, ...fields);
  }

  /** What a candidate already became (a candidate is proposed once), or null while it is free. */
  #taken(candidate) {
    const taken = (this.answer.taken ?? []).find(x => x.fid === candidate.fid);
    if (!taken) return null;
    return taken.kind === "project"
      ? el("a", { className: "gp-taken", href: `#/project/${taken.id}`, textContent: t("gpTakenProject", taken.code) })
      : el("span", { className: "gp-taken", textContent: t("gpTakenDemand", taken.id) });
  }

  #makeButton(candidate) {
    const button = el("button", { type: "button", className: "gp-make", textContent: t("gpMakeProject"),
      disabled: this.making != null || candidate.parcel_fid == null });
    if (candidate.parcel_fid == null) button.title = t("gpNoParcel");
    button.dataset.fid = String(candidate.fid);
    button.addEventListener("click", () => this.#make(candidate));
    return button;
  }

  #demandButton(candidate) {
    const button = el("button", { type: "button", className: "gp-demand", textContent: t("gpMakeDemand"),
      disabled: this.making != null || candidate.parcel_fid == null });
    if (candidate.parcel_fid == null) button.title = t("gpNoParcel");
    button.dataset.fid = String(candidate.fid);
    button.addEventListener("click", () => this.#makeDemand(candidate));
    return button;
  }

  async #makeDemand(candidate) {
    this.making = candidate.fid;
    this.error = null;
    this.notice = null;
    this.render();
    try {
      const made = await api(
        `/api/gaps/candidates/${encodeURIComponent(this.facility)}/${candidate.fid}/demand`, {
          method: "POST", headers: { "Content-Type": "application/json" }, body: "{}",
        });
      const notice = t("gpDemandMade", made.demand.id, made.demand.title, formatCount(made.demand.gap.newly_served));
      this.making = null;
      await this.load(); // the candidate now shows what it became
      this.notice = notice;
      this.root.dataset.madeDemand = String(made.demand.id); // for tests and tools
    } catch (error) {
      this.error = error;
    }
    this.making = null;
    this.render();
  }

  async #make(candidate) {
    this.making = candidate.fid;
    this.error = null;
    this.notice = null;
    this.render();
    try {
      const made = await api(
        `/api/gaps/candidates/${encodeURIComponent(this.facility)}/${candidate.fid}/project`, {
          method: "POST", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({
            investment_wan: this.party.investment === "" ? DEFAULT_INVESTMENT_WAN : Number(this.party.investment),
            unit_org_code: this.party.unit || null, owner_dept_code: this.party.owner || null,
          }),
        });
      this.making = null;
      this.root.dataset.made = String(made.project.id); // for tests and tools
      await this.openProject(made.project.id);
    } catch (error) {
      this.making = null;
      this.error = error;
      this.render();
    }
  }

  #cells() {
    const a = this.answer;
    const head = el("h3", { textContent: t("gpCells", a.deficit_cells_total) });
    if (a.deficit_cells_hidden) {
      return el("section", { className: "gp-cells" }, head, el("p", { className: "note", textContent: t("gpCellsHidden") }));
    }
    const unit = this.#unit();
    const columns = [
      { key: "label", head: t("gpCell"), cell: c => c.label || `#${c.fid}` },
      { key: "sd", head: t("gpSubdistrict"), cell: c => this.#subdistrictName(c.subdistrict) },
      { key: "pop", head: t("gpCol").population, className: "num", cell: c => formatCount(c.population) },
      { key: "cov", head: t("gpCovered"), cell: c => t(c.covered ? "gpYes" : "gpNo") },
      { key: "short", head: t("gpCol").shortfall, className: "num", cell: c => `${formatNumber(c.shortfall, 1)} ${unit}` },
    ];
    const more = a.deficit_cells_total > a.deficit_cells.length
      ? el("p", { className: "note", textContent: t("gpCellsShown", a.deficit_cells.length) }) : null;
    return el("section", { className: "gp-cells" }, head, table(columns, a.deficit_cells, { id: "gp-cells" }), more);
  }

  #version(l) {
    const layer = this.layersByCode.get(l.layer);
    return `${layer ? pick(layer) : t("gpRestrictedLayer")} ${t("gpVersion", l.number)}`;
  }

  #versions() {
    const a = this.answer;
    const layers = a.layers.map(l => this.#version(l)).join(currentLang() === "en" ? ", " : "、");
    const net = a.network.sources.map(l => this.#version(l)).join(currentLang() === "en" ? ", " : "、");
    return el("section", { className: "gp-versions", id: "gp-versions" },
      el("h3", { textContent: t("gpInputs") }),
      el("dl", {},
        el("dt", { textContent: t("gpLayers") }), el("dd", { textContent: layers || "—" }),
        el("dt", { textContent: t("gpNetwork") }),
        el("dd", { textContent: t("gpNetworkText", net || "—", formatNumber(a.network.length_km, 1)) }),
        el("dt", { textContent: t("gpStandardsVersion") }),
        el("dd", { textContent: `${a.standard.standards_version} · SHA-256 ${a.standard.standards_fingerprint.replace(/^sha256:/, "").slice(0, 12)}` })));
  }
}
