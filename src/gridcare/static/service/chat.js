// Online chat (在线客服) without reloading the page, for the customer's and the agent's chat pages.
// Live updates are polling, not server-sent events (an open event stream would hold one thread of the
// synchronous web server per chat): every POLL_MS the page asks GET <data-messages-url>?after=<last id> and
// appends what is new. The message form posts to the JSON API (data-post-url) and polls at once; without
// JavaScript it posts to its page and the page reloads. Elements with data-show-when="waiting active" are
// shown only while the chat is in one of those states. No inline script: the Content-Security-Policy forbids it.
(function () {
  "use strict";
  var POLL_MS = 2500;
  var root = document.querySelector("[data-chat]");
  if (!root) return;
  var log = root.querySelector("[data-chat-log]");
  var form = root.querySelector("[data-chat-form]");
  var statusEl = root.querySelector("[data-chat-status]");
  var agentEl = root.querySelector("[data-chat-agent]");
  var errorEl = root.querySelector("[data-chat-error]");
  var tokenEl = root.querySelector("input[name=csrfmiddlewaretoken]");
  var csrf = tokenEl ? tokenEl.value : "";
  var last = parseInt(root.getAttribute("data-last-id") || "0", 10) || 0;
  var status = root.getAttribute("data-status");
  var busy = false;
  var timer = null;

  function time(at) {
    try {
      return new Date(at).toLocaleTimeString("zh-CN", { hour12: false, timeZone: "Asia/Shanghai" });
    } catch (e) {
      return "";
    }
  }

  function append(m) {
    if (log.querySelector('[data-id="' + m.id + '"]')) return;
    var li = document.createElement("li");
    li.className = "chat-msg chat-" + m.sender;
    li.setAttribute("data-id", String(m.id));
    var meta = document.createElement("div");
    meta.className = "chat-meta";
    meta.textContent = m.sender_label + " · " + time(m.at);
    var body = document.createElement("div");
    body.className = "chat-body";
    body.textContent = m.body;  // text, never HTML: a message is whatever somebody typed
    li.appendChild(meta);
    li.appendChild(body);
    log.appendChild(li);
    log.scrollTop = log.scrollHeight;
  }

  function showState(chat) {
    status = chat.status;
    root.setAttribute("data-status", status);
    if (statusEl) statusEl.textContent = chat.status_label;
    if (agentEl && chat.agent) agentEl.textContent = chat.agent;
    root.querySelectorAll("[data-show-when]").forEach(function (el) {
      el.hidden = el.getAttribute("data-show-when").split(" ").indexOf(status) < 0;
    });
  }

  function showError(text) {
    if (!errorEl) return;
    errorEl.textContent = text || "";
    errorEl.hidden = !text;
  }

  function poll() {
    if (busy) return Promise.resolve();
    busy = true;
    var url = root.getAttribute("data-messages-url") + "?after=" + last;
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) return;
        data.items.forEach(append);
        last = data.last_id;
        showState(data.chat);
        if (status === "closed" && timer) {
          clearInterval(timer);
          timer = null;
        }
      })
      .catch(function () { /* offline for a moment: the next poll tries again */ })
      .then(function () { busy = false; });
  }

  function message(data) {
    if (data && Array.isArray(data.detail)) return data.detail.map(function (d) { return d.message; }).join("；");
    return (data && data.detail) || "发送失败，请稍后再试";
  }

  if (form) {
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var box = form.querySelector("textarea[name=body]");
      var text = box.value.trim();
      if (!text) return;
      var button = form.querySelector("button[type=submit]");
      if (button) button.disabled = true;
      fetch(root.getAttribute("data-post-url"), {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf },
        body: JSON.stringify({ body: text }),
      })
        .then(function (r) {
          return r.json().then(function (data) { return { ok: r.ok, data: data }; });
        })
        .then(function (res) {
          if (res.ok) {
            box.value = "";
            showError("");
            return poll();
          }
          showError(message(res.data));
        })
        .catch(function () { showError("网络异常，请稍后再试"); })
        .then(function () {
          if (button) button.disabled = false;
          box.focus();
        });
    });
  }

  log.scrollTop = log.scrollHeight;
  if (status !== "closed") timer = setInterval(poll, POLL_MS);
})();
