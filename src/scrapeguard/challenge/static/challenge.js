// ScrapeGuard: hand the widget's proof to the form and continue to the requested page as soon
// as the proof-of-work is done (after a failed attempt the person presses Continue instead,
// so a page that keeps failing cannot loop).
(function () {
  "use strict";
  var form = document.getElementById("sg-challenge-form");
  var status = document.getElementById("sg-status");
  if (!form) { return; }
  var widget = form.querySelector("altcha-widget");
  var proof = form.querySelector("input[name=altcha]");
  if (!widget || !proof) { return; }
  var say = function (text) { if (status) { status.textContent = text; } };
  widget.addEventListener("statechange", function (ev) {
    var state = ev.detail && ev.detail.state;
    if (state === "verifying") { say("Checking your browser…"); }
    if (state === "error") { say("The check failed. Press Continue to try again."); }
    if (state === "verified" && ev.detail.payload) {
      proof.value = ev.detail.payload;
      if (form.dataset.autosubmit === "true") {
        say("Done. Taking you to the page…");
        form.submit();
      } else {
        say("Done. Press Continue.");
      }
    }
  });
})();
