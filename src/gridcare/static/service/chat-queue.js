// The agent console's queue of waiting chats, refreshed without reloading: every POLL_MS it asks the JSON API
// (data-url: GET /api/v1/chats?status=waiting) and redraws the rows when the set of waiting chats changed
// (polling, not server-sent events, which would hold a web server thread per open console). Each row links to
// the chat and carries an accept form posting to <data-detail><id>/accept/ with the page's CSRF token.
(function () {
  "use strict";
  var POLL_MS = 3000;
  var root = document.querySelector("[data-chat-queue]");
  if (!root) return;
  var rows = root.querySelector("[data-queue-rows]");
  var count = root.querySelector("[data-queue-count]");
  var empty = root.querySelector("[data-queue-empty]");
  var tokenEl = root.querySelector("input[name=csrfmiddlewaretoken]");
  var csrf = tokenEl ? tokenEl.value : "";
  var base = root.getAttribute("data-detail");
  var busy = false;

  function ids() {
    return Array.prototype.map.call(rows.querySelectorAll("tr[data-id]"), function (tr) {
      return tr.getAttribute("data-id");
    }).join(",");
  }

  function cell(tr, text) {
    var td = document.createElement("td");
    if (text !== undefined) td.textContent = text;
    tr.appendChild(td);
    return td;
  }

  function time(at) {
    try {
      return new Date(at).toLocaleTimeString("zh-CN", { hour12: false, timeZone: "Asia/Shanghai" });
    } catch (e) {
      return "";
    }
  }

  function row(c) {
    var tr = document.createElement("tr");
    tr.setAttribute("data-id", String(c.id));
    tr.setAttribute("data-testid", "waiting-" + c.id);
    var link = document.createElement("a");
    link.href = base + c.id + "/";
    link.textContent = "#" + c.id;
    cell(tr).appendChild(link);
    cell(tr, c.topic);
    cell(tr, c.account_number || "—");
    cell(tr, c.customer);
    cell(tr, time(c.started_at));
    var f = document.createElement("form");
    f.method = "post";
    f.action = base + c.id + "/accept/";
    var t = document.createElement("input");
    t.type = "hidden";
    t.name = "csrfmiddlewaretoken";
    t.value = csrf;
    var b = document.createElement("button");
    b.type = "submit";
    b.textContent = "接入";
    b.setAttribute("data-testid", "accept-" + c.id);
    f.appendChild(t);
    f.appendChild(b);
    cell(tr).appendChild(f);
    return tr;
  }

  function poll() {
    if (busy) return;
    busy = true;
    fetch(root.getAttribute("data-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) return;
        if (count) count.textContent = String(data.count);
        if (empty) empty.hidden = data.items.length > 0;
        var wanted = data.items.map(function (c) { return String(c.id); }).join(",");
        if (wanted === ids()) return;  // unchanged: leave the rows (and any focused button) alone
        while (rows.firstChild) rows.removeChild(rows.firstChild);
        data.items.forEach(function (c) { rows.appendChild(row(c)); });
      })
      .catch(function () { /* the next poll tries again */ })
      .then(function () { busy = false; });
  }

  setInterval(poll, POLL_MS);
})();
