// The 95598 order forms (new order, the agent console's quick form). The Content-Security-Policy allows no
// inline script, so the behaviours live here and the templates ask for them with data- attributes:
//   <select data-order-type>                    the type; the sub-type field shows only the chosen type's group
//   <select data-sub-type> <optgroup data-type> the sub-types, one group per type that has them
//   <form data-quick-order>                     digit keys 1-7 (outside text fields) pick the type, Ctrl+Enter submits
(function () {
  "use strict";
  function typeOf(form) {
    const sel = form.querySelector("[data-order-type]");
    if (sel) return sel.value;
    const radio = form.querySelector("input[name=order_type]:checked");
    return radio ? radio.value : "";
  }
  function syncSubTypes(form) {
    const sub = form.querySelector("select[data-sub-type]");
    if (!sub) return;
    const type = typeOf(form);
    let any = false;
    sub.querySelectorAll("optgroup[data-type]").forEach(function (g) {
      const on = g.getAttribute("data-type") === type;
      g.disabled = !on;
      g.hidden = !on;
      if (on) any = true;
    });
    const selected = sub.selectedOptions[0];
    if (selected && selected.parentElement.tagName === "OPTGROUP" && selected.parentElement.disabled) sub.value = "";
    const wrap = sub.closest(".field") || sub.parentElement;
    wrap.classList.toggle("svc-hidden", !any);
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form").forEach(function (form) {
      if (form.querySelector("select[data-sub-type]")) syncSubTypes(form);
    });
  });
  document.addEventListener("change", function (e) {
    const el = e.target;
    if (el.form && (el.matches("[data-order-type]") || el.name === "order_type")) syncSubTypes(el.form);
  });
  document.addEventListener("keydown", function (e) {
    const form = document.querySelector("form[data-quick-order]");
    if (!form) return;
    const t = e.target;
    const typing = t && (t.tagName === "TEXTAREA" || (t.tagName === "INPUT" && t.type !== "radio") || t.tagName === "SELECT");
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && form.contains(t)) {
      e.preventDefault();
      form.requestSubmit();
      return;
    }
    if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
    const radio = form.querySelector('input[name=order_type][data-key="' + e.key + '"]');
    if (!radio) return;
    e.preventDefault();
    radio.checked = true;
    syncSubTypes(form);
    const next = form.querySelector("[data-quick-focus]");
    if (next) next.focus();
  });
})();
