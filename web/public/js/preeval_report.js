// One pre-evaluation report drawn for people: the verdict first, then findings by grade, the layers that could
// not answer, demolition, terrain and the buildable remainder; stale marks and a re-check's changes.
import { currentLang, formatCount, formatDate, pick, t } from "./i18n.js";
import { el } from "./panels.js";

const GRADES = ["prohibited", "conditional", "advisory", "info"];
const VERDICT_CLASS = { 不通过: "prohibited", 有条件通过: "conditional", 通过: "approved" };

export const area = m2 => (m2 == null ? "—" : `${formatCount(Math.round(m2))} m²`);
export const percent = p => (p == null ? "—" : `${Number(p).toFixed(1)}%`);
const metres = m => (m == null ? "—" : `${formatCount(Math.round(m))} m`);
const yuan = v => `${formatCount(Math.round(v))} ${t("yuan")}`;

const facts = pairs => el("dl", { className: "facts" },
  ...pairs.filter(([, v]) => v != null).flatMap(([k, v]) => [el("dt", { textContent: k }), el("dd", {}, v)]));

// The engine's English verdicts (analysis/engine.py VERDICT_EN), for lists and changes that carry only the Chinese.
const VERDICT_EN = { 不通过: "rejected", 有条件通过: "conditionally approved", 通过: "approved" };

/** A report's verdict in the chosen language. */
export const verdictText = report => (currentLang() === "en" ? report.verdict_en : report.verdict);

/** A Chinese verdict (不通过 / 有条件通过 / 通过) in the chosen language. */
export const verdictName = verdict => (currentLang() === "en" ? VERDICT_EN[verdict] ?? verdict : verdict);

/** A project type's name from the published rules (its key when the rules do not know it). */
export const projectTypeName = (rules, key) => {
  const type = rules?.settings.project_types[key];
  return type ? pick(type) : key;
};

/** A layer's name: the catalog's in the chosen language, else the report's Chinese one. */
const layerName = (ctx, code, fallback) => {
  const layer = ctx.layersByCode.get(code);
  return layer ? pick(layer) : fallback || code;
};

function findingView(finding, ctx) {
  const settings = ctx.rules?.settings;
  const item = finding.approval_item ? settings?.approval_items[finding.approval_item] : null;
  const department = settings?.departments[finding.department];
  const article = el("article", { className: `finding grade-${finding.grade}` },
    el("h4", { textContent: layerName(ctx, finding.layer, finding.layer_name_zh) }),
    el("p", { textContent: pick(finding, "message") }),
    facts([
      [t("overlap"), finding.overlap_m2 == null ? null : area(finding.overlap_m2)],
      [t("share"), finding.share_pct == null ? null : percent(finding.share_pct)],
      // A distance says something only when the footprint does not overlap the feature.
      [t("distance"), finding.distance_m == null || finding.overlap_m2 ? null : metres(finding.distance_m)],
      [t("legalBasis"), finding.legal_basis.join("；")],
      [t("department"), department ? pick(department) : finding.department],
      [t("approvalItem"), finding.approval_item ? (item ? pick(item) : finding.approval_item) : null],
    ]));
  article.dataset.layer = finding.layer;
  article.dataset.rule = finding.rule_id;
  return article;
}

function findingsView(report, ctx) {
  const part = el("section", { className: "findings" }, el("h3", { textContent: t("findings") }));
  if (!report.findings.length) part.append(el("p", { className: "note", textContent: t("noFindings") }));
  for (const grade of GRADES) {
    const found = report.findings.filter(f => f.grade === grade);
    if (!found.length) continue;
    const group = el("div", { className: `grade-group grade-${grade}` },
      el("h4", { className: "grade-title", textContent: `${t("grades")[grade]}（${found.length}）` }),
      ...found.map(f => findingView(f, ctx)));
    group.dataset.grade = grade;
    part.append(group);
  }
  return part;
}

function notCheckableView(report, ctx) {
  if (!report.not_checkable.length) return null;
  return el("section", { className: "not-checkable" }, el("h3", { textContent: t("notCheckable") }),
    el("ul", {}, ...report.not_checkable.map(n => el("li", {},
      el("strong", { textContent: layerName(ctx, n.layer, n.layer_name_zh) }), `：${pick(n, "reason")}`))));
}

