// The counter form's change preview (找零 = 实收 − 缴费金额, cash only). Only a preview: the server computes
// and stores the change, and refuses a tendered amount below the amount.
(function () {
  function cents(text) {
    var t = (text || "").trim();
    if (!/^\d+(\.\d{0,2})?$/.test(t)) return null;
    var parts = t.split(".");
    return parseInt(parts[0], 10) * 100 + parseInt(((parts[1] || "") + "00").slice(0, 2), 10);
  }
  function update() {
    var out = document.querySelector("[data-testid=change-preview]");
    var amount = document.getElementById("id_amount");
    var tendered = document.getElementById("id_tendered");
    var channel = document.getElementById("id_channel");
    if (!out || !amount || !tendered) return;
    var card = channel && channel.value !== "counter_cash";
    tendered.disabled = !!card;
    var a = cents(amount.value);
    var t = tendered.value.trim() === "" ? a : cents(tendered.value);
    if (card) t = a;
    if (a === null || t === null || t < a) {
      out.textContent = "—";
      return;
    }
    var c = t - a;
    out.textContent = Math.floor(c / 100) + "." + String(c % 100).padStart(2, "0");
  }
  document.addEventListener("DOMContentLoaded", function () {
    ["id_amount", "id_tendered", "id_channel"].forEach(function (id) {
      var el = document.getElementById(id);
      if (el) {
        el.addEventListener("input", update);
        el.addEventListener("change", update);
      }
    });
    update();
  });
})();
