// Tariff editor (billing/tariff_editor.html): shows the price rows of the chosen energy pricing mode only.
document.addEventListener("DOMContentLoaded", function () {
  const form = document.getElementById("tariff-editor");
  if (!form) return;
  function show() {
    const checked = form.querySelector("input[name=energy_mode]:checked");
    const mode = checked ? checked.value : "single";
    form.querySelectorAll("[data-mode]").forEach(function (el) { el.hidden = el.getAttribute("data-mode") !== mode; });
  }
  form.querySelectorAll("input[name=energy_mode]").forEach(function (r) { r.addEventListener("change", show); });
  show();
});
