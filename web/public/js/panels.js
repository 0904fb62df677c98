// The side panel's legend and identify tabs.
import { formatCount, pick, t } from "./i18n.js";

export const el = (tag, props = {}, ...children) => {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children.filter(c => c != null));
  return node;
};

/** Show one tab of the panel. */
export function showTab(name) {
  for (const tab of document.querySelectorAll('#panel [role="tab"]')) {
    const selected = tab.getAttribute("aria-controls") === name;
    tab.setAttribute("aria-selected", String(selected));
    document.getElementById(tab.getAttribute("aria-controls")).hidden = !selected;
  }
  document.getElementById("panel").classList.add("open");
}

function swatch(kind, colour, symbol = {}) {
  const s = el("span", { className: `swatch swatch-${kind}` });
  s.setAttribute("aria-hidden", "true");
  if (kind === "line") s.style.borderTopColor = colour;
  else s.style.background = colour;
  if (kind === "area" && symbol.line) s.style.borderColor = symbol.line;
  if (kind === "area" && symbol.fill_opacity === 0) s.style.background = "transparent"; // drawn as an outline
  if (symbol.dash && kind === "line") s.style.borderTopStyle = "dashed";
  return s;
}

function legendItem(item) {
  const { kind, symbol } = item;
  const colour = symbol.fill || symbol.line || symbol.circle || "#888888";
  const block = el("div", { className: "legend-item" });
  block.dataset.code = item.code;
  if (item.categories) {
    block.append(el("h3", { textContent: pick(item) }));
    block.append(el("ul", {}, ...item.categories.map(c =>
      el("li", {}, swatch(kind, c.colour, symbol), el("span", { textContent: pick(c, "label") })))));
    if (item.line_categories) { // an outline coloured by a second attribute (e.g. a project's tier)
      block.append(el("h4", { textContent: pick(item, "line_label") }), el("ul", { className: "outline-categories" },
        ...item.line_categories.map(c => el("li", {}, swatch(kind, "transparent", { line: c.colour }),
          el("span", { textContent: pick(c, "label") })))));
    }
  } else if (item.ramp) {
    const stops = item.ramp.map((r, i) => `${r.colour} ${Math.round((100 * i) / Math.max(1, item.ramp.length - 1))}%`);
    const bar = el("span", { className: "ramp" });
    bar.style.background = `linear-gradient(to right, ${stops.join(", ")})`;
    block.append(el("h3", { textContent: pick(item) }), bar,
      el("div", { className: "ramp-ends" },
        el("span", { textContent: rampValue(item, 0) }), el("span", { textContent: rampValue(item, -1) })));
  } else {
    block.append(el("h3", {}, swatch(kind, colour, symbol), el("span", { textContent: pick(item) })));
  }
  return block;
}

const rampValue = (item, index) => [item.ramp.at(index).value, item.unit].filter(v => v != null).join(" ");

/**
 * The legend of what the map draws: the ticked layers (catalog order) shown at `zoom` (their `min_zoom` from
 * `layersByCode`), and a note naming how many ticked layers wait for a closer zoom.
 */
export function renderLegend(root, legend, codes, zoom, layersByCode) {
  const on = new Set(codes);
  const drawn = code => zoom >= (layersByCode.get(code)?.min_zoom ?? 0);
  const items = legend.filter(item => on.has(item.code) && drawn(item.code));
  const waiting = codes.filter(code => !drawn(code)).length;
  const nodes = items.map(legendItem);
  if (!codes.length) nodes.push(el("p", { className: "note", textContent: t("legendEmpty") }));
  if (waiting) nodes.push(el("p", { className: "note", id: "legend-waiting", textContent: t("legendWaiting", waiting) }));
  root.replaceChildren(...nodes);
  root.dataset.zoom = String(Math.floor(zoom)); // the zoom the legend was drawn for (tests and tools)
}

/** An attribute as people read it: the server's text (a code's label, a number with its unit), never the code. */
function attributeValue(attr) {
  return pick(attr, "text") || (attr.value == null || attr.value === "" ? "—" : String(attr.value));
}

/**
 * The features found under a point: one block per feature with its attributes under their labels.
 * `onPick(feature)` is called when a block is clicked (the map outlines that feature).
 */
export function renderIdentify(root, features, layersByCode, onPick = null, extra = null) {
  if (!features.length) {
    root.replaceChildren(el("p", { className: "note", textContent: t("identifyNone") }));
    return;
  }
  const blocks = features.map(f => {
    const layer = layersByCode.get(f.layer);
    const rows = [
      el("dt", { textContent: t("featureId") }), el("dd", { textContent: String(f.fid) }),
      ...f.attributes.flatMap(a => [el("dt", { textContent: pick(a, "label") }), el("dd", { textContent: attributeValue(a) })]),
    ];
    const block = el("article", { className: "feature" },
      el("h3", { textContent: layer ? pick(layer) : pick(f, "layer_name") }),
      el("dl", { className: "facts" }, ...rows), extra?.(f));
    block.dataset.layer = f.layer;
    block.dataset.fid = f.fid;
    if (onPick) {
      block.tabIndex = 0;
      block.addEventListener("click", () => onPick(f));
      block.addEventListener("keydown", event => { if (event.key === "Enter") onPick(f); });
    }
    return block;
  });
  root.replaceChildren(el("p", { className: "note", textContent: t("found", formatCount(features.length)) }), ...blocks);
}

/** A note (or an error) in a panel. */
export function panelMessage(root, text, error = false) {
  root.replaceChildren(el("p", { className: error ? "error" : "note", textContent: text, role: error ? "alert" : "status" }));
}
