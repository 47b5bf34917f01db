// Console header on narrow screens: the menu button (☰ 菜单) shows and hides the navigation panel.
document.addEventListener("DOMContentLoaded", function () {
  const button = document.querySelector("header.gc-top .nav-toggle");
  if (!button) return;
  const header = button.closest("header");
  button.addEventListener("click", function () {
    const open = header.classList.toggle("nav-open");
    button.setAttribute("aria-expanded", open ? "true" : "false");
  });
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape" && header.classList.contains("nav-open")) {
      header.classList.remove("nav-open");
      button.setAttribute("aria-expanded", "false");
      button.focus();
    }
  });
});
