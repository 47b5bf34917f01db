// The dispatcher board refreshes itself by htmx polling (hx-trigger="every 20s" on #board). A refresh would
// replace a crew choice being made: skip the poll while the focus is inside one of the board's forms.
(function () {
  "use strict";
  document.addEventListener("htmx:beforeRequest", function (e) {
    const el = e.detail && e.detail.elt;
    if (!el || el.id !== "board") return;
    const active = document.activeElement;
    if (active && el.contains(active) && active.closest("form")) e.preventDefault();
  });
})();
