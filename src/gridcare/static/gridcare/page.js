// Page behaviours that templates ask for with data- attributes; the Content-Security-Policy allows no inline
// script or on…= handler, so every page's script lives in a static file like this one.
//   <select data-autosubmit>     submits its form on change (the language switch)
//   <form data-confirm="…">      asks before submitting; cancelling stops the submission (htmx's too)
//   <form data-submit-once>      disables its buttons once submitted (no double payment confirmation)
//   <button data-print>          prints the page (receipts, daily sheets)
(function () {
  "use strict";
  document.addEventListener("change", function (e) {
    const el = e.target;
    if (el.matches && el.matches("select[data-autosubmit]") && el.form) el.form.submit();
  });
  // Capture phase: runs before htmx's own submit listener on the form.
  document.addEventListener("submit", function (e) {
    const form = e.target;
    if (!(form instanceof HTMLFormElement)) return;
    if (form.hasAttribute("data-confirm") && !window.confirm(form.getAttribute("data-confirm"))) {
      e.preventDefault();
      e.stopImmediatePropagation();
      return;
    }
    if (form.hasAttribute("data-submit-once")) {
      // After this event returns, so the submitter's name/value still goes with the form.
      setTimeout(function () {
        form.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
      }, 0);
    }
  }, true);
  document.addEventListener("click", function (e) {
    const button = e.target.closest && e.target.closest("[data-print]");
    if (button) window.print();
  });
})();
