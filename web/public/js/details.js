// The layer details tab: state, vintage, version history and, for planners, the upload of a new version.
import { api, ApiError } from "./api.js";
import { formatCount, formatDate, pick, t } from "./i18n.js";
import { el, panelMessage } from "./panels.js";

const facts = pairs =>
  el("dl", { className: "facts" }, ...pairs.flatMap(([k, v]) => [el("dt", { textContent: k }), el("dd", {}, v)]));

/** What changed from version `from` to `to` of a layer, in one sentence. */
async function compareVersions(code, from, to, out) {
  out.replaceChildren(el("p", { className: "note", textContent: "…" }));
  try {
    const d = await api(`/api/layers/${encodeURIComponent(code)}/diff?from=${from}&to=${to}`);
    const area = m2 => Math.round(m2).toLocaleString();
    out.replaceChildren(el("p", { className: "diff", role: "status",
      textContent: t("diffResult", from, to, formatCount(d.added), area(d.added_area_m2), formatCount(d.removed),
        area(d.removed_area_m2), formatCount(d.changed), formatCount(d.unchanged))
        + (d.within_tolerance ? t("diffTolerance", formatCount(d.within_tolerance), d.tolerance_m * 100) : "") }));
  } catch (error) {
    out.replaceChildren(el("p", { className: "error", role: "alert", textContent: error.message }));
  }
}

function versionTable(code, versions) {
  if (!versions.length) return el("p", { className: "note", textContent: t("noVersions") });
  const head = el("tr", {}, ...["version", "importedBy", "file"].map(k => el("th", { scope: "col", textContent: t(k) })));
  const lines = (...parts) => parts.map(text => el("div", { textContent: text }));
  const numbers = versions.map(v => v.number);
  const diffOut = el("div", { className: "diff-out" });
  const rows = versions.map(v => {
    const previous = Math.max(...numbers.filter(n => n < v.number));
    const compare = Number.isFinite(previous)
      ? el("button", { type: "button", className: "link", textContent: t("compare"),
        onclick: () => compareVersions(code, previous, v.number, diffOut) })
      : null;
    if (compare) compare.setAttribute("aria-label", t("compareLabel", previous, v.number));
    return el("tr", { className: v.current ? "current" : "" },
      el("td", {}, el("div", { textContent: v.current ? `${v.number} · ${t("current")}` : String(v.number) }), compare),
      el("td", {}, ...lines(formatDate(v.created_at, true), v.created_by_username)),
      el("td", { title: v.note || "" }, ...lines(v.source_name, `${formatCount(v.feature_count)} ${t("features")}`)));
  });
  return el("div", {}, el("table", { className: "versions" }, el("thead", {}, head), el("tbody", {}, ...rows)), diffOut);
}

/** One repaired or skipped feature: its number in the file and why. */
const problemItem = p => el("li", { textContent: `${t("featureNo", p.feature)}：${pick(p, "reason")}` });

/** The import report as a planner reads it: the file, counts, columns, attribute problems, repairs. */
function reportView(answer) {
  const report = answer.report || {};
  const labels = t("reportKeys");
  const scalars = Object.entries(report).filter(([k, v]) => labels[k] && (v == null || typeof v !== "object"));
  const source = report.source || {};
  const parts = [
    el("p", { className: "ok", textContent: t("imported", answer.version, formatCount(answer.feature_count)) }),
    source.name ? facts([
      [t("importFile"), source.name],
      [t("sourceFormat"), [source.driver, source.layer].filter(Boolean).join(" · ")],
      [t("sourceCrs"), source.crs || "—"],
      [t("sourceEncoding"), source.encoding || "—"],
    ]) : null,
    scalars.length ? facts(scalars.map(([k, v]) => [labels[k], formatCount(v)])) : null,
  ];
  const mapped = Object.entries(report.mapped_columns || {});
  if (mapped.length) {
    parts.push(el("h4", { textContent: t("mappedColumns") }),
      el("ul", { className: "columns" }, ...mapped.map(([column, name]) =>
        el("li", { textContent: column === name ? name : `${column} → ${name}` }))));
  }
  if (report.unknown_columns?.length) {
    parts.push(el("p", { className: "note", textContent: t("unknownColumns", report.unknown_columns.join("、")) }));
  }
  if (report.missing_required?.length) {
    parts.push(el("p", { className: "warning", textContent: t("missingRequired", report.missing_required.join("、")) }));
  }
  for (const [name, count] of Object.entries(report.null_required || {})) {
    parts.push(el("p", { className: "warning", textContent: t("nullRequired", name, formatCount(count)) }));
  }
  for (const invalid of report.invalid_values || []) {
    const examples = invalid.examples.map(e => `${t("featureNo", e.feature)}「${e.value}」`).join("，");
    parts.push(el("p", { className: "warning",
      textContent: t("invalidValues", invalid.attribute, formatCount(invalid.count), examples) }));
  }
  for (const [key, list] of [["repairedList", report.repaired], ["skippedList", report.skipped]]) {
    if (list?.length) {
      parts.push(el("h4", { textContent: t(key, formatCount(list.length)) }), el("ul", { className: key }, ...list.map(problemItem)));
    }
  }
  parts.push(el("details", {}, el("summary", { textContent: t("rawReport") }),
    el("pre", { textContent: JSON.stringify(report, null, 2) })));
  return el("div", { className: "report", role: "status" }, ...parts.filter(Boolean));
}

