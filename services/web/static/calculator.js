// Live results for the calculator: posts the form to /api/calculator as you type and swaps in
// the server-rendered results. Without this script the form still works by a plain POST.
(function () {
  "use strict";
  var form = document.getElementById("calc-form");
  var results = document.getElementById("results");
  var summary = document.getElementById("error-summary");
  if (!form || !results || !window.fetch) return;
  var lang = document.documentElement.lang || "en";
  var seq = 0;
  var timer = null;

  Array.prototype.forEach.call(document.querySelectorAll(".js-only"), function (el) {
    el.hidden = false;
  });

  function clearErrors() {
    Array.prototype.forEach.call(form.querySelectorAll(".field-error"), function (el) {
      el.textContent = "";
    });
    Array.prototype.forEach.call(form.querySelectorAll("[aria-invalid]"), function (el) {
      el.removeAttribute("aria-invalid");
    });
    summary.textContent = "";
  }

  function showErrors(errors) {
    clearErrors();
    var list = document.createElement("ul");
    errors.forEach(function (e) {
      var text = e.localized || e.message;
      var slot = document.getElementById("e-" + e.field);
      var input = document.getElementById("f-" + e.field);
      if (slot) slot.textContent = text;
      if (input) input.setAttribute("aria-invalid", "true");
      // In plain words and linked to the field: "Handover 1: how many a week? please fill this in".
      var item = document.createElement("li");
      var link = document.createElement("a");
      link.href = "#f-" + e.field;
      link.textContent = e.label || e.field;
      item.appendChild(link);
      item.appendChild(document.createTextNode(" " + text));
      list.appendChild(item);
    });
    summary.appendChild(list);
  }

  function update() {
    var mine = ++seq;
    var data = new URLSearchParams();
    new FormData(form).forEach(function (value, name) {
      if (name !== "csrf_token") data.append(name, value);
    });
    fetch("/api/calculator?html=1&lang=" + encodeURIComponent(lang), {
      method: "POST",
      body: data,
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    })
      .then(function (response) {
        return response.json().then(function (body) {
          return { ok: response.ok, body: body };
        });
      })
      .then(function (r) {
        if (mine !== seq) return; // a newer request is on its way
        if (r.ok) {
          clearErrors();
          results.innerHTML = r.body.html; // server-rendered with autoescaping
          // Logging in comes back to what is typed: the login link carries the share link.
          Array.prototype.forEach.call(document.querySelectorAll("a.keep-login"), function (a) {
            var back = "/?lang=" + lang + (r.body.share ? "&share=" + encodeURIComponent(r.body.share) : "");
            a.href = "/login?next=" + encodeURIComponent(back);
          });
          // Switching language reloads the page: carry what is typed along in the share link.
          Array.prototype.forEach.call(document.querySelectorAll("nav.top a[hreflang]"), function (a) {
            var code = a.getAttribute("hreflang");
            a.href = "?lang=" + code + (r.body.share ? "&share=" + encodeURIComponent(r.body.share) : "");
          });
        } else if (r.body && r.body.errors) {
          showErrors(r.body.errors);
        }
      })
      .catch(function () {
        /* offline or server gone: the submit button still works */
      });
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(update, 250);
  }

  form.addEventListener("input", schedule);
  form.addEventListener("change", schedule);

  function renumber(fieldset, index) {
    fieldset.setAttribute("data-row", String(index));
    Array.prototype.forEach.call(fieldset.querySelectorAll("details"), function (d) { d.open = false; });
    var legend = fieldset.querySelector("legend");
    if (legend) legend.textContent = legend.textContent.replace(/\d+/, String(index + 1));
    Array.prototype.forEach.call(fieldset.querySelectorAll("[name],[id],[for],[aria-describedby],[data-row]"), function (el) {
      ["name", "id", "for", "aria-describedby"].forEach(function (attr) {
        var v = el.getAttribute(attr);
        if (v) el.setAttribute(attr, v.replace(/handovers\[\d+\]/g, "handovers[" + index + "]"));
      });
      if (el.hasAttribute("data-row")) el.setAttribute("data-row", String(index));
      if (el.tagName === "INPUT") el.value = "";
      if (el.tagName === "SELECT") el.selectedIndex = 0; // a new row is "not connected yet"
      if (el.classList.contains("field-error")) el.textContent = "";
    });
  }

  var rows = document.getElementById("rows");
  document.getElementById("add-row").addEventListener("click", function () {
    var all = rows.querySelectorAll("fieldset.handover");
    var last = all[all.length - 1];
    var max = 0;
    Array.prototype.forEach.call(all, function (f) {
      max = Math.max(max, Number(f.getAttribute("data-row")));
    });
    var copy = last.cloneNode(true);
    renumber(copy, max + 1);
    rows.appendChild(copy);
    var first = copy.querySelector("input");
    if (first) first.focus();
  });

  rows.addEventListener("click", function (event) {
    var button = event.target.closest("button");
    if (!button) return;
    var fieldset = button.closest("fieldset.handover");
    if (button.classList.contains("remove")) {
      if (rows.querySelectorAll("fieldset.handover").length > 1) fieldset.remove();
      else {
        Array.prototype.forEach.call(fieldset.querySelectorAll("input"), function (i) { i.value = ""; });
        Array.prototype.forEach.call(fieldset.querySelectorAll("select"), function (s) { s.selectedIndex = 0; });
      }
      schedule();
    } else if (button.classList.contains("sw-start")) {
      stopwatch(button, fieldset);
    }
  });

  // A suggested link in the results: choose it in that row's "Connected by" and recalculate.
  // Without this script the same anchor just jumps to the select.
  results.addEventListener("click", function (event) {
    var a = event.target.closest("a.link-suggest");
    if (!a) return;
    var select = document.getElementById("f-handovers[" + a.getAttribute("data-row") + "].connected");
    if (!select) return;
    event.preventDefault();
    select.value = a.getAttribute("data-link");
    select.dispatchEvent(new Event("change", { bubbles: true }));
    select.focus();
  });

  // "Time one retype now": start, do the retype for real, stop; the minutes go into "likely".
  var texts = document.getElementById("stopwatch-text");
  function stopwatch(button, fieldset) {
    var out = fieldset.querySelector(".sw-time");
    if (button.dataset.started) {
      var minutes = (Date.now() - Number(button.dataset.started)) / 60000;
      clearInterval(Number(button.dataset.interval));
      delete button.dataset.started;
      button.textContent = texts.dataset.start;
      var row = fieldset.getAttribute("data-row");
      var input = document.getElementById("f-handovers[" + row + "].minutes.likely");
      input.value = (Math.max(minutes, 0.01)).toFixed(2);
      input.dispatchEvent(new Event("input", { bubbles: true }));
      return;
    }
    var started = Date.now();
    button.dataset.started = String(started);
    button.textContent = texts.dataset.stop;
    button.dataset.interval = String(setInterval(function () {
      var s = Math.floor((Date.now() - started) / 1000);
      out.textContent = Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
    }, 250));
  }
})();
