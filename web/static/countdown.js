// Live SLA clocks: every [data-due] countdown ticks once a second and its row turns amber past
// 80 % of the time allowed and red once breached. Progressive: without this script the page
// shows the server's countdown. Rows swapped in by the refresh (htmx) are found on the next tick.
(function () {
  "use strict";
  var wordsNode = document.getElementById("countdown-words");
  if (!wordsNode) return;
  var words = JSON.parse(wordsNode.textContent);
  var RISK = 0.8;
  var STATES = ["on_time", "at_risk", "breached"];

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, key) { return String(values[key]); });
  }

  function amount(seconds) {
    var d = Math.floor(seconds / 86400), h = Math.floor((seconds % 86400) / 3600);
    var m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    if (d) return fill(words.dh, { d: d, h: h });
    if (h) return fill(words.hm, { h: h, m: m });
    return fill(words.ms, { m: m, s: s });
  }

  function state(now, created, due) {
    if (now > due) return "breached";
    if (due > created && now - created > (due - created) * RISK) return "at_risk";
    return "on_time";
  }

  function swap(node, prefix, next) {
    STATES.concat(["none"]).forEach(function (s) { node.classList.remove(prefix + s); });
    node.classList.add(prefix + next);
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-due]").forEach(function (node) {
      var due = Date.parse(node.dataset.due), created = Date.parse(node.dataset.created || node.dataset.due);
      if (isNaN(due)) return;
      var left = Math.round((due - now) / 1000);
      node.textContent = fill(left >= 0 ? words.left : words.overdue, { amount: amount(Math.abs(left)) });
      var next = state(now, created, due);
      swap(node, "sla-", next);
      node.dataset.sla = next;
      var row = node.closest("tr");
      if (row) swap(row, "sla-row-", next);
      var badge = row && row.querySelector("[data-sla-badge]");
      if (badge) { swap(badge, "sla-badge-", next); badge.textContent = words[next]; }
    });
  }

  tick();
  setInterval(tick, 1000);
  document.body.addEventListener("htmx:afterSwap", tick);
  // No refresh while someone is picking rows for a bulk action: the swap would drop their ticks.
  document.body.addEventListener("htmx:beforeRequest", function (event) {
    if (document.querySelector(".bulk-pick:checked")) event.preventDefault();
  });
})();
