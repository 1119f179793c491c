/* Small progressive enhancements shared by every page; the pages work without them. */
(function () {
  "use strict";
  // The language switcher submits on change (the button stays for keyboard and no-script users).
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
  // A double tap on a phone must not file the same report twice.
  document.querySelectorAll("form[method=post]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (form.dataset.submitted === "1") { event.preventDefault(); return; }
      form.dataset.submitted = "1";
      var submitter = event.submitter;
      if (submitter && submitter.name) {
        // Keep the pressed button's value: disabled buttons are not submitted.
        var hidden = document.createElement("input");
        hidden.type = "hidden"; hidden.name = submitter.name; hidden.value = submitter.value;
        form.appendChild(hidden);
      }
      form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
    });
  });
})();
