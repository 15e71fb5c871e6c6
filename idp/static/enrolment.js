// Live identifier availability check (seed 001: "Identifiant disponible !").
// The server checks again when the form is posted; this only helps the person.
(function () {
  "use strict";
  document.querySelectorAll("input[data-availability-url]").forEach(function (input) {
    var output = document.getElementById("username-availability");
    var timer = null;
    function check() {
      var value = input.value.trim();
      if (!value || !output) { if (output) { output.textContent = ""; } return; }
      var url = input.getAttribute("data-availability-url") + "?identifiant=" + encodeURIComponent(value);
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (data) {
          if (!data) { return; }
          output.textContent = data.message;
          output.className = "fr-message " + (data.available ? "fr-message--valid" : "fr-message--error");
        })
        .catch(function () { output.textContent = ""; });
    }
    input.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(check, 350); });
    check();
  });
})();
