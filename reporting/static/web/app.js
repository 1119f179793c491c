/* Small progressive enhancements shared by every page; the pages work without them. */
(function () {
  "use strict";
  // The language switcher submits on change (the button stays for keyboard and no-script users).
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
  // Signing out leaves nothing typed in the tab (a report kept for a language switch, file.js): the next person
  // at a shared duty-room PC must not find it.
  document.querySelectorAll("form.logout").forEach(function (form) {
    form.addEventListener("submit", function () {
      try {
        Object.keys(window.sessionStorage).forEach(function (key) {
          if (key.indexOf("typed-report:") === 0) { window.sessionStorage.removeItem(key); }
        });
      } catch (e) { /* storage unavailable: nothing was kept */ }
    });
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
  // A long text field (a textarea with a maxlength): the browser silently cuts a longer paste, so the field shows
  // how much of it is used ("1234/5000"), read with the field (aria-describedby), and warns near and at the limit;
  // a change of warning is announced once (aria-live), not every keystroke. The words come from the page
  // (data-count-* on <body>, in its language). A line break counts as one, as the browser and the server count it.
  var words = document.body.dataset;
  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (all, name) { return values[name]; });
  }
  document.querySelectorAll("textarea[maxlength]").forEach(function (area) {
    var max = parseInt(area.getAttribute("maxlength"), 10);
    if (!max || !area.id) { return; }
    var counter = document.createElement("p");
    counter.className = "char-count";
    counter.id = area.id + "_count";
    var label = document.createElement("span");
    label.className = "sr-only";
    label.textContent = (words.countLabel || "") + " ";
    var count = document.createElement("span");
    count.className = "count";
    var warning = document.createElement("span");
    warning.className = "count-warning";
    var live = document.createElement("span");
    live.className = "sr-only";
    live.setAttribute("aria-live", "polite");
    counter.append(label, count, warning, live);
    area.insertAdjacentElement("afterend", counter);
    var described = area.getAttribute("aria-describedby");
    area.setAttribute("aria-describedby", (described ? described + " " : "") + counter.id);
    var state = null;
    function update() {
      var used = area.value.length;
      var now = used >= max ? "full" : (used >= max * 0.9 ? "near" : "ok");
      count.textContent = used + "/" + max;
      var text = now === "full" ? fill(words.countFull || "", { max: max })
        : now === "near" ? fill(words.countNear || "", { n: max - used }) : "";
      warning.textContent = text ? " · " + text : "";
      counter.classList.toggle("near", now === "near");
      counter.classList.toggle("full", now === "full");
      if (state !== null && now !== state) { live.textContent = text; }
      state = now;
    }
    area.addEventListener("input", update);
    update();
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
