/* The filing form: mark the required elements of the chosen report kind (SPEC rule 8), make a correction a
   follow-up, and focus the errors. */
(function () {
  "use strict";
  var source = document.getElementById("required-by-kind");
  var form = document.getElementById("report-form");
  if (!source || !form) { return; }
  var required = JSON.parse(source.textContent);

  function mark() {
    var checked = form.querySelector("input[name=kind]:checked");
    var fields = checked ? (required[checked.value] || []) : [];
    form.querySelectorAll(".field").forEach(function (box) {
      var needed = fields.indexOf(box.dataset.field) !== -1;
      var star = box.querySelector(".req");
      if (star) { star.hidden = !needed; }
      var input = box.querySelector("input, textarea, select");
      if (input) { input.setAttribute("aria-required", needed ? "true" : "false"); }
      // Only a verbal report logged by the duty room carries the time the call came in (SPEC rule 2). Hidden for
      // another kind, it is not sent either: a time typed before switching to 书面报 would refuse the report on a
      // field nobody sees (kept in the box, it comes back on switching to 口头报 again).
      if (box.dataset.field === "call_received_at") {
        box.hidden = !checked || checked.value !== "verbal";
        if (input) { input.disabled = box.hidden; }
      }
    });
  }

  // Switching the language reloads the page: what was typed comes back in the other language (kept for this tab
  // only, only until the page is shown again, and only for the user it was typed by: on a shared PC the page may
  // go to the login page instead, and whoever signs in next must not find it in their form; signing out clears it,
  // app.js).
  var key = "typed-report:" + window.location.pathname;
  var typist = form.querySelector("input[name=typed_by]");
  var by = typist ? typist.value : "";
  function keepTyped() {
    if (!by) { return; }
    var values = [];
    form.querySelectorAll("input[name], textarea[name], select[name]").forEach(function (input) {
      if (input.name === "csrfmiddlewaretoken" || input.name === "typed_by") { return; }
      if (input.type === "radio" || input.type === "checkbox") {
        if (input.checked) { values.push([input.name, input.value]); }
      } else {
        values.push([input.name, input.value]);
      }
    });
    try {
      window.sessionStorage.setItem(key, JSON.stringify({ by: by, values: values }));
    } catch (e) { /* private mode: nothing kept */ }
  }
  function restoreTyped() {
    var saved = null;
    try { saved = window.sessionStorage.getItem(key); window.sessionStorage.removeItem(key); } catch (e) { return; }
    if (!saved) { return; }
    try { saved = JSON.parse(saved); } catch (e) { return; }
    if (!saved || !by || saved.by !== by || !Array.isArray(saved.values)) { return; }
    saved.values.forEach(function (pair) {
      form.querySelectorAll("[name=\"" + pair[0] + "\"]").forEach(function (input) {
        if (input.type === "radio" || input.type === "checkbox") { input.checked = input.value === pair[1]; }
        else { input.value = pair[1]; }
      });
    });
  }
  document.querySelectorAll("form.lang").forEach(function (lang) {
    lang.addEventListener("submit", keepTyped);
    lang.querySelectorAll("select").forEach(function (select) { select.addEventListener("change", keepTyped); });
  });
  restoreTyped();

  form.querySelectorAll("input[name=kind]").forEach(function (radio) { radio.addEventListener("change", mark); });
  // Choosing a filed report to correct (SPEC rule 7): a correction is filed as a follow-up (续报).
  var references = document.getElementById("id_references");
  if (references) {
    references.addEventListener("change", function () {
      var followUp = form.querySelector("input[name=kind][value=follow_up]");
      if (references.value && followUp) { followUp.checked = true; mark(); }
    });
  }
  mark();
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }
})();
