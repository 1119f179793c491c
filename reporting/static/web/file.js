/* The filing form: mark the required elements of the chosen report kind (SPEC rule 8) and focus the errors. */
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
      // Only a verbal report logged by the duty room carries the time the call came in (SPEC rule 2).
      if (box.dataset.field === "call_received_at") { box.hidden = !checked || checked.value !== "verbal"; }
    });
  }

  form.querySelectorAll("input[name=kind]").forEach(function (radio) { radio.addEventListener("change", mark); });
  mark();
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }
})();
