// Offstage admin: small progressive enhancements. Every page works without this file.
(function () {
  "use strict";
  // Ask before destructive actions: <form data-confirm="…">.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });
  // Copy buttons: <button data-copy="element-id">.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy]");
    if (!button) return;
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source || !navigator.clipboard) return;
    navigator.clipboard.writeText(source.textContent.trim()).then(function () {
      var label = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 1500);
    });
  });
  // Live progress of long work: <div data-progress-url="…" data-in-progress="true"> holding a
  // <progress> and a [data-progress-label]. Polls once a second; reloads when the work ends,
  // so the page shows its result.
  Array.prototype.forEach.call(document.querySelectorAll("[data-progress-url]"), function (box) {
    if (box.getAttribute("data-in-progress") !== "true") return;
    var bar = box.querySelector("progress");
    var label = box.querySelector("[data-progress-label]");
    var poll = function () {
      fetch(box.getAttribute("data-progress-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) throw new Error("HTTP " + response.status);
          return response.json();
        })
        .then(function (progress) {
          bar.max = Math.max(progress.total, 1);
          bar.value = progress.processed;
          label.textContent = progress.label;
          if (progress.in_progress) {
            setTimeout(poll, 1000);
          } else {
            window.location.reload();
          }
        })
        .catch(function () { setTimeout(poll, 5000); });
    };
    setTimeout(poll, 1000);
  });
  // Live parts of a page: <div data-live-url="…"> is replaced every 5 s by the server's new
  // drawing of it (charts included), while the tab is visible. Dimmed when a refresh fails.
  Array.prototype.forEach.call(document.querySelectorAll("[data-live-url]"), function (box) {
    var refresh = function () {
      if (document.hidden) { setTimeout(refresh, 5000); return; }
      fetch(box.getAttribute("data-live-url"), { credentials: "same-origin", headers: { Accept: "text/html" } })
        .then(function (response) {
          // Signed out meanwhile: the redirect is to the sign-in page, which a reload shows.
          if (response.redirected) { window.location.reload(); throw new Error("signed out"); }
          if (!response.ok) throw new Error("HTTP " + response.status);
          return response.text();
        })
        .then(function (html) {
          box.innerHTML = html;
          box.classList.remove("stale");
          box.setAttribute("data-refreshed", String(Date.now()));
        })
        .catch(function () { box.classList.add("stale"); })
        .then(function () { setTimeout(refresh, 5000); });
    };
    setTimeout(refresh, 5000);
  });
})();
