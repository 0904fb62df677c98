// A searchable picker: a search box over the choices, shown as a native list (<select size>), so a long list of
// reports or organisations is narrowed by typing and chosen with the keyboard or a tap — offline, no library.
import { t } from "./i18n.js";
import { el } from "./panels.js";

const VISIBLE_ROWS = 8;

/** Move the choice of `select` to the next (+1) or previous (-1) option the search left shown. */
function step(select, by) {
  const shown = [...select.options].filter(o => !o.hidden);
  if (!shown.length) return;
  const at = shown.findIndex(o => o.value === select.value);
  const next = shown[at < 0 ? 0 : Math.min(shown.length - 1, Math.max(0, at + by))];
  if (next.value === select.value) return;
  select.value = next.value;
  next.scrollIntoView({ block: "nearest" });
  select.dispatchEvent(new Event("change", { bubbles: true }));
}

/**
 * A <select> listing `options` [[value, text, more words to search by], …] with `value` chosen, and a search
 * box above it (`select.pickerBox` holds both; `field()` shows the box). Typing hides the options missing any
 * typed word (case-insensitive); ↑/↓ in the box move the choice, Enter keeps it without sending the form.
 */
export function picker(options, value = "", label = "") {
  const select = el("select", { size: Math.min(VISIBLE_ROWS, Math.max(2, options.length)), className: "picker-list" });
  for (const [v, text, more = ""] of options) {
    const option = el("option", { value: v, textContent: text, title: text });
    option.dataset.search = `${text} ${more}`.toLowerCase();
    select.append(option);
  }
  select.value = value;
  const search = el("input", { type: "search", className: "picker-search", placeholder: t("pickerSearch"), autocomplete: "off" });
  search.setAttribute("aria-label", `${label}：${t("pickerSearch")}`);
  const count = el("small", { className: "note picker-count" });
  count.setAttribute("aria-live", "polite");
  const filter = () => {
    const words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    for (const option of select.options) {
      option.hidden = !words.every(w => option.dataset.search.includes(w));
      if (!option.hidden) shown += 1;
    }
    count.textContent = t("pickerCount", shown, select.options.length);
  };
  search.addEventListener("input", filter);
  search.addEventListener("keydown", event => {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") step(select, event.key === "ArrowDown" ? 1 : -1);
    else if (event.key === "Enter") select.dispatchEvent(new Event("change", { bubbles: true }));
    else return;
    event.preventDefault(); // Enter chooses, it does not send the form
  });
  filter();
  select.pickerBox = el("div", { className: "picker" }, search, select, count);
  return select;
}
