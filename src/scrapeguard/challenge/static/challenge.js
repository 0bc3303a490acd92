// ScrapeGuard: continue to the requested page as soon as the proof-of-work is done.
(function () {
  "use strict";
  var form = document.getElementById("sg-challenge-form");
  var status = document.getElementById("sg-status");
  if (!form) { return; }
  var widget = form.querySelector("altcha-widget");
  if (!widget) { return; }
  widget.addEventListener("statechange", function (ev) {
    var state = ev.detail && ev.detail.state;
    if (state === "verifying" && status) { status.textContent = "Checking your browser…"; }
    if (state === "error" && status) { status.textContent = "The check failed. Press Continue to retry."; }
    if (state === "verified") {
      if (status) { status.textContent = "Done. Taking you to the page…"; }
      form.submit();
    }
  });
})();
