// Hall queue pages (greeter, kiosk, counter console): the print button of a ticket slip, and the counter
// console's keyboard shortcuts (a key pressed outside a text field clicks the button with that data-key).
(function () {
  "use strict";
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
