// The hall's TV display: htmx swaps #display-board every 3 s; each call or recall event (data-call-id) is
// spoken once in Chinese through the browser's speech synthesis (a zh-CN voice when the browser has one).
// The calls already on the board when the page opens are not spoken. Browsers allow speech only after a user
// gesture: the "开启语音播报" button gives it once.
(function () {
  "use strict";
  const spoken = new Set();
  let enabled = false;

  function calls() {
    return Array.prototype.slice.call(document.querySelectorAll("#display-board [data-call-id]"));
  }

  function voice() {
    if (!window.speechSynthesis) return null;
    const voices = window.speechSynthesis.getVoices() || [];
    return voices.find(function (v) { return /^zh(-|_)CN/i.test(v.lang); }) ||
      voices.find(function (v) { return /^zh/i.test(v.lang); }) || null;
  }

  function say(text) {
    if (!enabled || !window.speechSynthesis || !window.SpeechSynthesisUtterance) return;
    const u = new SpeechSynthesisUtterance(text);
    u.lang = "zh-CN";
    u.rate = 0.9;
    const v = voice();
    if (v) u.voice = v;
    window.speechSynthesis.speak(u);
  }

  function announce(initial) {
    // Oldest first, so the spoken order is the calling order.
    calls().reverse().forEach(function (el) {
      const id = el.getAttribute("data-call-id");
      if (spoken.has(id)) return;
      spoken.add(id);
      if (!initial) say(el.getAttribute("data-speech"));
    });
  }

  document.addEventListener("DOMContentLoaded", function () { announce(true); });
  document.addEventListener("htmx:afterSwap", function () { announce(false); });
  document.addEventListener("click", function (e) {
    const b = e.target.closest && e.target.closest("[data-speech-enable]");
    if (!b) return;
    enabled = true;
    b.disabled = true;
    b.textContent = b.getAttribute("data-on") || "语音播报已开启";
    say("语音播报已开启");
  });
})();
