// The layer tree: catalog groups, a checkbox, a details button and an opacity slider per layer, search.
import { pick, t } from "./i18n.js";
import { el } from "./panels.js";

export class LayerTree {
  /**
   * @param root the tree's container; `groups` [{id, name_zh, name_en}]; `layers` the /api/layers list;
   * `checked` a Set of codes; handlers onChange(), onDetails(code), onOpacity(code, value 0–1).
   */
  constructor(root, groups, layers, checked, handlers) {
    Object.assign(this, { root, groups, layers, checked, handlers });
    this.filter = "";
    this.zoom = 0;
    this.opacity = new Map();
    root.addEventListener("change", event => this.#changed(event));
    root.addEventListener("input", event => {
      if (event.target.type === "range") {
        const value = Number(event.target.value) / 100;
        this.opacity.set(event.target.dataset.code, value);
        handlers.onOpacity(event.target.dataset.code, value);
      }
    });
    root.addEventListener("click", event => {
      const button = event.target.closest("button[data-details]");
      if (button) handlers.onDetails(button.dataset.details);
    });
  }

  /** The ticked codes in catalog order. */
  checkedCodes() { return this.layers.filter(l => this.checked.has(l.code)).map(l => l.code); }

  setFilter(text) { this.filter = text.trim().toLowerCase(); this.render(); }

  /** Grey out layers that the map does not draw at this zoom. */
  setZoom(zoom) {
    this.zoom = zoom;
    for (const row of this.root.querySelectorAll("li[data-code]")) {
      const hidden = zoom < Number(row.dataset.minZoom);
      row.classList.toggle("out-of-zoom", hidden);
      row.title = hidden ? t("minZoom", row.dataset.minZoom) : "";
    }
  }

  #matches(layer) {
    if (!this.filter) return true;
    return [layer.code, layer.name_zh, layer.name_en].some(s => s.toLowerCase().includes(this.filter));
  }

  #changed(event) {
    const box = event.target;
    if (box.type !== "checkbox") return;
    if (box.dataset.group) {
      const members = this.layers.filter(l => l.group === box.dataset.group && this.#matches(l));
      members.forEach(l => (box.checked ? this.checked.add(l.code) : this.checked.delete(l.code)));
    } else if (box.checked) {
      this.checked.add(box.dataset.code);
    } else {
      this.checked.delete(box.dataset.code);
    }
    this.render();
    this.handlers.onChange();
  }

  /** Draw the tree (keeps which groups are open). */
  render() {
    const open = new Set([...this.root.querySelectorAll("details[open]")].map(d => d.dataset.group));
    const focused = document.activeElement?.dataset?.code;
    const parts = [];
    for (const group of this.groups) {
      const members = this.layers.filter(l => l.group === group.id && this.#matches(l));
      if (!members.length) continue;
      const on = members.filter(l => this.checked.has(l.code)).length;
      const groupBox = el("input", { type: "checkbox", checked: on === members.length });
      groupBox.indeterminate = on > 0 && on < members.length;
      groupBox.dataset.group = group.id;
      groupBox.setAttribute("aria-label", `${pick(group)}：${t("layers")}`);
      const summary = el("summary", {},
        groupBox, el("span", { className: "group-name", textContent: pick(group) }),
        el("span", { className: "count", textContent: `${on}/${members.length}` }));
      const list = el("ul", {}, ...members.map(layer => this.#row(layer)));
      const details = el("details", { open: Boolean(this.filter) || open.has(group.id) }, summary, list);
      details.dataset.group = group.id;
      parts.push(details);
    }
    this.root.replaceChildren(...(parts.length ? parts : [el("p", { className: "note", textContent: t("noMatch") })]));
    this.setZoom(this.zoom);
    if (focused) this.root.querySelector(`input[data-code="${focused}"]`)?.focus();
  }

  #row(layer) {
    const id = `layer-${layer.code}`;
    const name = pick(layer);
    const box = el("input", { type: "checkbox", id, checked: this.checked.has(layer.code) });
    box.dataset.code = layer.code;
    const kind = el("span", { className: `kind kind-${layer.kind}`, title: t("kinds")[layer.kind] });
    kind.setAttribute("aria-hidden", "true");
    const label = el("label", { htmlFor: id }, kind, el("span", { textContent: name }));
    if (layer.stale) label.append(el("span", { className: "badge stale", textContent: t("stale") }));
    const info = el("button", { type: "button", className: "info", textContent: "ⓘ", title: t("details") });
    info.dataset.details = layer.code;
    info.setAttribute("aria-label", t("detailsOf", name));
    const row = el("li", {}, box, label, info);
    row.dataset.code = layer.code;
    row.dataset.minZoom = layer.min_zoom;
    if (this.checked.has(layer.code)) {
      const slider = el("input", { type: "range", min: 0, max: 100, step: 5,
        value: Math.round((this.opacity.get(layer.code) ?? 1) * 100), className: "opacity" });
      slider.dataset.code = layer.code;
      slider.setAttribute("aria-label", t("opacity", name));
      row.append(slider);
    }
    return row;
  }
}
