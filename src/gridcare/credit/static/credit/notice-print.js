// The printable 限期整改通知书: the print button (no inline handler under the Content-Security-Policy).
document.addEventListener("DOMContentLoaded", () => {
  for (const b of document.querySelectorAll("[data-print]")) b.addEventListener("click", () => window.print());
});
