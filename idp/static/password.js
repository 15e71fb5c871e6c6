/*
 * Live help for new passwords: rule checklist, strength meter, confirmation.
 * Markup: templates/macros/password.html. Rules: idp/security/password_policy.py, which stays
 * the authority; this script only mirrors it while the person types. Loaded with defer after
 * /static/vendor/zxcvbn.js (window.zxcvbn); no inline script (CSP script-src 'self').
 */
(function () {
  "use strict";

  var STATES = ["fr-message--info", "fr-message--valid", "fr-message--error"];

  function fold(text) {
    return text.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }

  function readJSON(value, fallback) {
    try {
      return value ? JSON.parse(value) : fallback;
    } catch (e) {
      return fallback;
    }
  }

  // DSFR's .fr-message sets display, which beats the hidden attribute: use .fr-hidden too.
  function show(el, visible) {
    if (!el) return;
    el.hidden = !visible;
    el.classList.toggle("fr-hidden", !visible);
  }

  function setState(item, state) {
    if (!item) return;
    STATES.forEach(function (cls) { item.classList.remove(cls); });
    item.classList.add("fr-message--" + state);
  }

  // Same reading of "numeric identifier" as password_policy._is_numeric.
  function isNumeric(value) {
    var digits = value.replace(/[^0-9]/g, "").length;
    return value.length >= 9 && digits >= value.length - 2;
  }

  function containsPersonal(password, inputs) {
    var folded = fold(password);
    var squeezed = folded.replace(/[\s.\-\/]/g, "");
    return inputs.some(function (raw) {
      var value = fold(String(raw)).replace(/\s/g, "");
      if (isNumeric(value.replace(/\./g, ""))) value = value.replace(/\./g, "");
      if (value.length < 3) return false;
      if (isNumeric(value)) {
        for (var i = 0; i + 4 <= value.length; i++) {
          var part = value.slice(i, i + 4);
          if (folded.indexOf(part) >= 0 || squeezed.indexOf(part) >= 0) return true;
        }
        return false;
      }
      return folded.indexOf(value) >= 0 || squeezed.indexOf(value) >= 0;
    });
  }

  // A dictionary match from zxcvbn's "passwords" list covering the whole password, or the
  // whole password minus a trailing run of digits/symbols (see password_policy.is_common).
  function isCommon(password, result) {
    var run = password.match(/[^\p{L}]+$/u);
    var cut = run ? run[0].length : 0;
    var ends = [];
    for (var k = 0; k <= cut; k++) {
      if (password.length - k >= 3) ends.push(password.length - k);
    }
    return result.sequence.some(function (m) {
      return m.pattern === "dictionary" && m.dictionary_name === "passwords" &&
        m.i === 0 && ends.indexOf(m.j + 1) >= 0;
    });
  }

  function ruleStates(policy, password, inputs, score) {
    var chars = Array.from(password);
    var hasDigit = /[0-9]/.test(password);
    var hasSpecial = chars.some(function (c) { return !/[\p{L}\p{N}]/u.test(c); });
    var allowed = policy.allowed_chars ? new RegExp("^" + policy.allowed_chars + "$") : null;
    var badChar = chars.some(function (c) {
      return allowed ? !allowed.test(c) : (c !== " " && /[\p{C}\p{Z}]/u.test(c));
    });
    var states = {
      length: password.length >= policy.min_length && password.length <= policy.max_length,
      upper: /\p{Lu}/u.test(password),
      lower: /\p{Ll}/u.test(password),
      digit: hasDigit,
      special: hasSpecial,
      digit_or_special: hasDigit || hasSpecial,
      allowed: badChar ? "error" : true,
      strength: score === null ? null : score >= policy.min_strength
    };
    if (password.length > policy.max_length) states.length = "error";
    if (containsPersonal(password, inputs)) states.personal = "error";
    else states.personal = inputs.length ? true : null;
    return states;
  }

  function updateChecklist(input, policy, inputs, result) {
    var list = document.getElementById(input.getAttribute("data-checklist") || "");
    if (!list) return;
    var password = input.value;
    var touched = input.hasAttribute("data-touched");
    var states = ruleStates(policy, password, inputs, result ? result.score : null);
    list.querySelectorAll("[data-rule]").forEach(function (item) {
      var ok = states[item.getAttribute("data-rule")];
      if (!password || ok === null || ok === undefined) setState(item, "info");
      else if (ok === "error") setState(item, "error");
      else if (ok) setState(item, "valid");
      else setState(item, touched ? "error" : "info");
    });
  }

  function updateStrength(input, policy, result) {
    var box = document.querySelector('[data-strength-for="' + input.id + '"]');
    if (!box || !result) return;
    show(box, Boolean(input.value));
    var label = box.querySelector("[data-strength-label]");
    var meter = box.querySelector("[data-strength-meter]");
    var common = box.querySelector("[data-strength-common]");
    var text = input.value ? policy.strength_labels[result.score] : "";
    if (label && label.textContent !== text) label.textContent = text;
    if (meter) meter.value = input.value ? result.score : 0;
    show(common, Boolean(input.value) && isCommon(input.value, result));
  }

  function updateConfirm(confirm) {
    var original = document.getElementById(confirm.getAttribute("data-confirm-of"));
    var message = document.querySelector('[data-confirm-for="' + confirm.id + '"]');
    if (!original || !message) return;
    if (!confirm.value) {
      show(message, false);
      return;
    }
    var same = confirm.value === original.value;
    message.textContent = message.getAttribute(same ? "data-match" : "data-mismatch");
    setState(message, same ? "valid" : "error");
    show(message, true);
  }

  function setup(input) {
    var policy = readJSON(input.getAttribute("data-password-policy"), null);
    if (!policy) return;
    var inputs = readJSON(input.getAttribute("data-user-inputs"), []);
    var confirms = document.querySelectorAll('[data-confirm-of="' + input.id + '"]');
    function refresh() {
      var result = null;
      if (typeof window.zxcvbn === "function") {
        result = window.zxcvbn(input.value.slice(0, policy.zxcvbn_max_length), inputs);
      }
      updateChecklist(input, policy, inputs, result);
      updateStrength(input, policy, result);
      confirms.forEach(updateConfirm);
    }
    input.addEventListener("input", refresh);
    input.addEventListener("change", function () {
      if (input.value) input.setAttribute("data-touched", "");
      refresh();
    });
    refresh();
  }

  function init() {
    document.querySelectorAll("input[data-password-policy]").forEach(setup);
    document.querySelectorAll("input[data-confirm-of]").forEach(function (confirm) {
      confirm.addEventListener("input", function () { updateConfirm(confirm); });
      updateConfirm(confirm);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
