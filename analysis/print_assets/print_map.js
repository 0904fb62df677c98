/*
 * The map of a printable page (pre-evaluation report, demolition summary), drawn with Leaflet from the
 * page's JSON data block. The pages carry no inline script, so they keep to a Content-Security-Policy
 * that allows scripts from the server only; text reaches the page as text nodes, never as markup.
 */
(function () {
  "use strict";

  function textNode(text) {
    const span = document.createElement("span");
    span.className = "print-tooltip";
    span.textContent = text;
    return span;
  }

  // Leaflet writes layer-control names as HTML: hand it the text escaped.
  function escaped(text) {
    const div = document.createElement("div");
    div.textContent = text;
    return div.innerHTML;
  }

  function drawGroup(group) {
    const layer = L.featureGroup();
    for (const feature of group.features) {
      const shape = L.geoJSON({ type: "Feature", geometry: feature.geometry, properties: {} }, {
        style: () => feature.style,
        pointToLayer: (_, latlng) => L.circleMarker(latlng, { radius: 6 }),
      });
      if (feature.tooltip) shape.bindTooltip(() => textNode(feature.tooltip));
      shape.addTo(layer);
    }
    return layer;
  }

  function drawMap(box, data) {
    const map = L.map(box, { attributionControl: false, preferCanvas: Boolean(data.prefer_canvas) });
    L.control.scale().addTo(map);
    const overlays = {};
    for (const group of data.groups) {
      const layer = drawGroup(group).addTo(map);
      if (group.name) overlays[escaped(group.name)] = layer;
    }
    if (data.layer_control && Object.keys(overlays).length) {
      L.control.layers(null, overlays, { collapsed: true }).addTo(map);
    }
    if (data.bounds) map.fitBounds(data.bounds, { padding: [20, 20] });
    else map.setView(data.center, data.zoom);
  }

  for (const button of document.querySelectorAll("button[data-print]")) {
    button.addEventListener("click", () => window.print());
  }
  // Legend colours come as data attributes (a style attribute would need 'unsafe-inline').
  for (const swatch of document.querySelectorAll("[data-colour]")) {
    swatch.style.backgroundColor = swatch.dataset.colour;
  }
  const source = document.getElementById("print-map-data");
  const box = document.getElementById("print-map");
  if (source && box && typeof L !== "undefined") drawMap(box, JSON.parse(source.textContent));
})();
