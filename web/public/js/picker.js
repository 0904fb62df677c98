// A searchable picker: a search box over the choices, shown as a native list (<select size>), so a long list of
// reports or organisations is narrowed by typing and chosen with the keyboard or a tap — offline, no library.
import { t } from "./i18n.js";
import { el } from "./panels.js";

const VISIBLE_ROWS = 8;
let made = 0; // pickers made so far: each one's option ids are its own

/** Whether an option's search text holds a typed word; "#153" is a number, so only the token "#153" matches. */
function holds(option, word) {
  return word.startsWith("#") ? option.dataset.search.split(/\s+/).includes(word) : option.dataset.search.includes(word);
}

/** Tell assistive technology which option is chosen (the focus stays in the search box). */
function announce(search, select) {
  const option = select.selectedOptions[0];
  if (option && !option.hidden) search.setAttribute("aria-activedescendant", option.id);
  else search.removeAttribute("aria-activedescendant");
}

/** Choose `option` of `select`, scroll it into the list's view and tell the listeners. */
function choose(select, option) {
  if (option.value !== select.value) {
    select.value = option.value;
    select.dispatchEvent(new Event("change", { bubbles: true }));
  }
  option.scrollIntoView({ block: "nearest" });
}

/** Move the choice of `select` to the next (+1) or previous (-1) option the search left shown. */
function step(select, by) {
  const shown = [...select.options].filter(o => !o.hidden);
  if (!shown.length) return;
  const at = shown.findIndex(o => o.value === select.value);
  choose(select, shown[at < 0 ? 0 : Math.min(shown.length - 1, Math.max(0, at + by))]);
}

/**
 * A <select> listing `options` [[value, text, more words to search by], …] with `value` chosen, and a search
 * box above it, `hint` its placeholder (`select.pickerBox` holds both; `field()` shows the box). Typing hides the options missing any
 * typed word (case-insensitive); ↑/↓ in the box move the choice, Enter keeps it without sending the form (a
 * choice the search hid gives way to the first option shown).
 */
export function picker(options, value = "", label = "", hint = t("pickerSearch")) {
  const key = `picker-${(made += 1)}`;
  const select = el("select", { size: Math.min(VISIBLE_ROWS, Math.max(2, options.length)), className: "picker-list" });
  options.forEach(([v, text, more = ""], i) => {
    const option = el("option", { value: v, textContent: text, title: text, id: `${key}-${i}` });
    option.dataset.search = `${text} ${more}`.toLowerCase();
    select.append(option);
  });
  select.value = value;
  const search = el("input", { type: "search", className: "picker-search", placeholder: hint, autocomplete: "off" });
  // A combobox over the list: screen readers hear the option ↑/↓ reach while typing goes on in the box.
  for (const [name, v] of [["role", "combobox"], ["aria-autocomplete", "list"], ["aria-expanded", "true"],
    ["aria-label", `${label}：${hint}`]]) search.setAttribute(name, v);
  const count = el("small", { className: "note picker-count" });
  count.setAttribute("aria-live", "polite");
  const filter = () => {
    const words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    for (const option of select.options) {
      option.hidden = !words.every(w => holds(option, w));
      if (!option.hidden) shown += 1;
    }
    count.textContent = t("pickerCount", shown, select.options.length);
    announce(search, select);
  };
  search.addEventListener("input", filter);
  search.addEventListener("focus", () => { if (select.id) search.setAttribute("aria-controls", select.id); });
  select.addEventListener("change", () => announce(search, select));
  search.addEventListener("keydown", event => {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") step(select, event.key === "ArrowDown" ? 1 : -1);
    else if (event.key === "Enter") {
      const kept = select.selectedOptions[0];
      const first = [...select.options].find(o => !o.hidden);
      if (kept && !kept.hidden) select.dispatchEvent(new Event("change", { bubbles: true }));
      else if (first) choose(select, first);
    } else return;
    event.preventDefault(); // Enter chooses, it does not send the form
  });
  filter();
  select.pickerBox = el("div", { className: "picker" }, search, select, count);
  return select;
}
