// Keep unsent answers on this phone only, so a reload or a dropped connection loses nothing.
(function () {
  "use strict";
  var key = "pingyi:" + location.pathname;
  var store;
  try { store = window.localStorage; store.setItem(key + ":t", "1"); store.removeItem(key + ":t"); }
  catch (e) { return; }
  if (document.getElementById("done")) { store.removeItem(key); return; }
  var form = document.getElementById("ballot");
  if (!form) { return; }
  var saved = {};
  try { saved = JSON.parse(store.getItem(key) || "{}"); } catch (e) { saved = {}; }
  var inputs = form.querySelectorAll("input[type=radio]");
  var answered = {};
  Array.prototype.forEach.call(inputs, function (i) { if (i.checked) { answered[i.name] = true; } });
  Array.prototype.forEach.call(inputs, function (i) {
    if (!answered[i.name] && saved[i.name] === i.value) { i.checked = true; }
  });
  form.addEventListener("change", function (ev) {
    var t = ev.target;
    if (t && t.type === "radio") {
      saved[t.name] = t.value;
      try { store.setItem(key, JSON.stringify(saved)); } catch (e) { /* storage full: ignore */ }
    }
  });
}());
