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

  // A poll that never answers (a connection dropped without being closed) is given up after this long: the board
  // then says it may be stale and polls again, instead of waiting on it for minutes with old rows and no word.
  var patience = Math.max(every * 2, 10000);

  function poll() {
    var controller = window.AbortController ? new window.AbortController() : null;
    var timer = controller ? window.setTimeout(function () { controller.abort(); }, patience) : null;
    fetch(url, {
      credentials: "same-origin",
      headers: { "Accept": "application/json" },
      cache: "no-store",
      signal: controller ? controller.signal : undefined
    })
      .then(function (response) {
        if (response.status === 401 || response.status === 403) { window.location.reload(); return null; }
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (data) {
        if (data) { apply(data); offline.hidden = true; }
      })
      .catch(function () { offline.hidden = false; })
      .then(function () { window.clearTimeout(timer); window.setTimeout(poll, every); });
  }

  window.setTimeout(poll, every);
})();
