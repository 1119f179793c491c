/* The live board: polls /board/data.json and swaps the table body and the watchdog banner, no full reload.
   Each poll sends the ETag of the last answer; while nothing changed the server answers 304 with no body. What ticks
   comes in headers of every answer: the server's time (X-Board-Now), from which each row's minutes left or overdue
   are counted here (its data-clock-at), and the sweeper's age (X-Board-Heartbeat-Age).
   On the wall screen (/board/?wall=1, the table's data-wall-hold-ms) nobody scrolls: the pinned rows (alarms and the
   duty room's relays) stay on screen and the other rows are paged, each page held that long. */
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

  // The rows change silently for a screen reader: a polite live region says the new counts, only when they change.
  var announce = document.getElementById("board-announce");
  function counts(open, overdue, alarm) {
    return announce.dataset.says.replace("{open}", open).replace("{overdue}", overdue).replace("{alarm}", alarm);
  }
  function shown(id) { return document.getElementById(id).textContent; }
  var said = counts(shown("count-open"), shown("count-overdue"), shown("count-alarm"));

  var etag = table.dataset.etag || null;  // the page's own rows: the first poll need not send them again

  // The wall screen's pages: which rows fit under the pinned ones is measured (a page ends on a whole row, whatever
  // the red banner or the offline notice above take), again whenever the rows or the room for them change. New
  // rows keep the page shown unless it no longer exists (then page 1); the hold runs on regardless of the polls.
  function wallScreen(hold) {
    var wrap = table.parentNode;
    var label = document.getElementById("wall-page");
    var pages = [];
    var at = 0;

    function show() {
      pages.forEach(function (rows, i) {
        rows.forEach(function (row) { row.hidden = i !== at; });
      });
      label.textContent = pages.length ? (at + 1) + " / " + pages.length : "—";
    }

    function notice(count, before, cells) {  // the pinned rows alone overflow: the last line says how many more
      var row = document.createElement("tr");
      var cell = document.createElement("td");
      row.className = "wall-more";
      cell.colSpan = cells;
      cell.textContent = (table.dataset.wallMore || "+{n}").replace("{n}", count);
      row.appendChild(cell);
      body.insertBefore(row, before);
    }

    function layout() {
      var old = body.querySelector("tr.wall-more");
      if (old) { body.removeChild(old); }
      var rows = Array.prototype.filter.call(body.rows, function (row) { return row.dataset.obligation; });
      rows.forEach(function (row) { row.hidden = false; });
      var room = Math.min(wrap.getBoundingClientRect().bottom, window.innerHeight) - body.getBoundingClientRect().top;
      var height = function (row) { return row.getBoundingClientRect().height; };
      var pinned = rows.filter(function (row) { return row.dataset.pinned === "1"; });
      var rest = rows.filter(function (row) { return row.dataset.pinned !== "1"; });
      var used = 0;
      var kept = 0;
      while (kept < pinned.length && used + height(pinned[kept]) <= room) { used += height(pinned[kept]); kept++; }
      pages = [];
      if (kept < pinned.length) {
        var line = height(pinned[0]);
        while (kept > 0 && used + line > room) { kept--; used -= height(pinned[kept]); }
        pinned.slice(kept).concat(rest).forEach(function (row) { row.hidden = true; });
        notice(pinned.length - kept, kept ? pinned[kept - 1].nextSibling : body.firstChild, table.tHead.rows[0].cells.length);
      } else {
        var space = room - used;
        var page = [];
        var filled = 0;
        rest.forEach(function (row) {
          var h = height(row);
          if (filled + h > space && page.length) { pages.push(page); page = []; filled = 0; }
          if (h > space) { row.hidden = true; return; }  // no room for any row under the pinned ones
          page.push(row);
          filled += h;
        });
        if (page.length) { pages.push(page); }
      }
      if (at >= pages.length) { at = 0; }
      show();
    }

    window.setInterval(function () {
      if (pages.length > 1) { at = (at + 1) % pages.length; show(); }
    }, hold);
    if (window.ResizeObserver) { new window.ResizeObserver(layout).observe(wrap); }
    window.addEventListener("resize", layout);
    // Someone at the screen with a keyboard: Esc goes back to the desk's board.
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape") { window.location.href = window.location.pathname; }
    });
    layout();
    return layout;
  }

  var hold = parseInt(table.dataset.wallHoldMs, 10);
  var relayout = hold > 0 ? wallScreen(hold) : function () {};

  function apply(data) {
    body.innerHTML = data.html;
    banner.hidden = !data.heartbeat.stale;
    text("count-open", data.open_count);
    text("count-overdue", data.overdue_count);
    text("count-alarm", data.alarm_count);
    text("count-signals", data.signals_waiting);
    text("count-short", data.units_short);
    document.body.classList.toggle("has-alarm", data.alarm_count > 0);
    var now = counts(data.open_count, data.overdue_count, data.alarm_count);
    if (now !== said) { announce.textContent = now; said = now; }
    relayout();
  }

  var offset = null;  // the server's clock minus this screen's, at the last answer that said

  // The server's time of this answer (ISO 8601 in Beijing time): shown as the board's update time, and each row's
  // countdown recounted from it as the server counts it (minutes overdue rounded down, minutes left rounded up).
  function tick(response) {
    var now = response.headers.get("X-Board-Now");
    var beat = response.headers.get("X-Board-Heartbeat-Age");
    if (beat !== null) { age.textContent = beat === "" ? "—" : Math.round(parseFloat(beat)); }
    var at;
    if (now) {
      text("board-now", now.slice(0, 19).replace("T", " "));
      at = Date.parse(now);
      offset = at - Date.now();
    } else if (offset !== null) {
      at = Date.now() + offset;  // a proxy dropped the header: this screen's clock, set by the last answer with it
    } else {
      return;
    }
    var clocks = body.querySelectorAll("td[data-clock-at]");
    for (var i = 0; i < clocks.length; i++) {
      var minutes = clocks[i].querySelector(".minutes");
      if (!minutes) { continue; }
      var ms = parseInt(clocks[i].dataset.clockAt, 10);
      var value = clocks[i].dataset.clock === "late" ? Math.floor((at - ms) / 60000) : Math.ceil((ms - at) / 60000);
      minutes.textContent = Math.max(0, value);
    }
  }

  // A poll that never answers (a connection dropped without being closed) is given up after this long: the board
  // then says it may be stale and polls again, instead of waiting on it for minutes with old rows and no word.
  var patience = Math.max(every * 2, 10000);

  function poll() {
    var controller = window.AbortController ? new window.AbortController() : null;
    var timer = controller ? window.setTimeout(function () { controller.abort(); }, patience) : null;
    var headers = { "Accept": "application/json" };
    if (etag) { headers["If-None-Match"] = etag; }
    fetch(url, {
      credentials: "same-origin",
      headers: headers,
      cache: "no-store",
      signal: controller ? controller.signal : undefined
    })
      .then(function (response) {
        if (response.status === 401 || response.status === 403) { window.location.reload(); return null; }
        if (response.status === 304) { tick(response); offline.hidden = true; return null; }
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json().then(function (data) {
          apply(data);
          etag = response.headers.get("ETag");
          tick(response);
          offline.hidden = true;
        });
      })
      .catch(function () { offline.hidden = false; })
      .then(function () { window.clearTimeout(timer); window.setTimeout(poll, every); });
  }

  window.setTimeout(poll, every);
})();
