// The evaluation device polls its panel (hx-trigger="every Ns" on #eval-panel) for the next transaction. A poll
// must not replace the buttons under a finger: skip it while a button or field of the panel has the focus or a
// form is being submitted.
(function () {
  "use strict";
  let submitting = false;
  document.addEventListener("submit", function () { submitting = true; }, true);
  document.addEventListener("htmx:beforeRequest", function (e) {
    const el = e.detail && e.detail.elt;
    if (!el || el.id !== "eval-panel") return;
    const active = document.activeElement;
    if (submitting || (active && el.contains(active) && active.closest("form"))) e.preventDefault();
  });
})();
