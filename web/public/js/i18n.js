// UI text in Chinese (default) and English; the choice is kept in localStorage under duogui.lang.

// The strings live in /i18n/zh.json and /i18n/en.json, fetched from the app's own origin before any module
// that imports this one runs (top-level await), so nothing renders before the text is there. A value is a
// string, a map of strings, or a template whose {0}, {1}… are the arguments of t(key, ...args) in order.
const LANGS = ["zh", "en"];

/** The locale file of one language. */
async function loadLocale(code) {
  const response = await fetch(new URL(`../i18n/${code}.json`, import.meta.url));
  if (!response.ok) throw new Error(`i18n/${code}.json: HTTP ${response.status}`);
  return response.json();
}

const TEXT = Object.fromEntries(await Promise.all(LANGS.map(async code => [code, await loadLocale(code)])));

const orDash = value => value ?? "—";
const named = (map, code) => t(map)[code] ?? code;
const list = items => items.join(t("listSeparator"));

/** The templates whose arguments are computed before they are put in (the rest take them as they are). */
const PREPARE = {
  staleMark: (layer, from, to, n) => [layer, orDash(from), orDash(to), n],
  layerVersionChange: (layer, a, b) => [layer, orDash(a), orDash(b)],
  pjInfeasible: (target, forecast, float, asOf) => [target, forecast, -float, asOf],
  pjProvisional: years => [list(years)],
  pjMoved: (a, s) => [named("pjActions", a), named("pjItemStatus", s)],
  pjDemandDecided: (id, verb) => [id, named("pjTriageVerbs", verb)],
  pjEdited: keys => [list(keys.map(k => named("pjEditFields", k)))],
  pjLinkOption: (id, project, type, place, date, verdict, area, own, stale) =>
    [id, project, type, place, date, verdict, area, own ? t("pjLinkOwn") : "", stale ? t("pjLinkStale") : ""],
};

/** Templates with a singular form, chosen by the arguments. */
const FORM = { pjLinkAdded: (id, n) => (n === 1 ? "pjLinkAddedOne" : "pjLinkAdded") };

let lang = localStorage.getItem("duogui.lang") === "en" ? "en" : "zh";
const listeners = [];

/** The current language, "zh" or "en". */
export const currentLang = () => lang;

/** The text of a key (a template gets the arguments in its {0}, {1}…); an unknown key is shown as is. */
export function t(key, ...args) {
  const name = FORM[key]?.(...args) ?? key;
  const value = TEXT[lang][name] ?? TEXT.zh[name];
  if (value === undefined) return key;
  if (typeof value !== "string") return value;
  const values = PREPARE[key]?.(...args) ?? args;
  return value.replace(/\{(\d+)\}/g, (_, i) => `${values[i]}`);
}

/** The Chinese or English field of an object: name(obj) picks obj.name_zh or obj.name_en. */
export function pick(obj, field = "name") {
  return (lang === "en" && obj[`${field}_en`]) || obj[`${field}_zh`] || obj[field] || "";
}

/** Fill the static page text (data-i18n, data-i18n-placeholder, data-i18n-label). */
export function applyStatic(root = document) {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  document.title = t("title");
  root.querySelectorAll("[data-i18n]").forEach(el => { el.textContent = t(el.dataset.i18n); });
  root.querySelectorAll("[data-i18n-placeholder]").forEach(el => { el.placeholder = t(el.dataset.i18nPlaceholder); });
  root.querySelectorAll("[data-i18n-label]").forEach(el => el.setAttribute("aria-label", t(el.dataset.i18nLabel)));
  localiseMapControls(root);
  const button = document.getElementById("lang");
  button.textContent = lang === "zh" ? "English" : "中文";
  button.lang = lang === "zh" ? "en" : "zh-CN";
}

// MapLibre's control tooltips (English of its own) → our keys: maps are made with them (mapLocale) and their
// buttons relabelled on a language switch.
const MAP_CONTROLS = [
  ["NavigationControl.ZoomIn", ".maplibregl-ctrl-zoom-in", "mapZoomIn"],
  ["NavigationControl.ZoomOut", ".maplibregl-ctrl-zoom-out", "mapZoomOut"],
  ["NavigationControl.ResetBearing", ".maplibregl-ctrl-compass", "mapResetBearing"],
];

/** MapLibre's UI strings in the current language (a map's `locale` option). */
export const mapLocale = () => Object.fromEntries(MAP_CONTROLS.map(([name, , key]) => [name, t(key)]));

function localiseMapControls(root) {
  for (const [, selector, key] of MAP_CONTROLS) {
    root.querySelectorAll(selector).forEach(button => {
      button.title = t(key);
      button.setAttribute("aria-label", t(key));
    });
  }
}

/** Switch language, remember it, re-render the static text and tell the listeners. */
export function toggleLang() {
  lang = lang === "zh" ? "en" : "zh";
  localStorage.setItem("duogui.lang", lang);
  applyStatic();
  listeners.forEach(fn => fn(lang));
}

/** Call fn after every language switch. */
export const onLangChange = fn => listeners.push(fn);

/** A date or timestamp for people: 2026-01-31 or 2026-01-31 14:05. */
export function formatDate(value, withTime = false) {
  if (!value) return "—";
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  const pad = n => String(n).padStart(2, "0");
  const day = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  return withTime ? `${day} ${pad(d.getHours())}:${pad(d.getMinutes())}` : day;
}

/** A count with thousands separators. */
export const formatCount = n => (n == null ? "—" : Number(n).toLocaleString(lang === "zh" ? "zh-CN" : "en"));

/** A figure with thousands separators and at most `digits` decimals (no trailing zeros): 27,700 or 12,799.96. */
export const formatNumber = (value, digits = 2) =>
  (value == null || value === "" ? "—"
    : Number(value).toLocaleString(lang === "zh" ? "zh-CN" : "en", { maximumFractionDigits: digits }));

// Units written straight after the figure (50%, 12.5°); the others follow a space (27,700 元/m²).
const TIGHT_UNITS = new Set(["%", "°", "‰"]);

/** A figure and its unit, as layers/numbers.py writes them: "27,700 元/m²", "49.97%"; a dash when missing. */
export function withUnit(value, unit, digits = 2) {
  const figure = formatNumber(value, digits);
  if (figure === "—" || !unit) return figure;
  return TIGHT_UNITS.has(unit) ? `${figure}${unit}` : `${figure} ${unit}`;
}
