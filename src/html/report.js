// Filters: verdict, database, text. The state lives in the URL's hash
// (#verdict=fail&db=sqlite&q=users) so a filtered view can be linked to and reloaded.
(function () {
  "use strict";
  var verdict = document.getElementById("f-verdict");
  var db = document.getElementById("f-db");
  var text = document.getElementById("f-text");
  var count = document.getElementById("f-count");
  var rows = Array.prototype.slice.call(document.querySelectorAll("tbody.rev"));

  function fromHash() {
    var p = new URLSearchParams(location.hash.slice(1));
    verdict.value = p.get("verdict") || "";
    db.value = p.get("db") || "";
    text.value = p.get("q") || "";
  }

  function toHash() {
    var p = new URLSearchParams();
    if (verdict.value) p.set("verdict", verdict.value);
    if (db.value) p.set("db", db.value);
    if (text.value) p.set("q", text.value);
    history.replaceState(null, "", "#" + p.toString());
  }

  function keeps(row, v, d, q) {
    var verdicts = (row.getAttribute("data-verdicts") || "").split(" ");
    if (v === "findings" && row.getAttribute("data-findings") === "0") return false;
    if (v && v !== "findings" && verdicts.indexOf((d || "*") + ":" + v) < 0) return false;
    return !q || row.textContent.toLowerCase().indexOf(q) >= 0;
  }

  function apply() {
    var v = verdict.value, d = db.value, q = text.value.trim().toLowerCase();
    var shown = 0;
    rows.forEach(function (row) {
      var keep = keeps(row, v, d, q);
      row.hidden = !keep;
      if (keep) shown += 1;
    });
    document.querySelectorAll("[data-db]").forEach(function (el) {
      if (el.tagName !== "OPTION") el.hidden = !!d && el.getAttribute("data-db") !== d;
    });
    count.textContent = shown + " of " + rows.length + " revisions";
    document.body.setAttribute("data-shown", String(shown));
  }

  function changed() {
    toHash();
    apply();
  }

  [verdict, db].forEach(function (el) { el.addEventListener("change", changed); });
  text.addEventListener("input", changed);
  window.addEventListener("hashchange", function () { fromHash(); apply(); });
  fromHash();
  apply();
})();
