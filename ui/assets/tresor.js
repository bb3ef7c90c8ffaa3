// tresor.js: progressive enhancement only. Every page works without it.
"use strict";
document.addEventListener("click", function (ev) {
  var el = ev.target.closest("[data-print]");
  if (el) {
    ev.preventDefault();
    window.print();
  }
});
document.addEventListener("submit", function (ev) {
  // A long-running step (setup creates the pool) disables its button so a
  // second click does not send the form twice.
  var btn = ev.submitter;
  if (btn && btn.hasAttribute("data-busy")) {
    btn.setAttribute("aria-busy", "true");
    setTimeout(function () { btn.disabled = true; }, 0);
  }
});
