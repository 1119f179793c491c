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
        hidden.dataset.submitter = "1";
        form.appendChild(hidden);
      }
      form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
    });
  });
  // Back to a page kept in the browser's cache (a slow answer, the back button): its buttons were left disabled
  // by the guard above. Enable them again; the server recognises a form it already filed and files nothing.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) { return; }
    document.querySelectorAll("form[method=post]").forEach(function (form) {
      delete form.dataset.submitted;
      form.querySelectorAll("input[type=hidden][data-submitter]").forEach(function (input) { input.remove(); });
      form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = false; });
    });
  });
})();
