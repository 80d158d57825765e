// Refresh the turnout table in place every five seconds; the page itself never reloads.
(function () {
  "use strict";
  var table = document.getElementById("turnout");
  if (!table || !window.fetch) { return; }
  var feed = table.getAttribute("data-feed");
  var stamp = document.getElementById("updated");
  function pct(share) { return share === null ? "—" : (share * 100).toFixed(1) + "%"; }
  function refresh() {
    fetch(feed, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        data.rows.forEach(function (row) {
          var tr = table.querySelector('tr[data-sheet="' + row.sheet + '"]');
          if (!tr) { return; }
          ["issued", "used", "open", "paper"].forEach(function (k) {
            tr.querySelector('[data-k="' + k + '"]').textContent = row[k];
          });
          tr.querySelector('[data-k="share"]').textContent = pct(row.share);
        });
        if (stamp) { stamp.textContent = new Date().toLocaleTimeString(); }
      })
      .catch(function () { /* offline for a moment: try again next time */ });
  }
  setInterval(refresh, 5000);
}());
