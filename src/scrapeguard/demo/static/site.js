// Commonplace: small progressive enhancements; the site works without JavaScript.
document.addEventListener("DOMContentLoaded", function () {
  var q = document.getElementById("q");
  if (q) {
    document.addEventListener("keydown", function (e) {
      if (e.key === "/" && document.activeElement !== q) { e.preventDefault(); q.focus(); }
    });
  }
});
