// Keep unsent answers on this phone only, so a reload or a dropped connection loses nothing, and
// the form's nonce with them, so a voter whose confirmation was lost is told the vote counted.
(function () {
  "use strict";
  var key = "pingyi:" + location.pathname;
  // A poster is shared by every resident who scans it, often on one family phone: its answers stay
  // in this tab only, and its nonce is never reused (it would take the next resident's ballot for
  // a resend of the last one's).
  var poster = location.pathname.indexOf("/p/") === 0;
  var store;
  try {
    store = poster ? window.sessionStorage : window.localStorage;
    store.setItem(key + ":t", "1"); store.removeItem(key + ":t");
  } catch (e) { return; }
  // Sent, or never to be sent (a withdrawn code, a closed vote): nothing of the ballot stays.
  if (document.getElementById("done") || document.getElementById("forget")) { store.removeItem(key); return; }
  var saved = {};
  try { saved = JSON.parse(store.getItem(key) || "{}") || {}; } catch (e) { saved = {}; }
  function keep() {
    try { store.setItem(key, JSON.stringify(saved)); } catch (e) { /* storage full: ignore */ }
  }

  var resend = document.getElementById("resend");
  if (resend) {  // the page for a used code
    if (saved.nonce && resend.hasAttribute("data-retry")) {
      // This phone sent a ballot with this code and never saw the answer: ask whether it was that one.
      // The server answers with the confirmation, or with this page without data-retry.
      resend.elements.nonce.value = saved.nonce;
      var heading = document.querySelector("h1");
      if (heading) { heading.textContent = resend.getAttribute("data-wait"); }
      resend.submit();
    } else {
      store.removeItem(key);  // somebody else's ballot: these answers can never be sent
    }
    return;
  }

  var form = document.getElementById("ballot");
  if (!form) { return; }
  var fields = form.querySelectorAll("input[name*='__']");
  var answered = {};
  Array.prototype.forEach.call(fields, function (i) {
    if (i.type === "radio" ? i.checked : i.value !== "") { answered[i.name] = true; }
  });
  Array.prototype.forEach.call(fields, function (i) {  // never over what the server sent back
    if (answered[i.name] || typeof saved[i.name] !== "string") { return; }
    if (i.type === "radio") { i.checked = saved[i.name] === i.value; } else { i.value = saved[i.name]; }
  });
  if (!poster && saved.nonce && form.elements.nonce) { form.elements.nonce.value = saved.nonce; }
  function remember(ev) {
    var t = ev.target;
    if (t && t.name && t.name.indexOf("__") > 0 && (t.type !== "radio" || t.checked)) {
      saved[t.name] = t.value;
      keep();
    }
  }
  form.addEventListener("change", remember);
  form.addEventListener("input", remember);
  // A second tap while the first is on its way would send the ballot again, and the answer shown
  // would be the second's: "already recorded" to a voter who voted once. The first is let through.
  var sending = 0;
  form.addEventListener("submit", function (ev) {
    if (sending && new Date().getTime() - sending < 15000) { ev.preventDefault(); return; }
    sending = new Date().getTime();
    if (!poster && form.elements.nonce) { saved.nonce = form.elements.nonce.value; keep(); }
  });
  window.addEventListener("pageshow", function () { sending = 0; });  // Back to this page: send again
}());
