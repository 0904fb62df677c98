/*
 * Printable pages (pre-evaluation report, demolition summary): the 打印 button. The pages allow no inline
 * event handler (Content-Security-Policy), so it is wired here; the map is folium's own script.
 */
(function () {
  "use strict";
  for (const button of document.querySelectorAll("button[data-print]")) {
    button.addEventListener("click", () => window.print());
  }
})();
