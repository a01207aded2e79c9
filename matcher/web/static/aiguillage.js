// Aiguillage's web page: autocompletion of the porteur, printing. The page works without it.
"use strict";
(function () {
  const input = document.getElementById("porteur");
  const list = document.getElementById("porteurs");
  if (input && list) {
    let timer = null;
    let asked = "";
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        const text = input.value.trim();
        if (text.length < 2 || text === asked || /^\d{5}$|^\d{9}$|:/.test(text)) return;
        asked = text;
        fetch("/api/territoires?q=" + encodeURIComponent(text), {headers: {"Accept": "application/json"}})
          .then(function (r) { return r.ok ? r.json() : []; })
          .then(function (found) {
            list.replaceChildren();
            found.forEach(function (f) {
              const option = document.createElement("option");
              option.value = f.code;
              option.label = f.libelle;
              option.textContent = f.libelle;
              list.appendChild(option);
            });
          })
          .catch(function () {});
      }, 150);
    });
  }
  const print = document.getElementById("imprimer");
  if (print) print.addEventListener("click", function () { window.print(); });
  // A printed decision shows every examined level, even those left folded on screen.
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details").forEach(function (d) { d.open = true; });
  });
})();