function uploadForm(code, onImported, storageCrs) {
  const field = (key, input) => {
    input.id = `upload-${key}`;
    return el("div", { className: "field" }, el("label", { htmlFor: input.id, textContent: t(key) }), input);
  };
  const file = el("input", { type: "file", name: "file", required: true });
  const skip = el("input", { type: "checkbox", name: "skip_invalid", value: "true", id: "upload-skip" });
  const status = el("div", { className: "upload-status" });
  const submit = el("button", { type: "submit", className: "primary", textContent: t("uploadButton") });
  const form = el("form", { className: "upload" },
    el("h3", { textContent: t("upload") }),
    field("uploadFile", file),
    field("versionNote", el("input", { name: "note", maxLength: 2000 })),
    field("crs", el("input", { name: "crs", maxLength: 2000, placeholder: storageCrs })),
    field("encoding", el("input", { name: "encoding", maxLength: 40, placeholder: "GBK" })),
    el("div", { className: "field inline" }, skip, el("label", { htmlFor: skip.id, textContent: t("skipInvalid") })),
    submit, status);
  form.addEventListener("submit", async event => {
    event.preventDefault();
    const body = new FormData(form);
    for (const [key, value] of [...body.entries()]) if (value === "") body.delete(key);
    submit.disabled = true;
    status.replaceChildren(el("p", { className: "note", textContent: t("uploading") }));
    try {
      const answer = await api(`/api/layers/${encodeURIComponent(code)}/versions`, { method: "POST", body });
      status.replaceChildren(reportView(answer));
      await onImported(code, answer);
    } catch (error) {
      const text = error instanceof ApiError ? error.message : String(error);
      status.replaceChildren(el("p", { className: "error", role: "alert", textContent: `${t("failed")}：${text}` }));
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

/**
 * Load and show one layer. `canImport`: the user may upload versions; `zoomTo(extent)` frames the layer;
 * `onImported(code, answer)` is told after a successful upload (the tree and the tiles refresh);
 * `storageCrs` ("EPSG:…", from /api/district) is the upload form's example CRS;
 * `lastImport` is that answer, shown under the history when the details are drawn again after it.
 */
export async function showDetails(root, code, { groups, canImport, zoomTo, onImported, storageCrs }, lastImport = null) {
  panelMessage(root, "…");
  let layer;
  try {
    layer = await api(`/api/layers/${encodeURIComponent(code)}`);
  } catch (error) {
    panelMessage(root, `${t("loadFailed")}${error.message}`, true);
    return;
  }
  const group = groups.find(g => g.id === layer.group);
  const vintage = el("span", { textContent: formatDate(layer.vintage) });
  if (layer.stale) vintage.append(" ", el("span", { className: "badge stale", textContent: t("stale") }));
  const parts = [
    el("h2", { textContent: pick(layer) }),
    layer.description_zh ? el("p", { className: "note", textContent: layer.description_zh }) : null,
    facts([
      [t("code"), layer.code],
      [t("group"), group ? pick(group) : layer.group],
      [t("kind"), t("kinds")[layer.kind] || layer.kind],
      [t("featureCount"), formatCount(layer.feature_count)],
      [t("vintage"), vintage],
      [t("currentVersion"), layer.live ? t("liveLayer") : layer.current_version == null ? t("none") : String(layer.current_version)],
      [t("updatedAt"), formatDate(layer.updated_at, true)],
      [t("department"), layer.department],
      [t("source"), layer.source],
      [t("scale"), layer.scale || "—"],
    ]),
    layer.extent ? el("button", { type: "button", textContent: t("zoomTo"), onclick: () => zoomTo(layer.extent) }) : null,
    el("h3", { textContent: t("versions") }),
    versionTable(layer.code, layer.versions),
    lastImport ? reportView(lastImport) : null,
    canImport && !layer.live ? uploadForm(layer.code, onImported, storageCrs) : null,
  ];
  root.replaceChildren(...parts.filter(Boolean));
  root.dataset.code = layer.code;
}
