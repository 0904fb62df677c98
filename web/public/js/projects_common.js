// Shared pieces of the approval tracker's page: labels of codes, tables, dates and messages.
import { errorText } from "./api.js";
import { currentLang, formatCount, pick, t } from "./i18n.js";
import { el } from "./panels.js";

export { el };

/** A label from one of the i18n maps (pjStatus, pjItemStatus, …), or the raw code when unknown. */
export const label = (map, code) => (code == null ? "—" : t(map)[code] ?? code);

/** Investment in 万元 for people. */
export const wan = value => (value == null ? "—" : `${formatCount(Number(value))} ${t("pjWan")}`);

/** A percentage from a 0–1 ratio. */
export const ratio = value => (value == null ? "—" : `${(100 * value).toFixed(1)}%`);

/** An ISO date (YYYY-MM-DD) as shown: unchanged, or a dash. */
export const day = value => value || "—";

/** Whole days between two ISO dates (calendar days, for the timeline's scale). */
export const daysBetween = (a, b) => Math.round((Date.parse(b) - Date.parse(a)) / 86_400_000);

/** The organisation directory: id or code → {name_zh, name_en, code, kind}. */
export class Orgs {
  constructor(list = []) {
    this.byId = new Map(list.map(o => [o.id, o]));
    this.byCode = new Map(list.map(o => [o.code, o]));
    this.list = list;
  }

  /** The name of an organisation by id or code, in the chosen language. */
  name(idOrCode) {
    const org = this.byId.get(idOrCode) ?? this.byCode.get(idOrCode);
    return org ? pick(org) : String(idOrCode ?? "—");
  }

  /** Organisations of some kinds, sorted by name. */
  ofKind(...kinds) {
    return this.list.filter(o => kinds.includes(o.kind)).sort((a, b) => a.code.localeCompare(b.code));
  }
}

/** An approval item's name in the chosen language (items and warnings: name_zh/name_en or item_name_…). */
export function itemName(item) {
  const zh = item.name_zh ?? item.item_name_zh;
  const en = item.name_en ?? item.item_name_en;
  return (currentLang() === "en" && en) || zh || item.item_code || "—";
}

/** Why an item was added to the plan (the pre-evaluation conflict), in the chosen language. */
export const itemReason = item => (currentLang() === "en" && item.reason_en) || item.reason || "";

/** The project type's name: the template's Chinese name, or the English one from i18n. */
export function typeName(templates, type) {
  if (currentLang() === "en") return t("pjTypes")[type] ?? type;
  return templates.get(type)?.name_zh ?? type;
}

/**
 * A table: columns [{key, head, cell(row) → node|string, className?, sort?}], rows, options {id, rowProps(row)}.
 * Wrapped in a horizontally scrolling box so narrow screens keep every column.
 */
export function table(columns, rows, { id, className = "", rowProps = () => ({}), sorted = null, onSort = null } = {}) {
  const head = el("tr", {}, ...columns.map(c => {
    const th = el("th", { scope: "col", className: c.className ?? "" });
    if (onSort && c.sort) {
      const button = el("button", { type: "button", className: "link sort", textContent: c.head });
      button.dataset.sort = c.key;
      button.addEventListener("click", () => onSort(c.key));
      th.append(button);
      if (sorted?.key === c.key) th.setAttribute("aria-sort", sorted.dir > 0 ? "ascending" : "descending");
    } else {
      th.textContent = c.head;
    }
    return th;
  }));
  const body = rows.map(row => {
    const tr = el("tr");
    for (const [k, v] of Object.entries(rowProps(row))) {
      if (k === "className") tr.className = v;
      else tr.dataset[k] = v;
    }
    tr.append(...columns.map(c => {
      const value = c.cell(row);
      const td = el("td", { className: c.className ?? "" });
      td.dataset.col = c.key;
      if (value instanceof Node) td.append(value);
      else td.textContent = value ?? "—";
      return td;
    }));
    return tr;
  });
  const node = el("table", { className: `pj-table ${className}` }, el("thead", {}, head), el("tbody", {}, ...body));
  if (id) node.id = id;
  return el("div", { className: "pj-scroll" }, node);
}

/** A <dl> of facts: [[label, value], …]. */
export function facts(pairs) {
  const dl = el("dl", { className: "facts" });
  for (const [term, value] of pairs) {
    const dd = el("dd");
    if (value instanceof Node) dd.append(value);
    else dd.textContent = value ?? "—";
    dl.append(el("dt", { textContent: term }), dd);
  }
  return dl;
}

/** A message paragraph: an ApiError (shown in the chosen language), a {key} of the page, or nothing. */
export function message(state, id) {
  const p = el("p", { id, className: state?.ok ? "note pj-ok" : "error" });
  p.setAttribute("role", state?.ok ? "status" : "alert");
  if (state?.ok) p.textContent = t(...state.ok);
  else if (state?.key) p.textContent = t(state.key, ...(state.args ?? []));
  else if (state) p.textContent = errorText(state);
  return p;
}

/** A small labelled form field: returns {wrap, input}. */
export function field(id, text, input, hint = "") {
  input.id = id;
  // A searchable picker (picker.js) brings its search box: the field shows both.
  const wrap = el("div", { className: "pj-field" }, el("label", { htmlFor: id, textContent: text }), input.pickerBox ?? input);
  if (hint) wrap.append(el("small", { className: "note", textContent: hint }));
  wrap.append(el("p", { className: "error field-error", id: `${id}-error` }));
  return { wrap, input };
}

/** A <select> with options [[value, text], …] and a chosen value. */
export function select(options, value = "") {
  const node = el("select");
  for (const [v, text] of options) node.append(el("option", { value: v, textContent: text }));
  node.value = value;
  return node;
}
