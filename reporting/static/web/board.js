/* The live board: polls /board/data.json and swaps the table body and the watchdog banner, no full reload. */
(function () {
  "use strict";
  var table = document.getElementById("board");
  if (!table) { return; }
  var url = table.dataset.source;
  var every = parseInt(table.dataset.pollMs, 10) || 5000;
  var body = document.getElementById("board-rows");
  var banner = document.getElementById("sweeper-banner");
  var age = document.getElementById("sweeper-age");
  var offline = document.getElementById("board-offline");

  function text(id, value) {
    var el = document.getElementById(id);
    if (el) { el.textContent = value; }
  }

  function apply(data) {
    body.innerHTML = data.html;
    banner.hidden = !data.heartbeat.stale;
    age.textContent = data.heartbeat.age_seconds === null ? "—" : Math.round(data.heartbeat.age_seconds);
    text("count-open", data.rows.length);
    text("count-overdue", data.overdue_count);
    text("count-alarm", data.alarm_count);
    text("count-signals", data.signals_waiting);
    text("count-short", data.units_short);
    text("board-now", data.now);
    document.body.classList.toggle("has-alarm", data.alarm_count > 0);
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" }, cache: "no-store" })
      .then(function (response) {
        if (response.status === 401 || response.status === 403) { window.location.reload(); return null; }
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (data) {
        if (data) { apply(data); offline.hidden = true; }
      })
      .catch(function () { offline.hidden = false; })
      .then(function () { window.setTimeout(poll, every); });
  }

  window.setTimeout(poll, every);
})();
