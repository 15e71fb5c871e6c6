// Live "n / max" counters under fields (seed 002: "0 / 15", "0 / 11", "0 / 12").
// An input names its counter with data-counter and its length with data-counter-max;
// spaces are not counted ("1 55 12 …" is 15 digits). No inline script (CSP script-src 'self').
(function () {
  "use strict";
  document.querySelectorAll("input[data-counter]").forEach(function (input) {
    var output = document.getElementById(input.getAttribute("data-counter"));
    var max = Number(input.getAttribute("data-counter-max"));
    if (!output || !max) { return; }
    function update() {
      var count = input.value.replace(/\s/g, "").length;
      output.textContent = count + " / " + max;
      output.classList.toggle("fr-error-text", count > max);
    }
    input.addEventListener("input", update);
    update();
  });
})();