function demolitionView(report) {
  const d = report.demolition;
  const compensation = d.compensation
    ? el("span", { className: "compensation", textContent: yuan(d.compensation.total_yuan) }) : null;
  return el("section", { className: "demolition" }, el("h3", { textContent: t("demolition") }), facts([
    [t("buildings"), `${formatCount(d.buildings)} ${t("buildingUnit")}`.trim()],
    [t("floorArea"), area(d.floor_area_m2)],
    [t("households"), formatCount(d.households)],
    [t("collectiveLand"), area(d.collective_land_m2)],
    [t("stateLand"), area(d.state_land_m2)],
    [t("compensation"), compensation],
  ]));
}

function terrainView(report) {
  const terrain = report.terrain;
  return el("section", { className: "terrain" }, el("h3", { textContent: t("terrain") }), terrain ? facts([
    [t("meanSlope"), `${terrain.mean_slope_deg.toFixed(1)}°`],
    [t("steepShare"), percent(terrain.steep_share_pct)],
    [t("steepArea"), area(terrain.steep_area_m2)],
  ]) : el("p", { className: "note", textContent: t("noTerrain") }));
}

function staleView(stored, ctx) {
  if (!stored.stale.length) return null;
  const button = el("button", { type: "button", id: "preeval-recheck", className: "primary", textContent: t("recheck"),
    onclick: () => ctx.onRecheck(stored.id) });
  return el("section", { className: "stale-note", role: "status" },
    el("p", {}, el("span", { className: "badge stale", textContent: t("staleReport") }), " ", t("staleNote")),
    el("ul", {}, ...stored.stale.map(m => el("li", {
      textContent: t("staleMark", layerName(ctx, m.layer), m.from_version, m.to_version, m.changed) }))),
    button);
}

function changesView(stored, ctx) {
  const changes = stored.changes;
  if (!changes) return null;
  const lines = [];
  if (changes.verdict_before !== changes.verdict_after) {
    lines.push(t("verdictChange", verdictName(changes.verdict_before), verdictName(changes.verdict_after)));
  }
  for (const c of changes.findings) {
    const grades = t("grades");
    const grade = `${grades[c.grade_before] ?? "—"} → ${grades[c.grade_after] ?? "—"}`;
    lines.push(`${t("changeKinds")[c.change] ?? c.change}：${layerName(ctx, c.layer)}（${grade}，`
      + `${area(c.overlap_m2_before)} → ${area(c.overlap_m2_after)}）`);
  }
  for (const [layer, [before, after]] of Object.entries(changes.layer_versions)) {
    lines.push(t("layerVersionChange", layerName(ctx, layer), before, after));
  }
  const none = changes.verdict_before === changes.verdict_after && !changes.findings.length;
  return el("section", { className: "changes", role: "status" },
    el("h3", { textContent: t("changesTitle", changes.previous_id) }),
    none ? el("p", { className: "note", textContent: t("noChanges") }) : null,
    lines.length ? el("ul", {}, ...lines.map(text => el("li", { textContent: text }))) : null);
}

function downloadsView(stored, ctx) {
  const buttons = ["html", "csv", "xlsx"].map(kind => {
    const button = el("button", { type: "button", className: "link", textContent: kind.toUpperCase(),
      onclick: () => ctx.onDownload(stored.id, kind) });
    button.dataset.download = kind;
    return button;
  });
  return el("p", { className: "downloads" }, `${t("downloads")}：`, ...buttons);
}

/**
 * The whole report of a stored pre-evaluation as one node. `ctx`: {rules, layersByCode, onRecheck(id),
 * onDownload(id, kind)}.
 */
export function reportView(stored, ctx) {
  const report = stored.report;
  const verdict = el("p", { id: "preeval-verdict", className: `verdict verdict-${VERDICT_CLASS[report.verdict] || "other"}`,
    textContent: verdictText(report) });
  const root = el("div", { className: "preeval-report" },
    el("h2", { textContent: t("reportTitle", stored.id) }),
    verdict,
    facts([
      [t("projectType"), projectTypeName(ctx.rules, report.project_type)],
      [t("projectCodeShort"), stored.project_code || "—"],
      [t("footprintArea"), area(report.footprint_area_m2)],
      [t("buildableArea"), `${area(report.buildable.area_m2)}（${percent(report.buildable.share_pct)}）`],
      [t("rulesVersion"), report.rules_version],
      [t("evaluatedAt"), formatDate(stored.created_at, true)],
      [t("repairs"), report.repairs.length ? report.repairs.join("；") : null],
    ]),
    staleView(stored, ctx),
    changesView(stored, ctx),
    downloadsView(stored, ctx),
    findingsView(report, ctx),
    notCheckableView(report, ctx),
    demolitionView(report),
    terrainView(report));
  root.dataset.id = stored.id;
  return root;
}
