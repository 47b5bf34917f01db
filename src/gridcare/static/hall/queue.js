// Hall queue pages (greeter, kiosk, counter console): the print button of a ticket slip, and the counter
// console's keyboard shortcuts (a key pressed outside a text field clicks the button with that data-key). The
// console refreshes itself every 15 s (htmx polling); a refresh would drop a transfer being chosen, so the poll is
// skipped while the focus is inside the panel's forms.
(function () {
  "use strict";
  document.addEventListener("htmx:beforeRequest", function (e) {
    const el = e.detail && e.detail.elt;
    if (!el || el.id !== "counter-panel") return;
    const active = document.activeElement;
    if (active && el.contains(active) && active.closest("form") && active.tagName !== "BUTTON") e.preventDefault();
  });
  document.addEventListener("click", function (e) {
    const el = e.target.closest && e.target.closest("[data-print]");
    if (el) window.print();
  });
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const t = e.target;
    if (t && (t.isContentEditable || /^(INPUT|SELECT|TEXTAREA)$/.test(t.tagName))) return;
    const panel = document.getElementById("counter-panel");
    if (!panel) return;
    const btn = panel.querySelector('button[data-key="' + (e.key || "").toLowerCase() + '"]:not([disabled])');
    if (btn) {
      e.preventDefault();
      btn.click();
    }
  });
})();
