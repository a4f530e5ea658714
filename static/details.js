// The recovery form's "what support needs to know": fill in the device and the browser from
// this browser (only fields left empty; the person may correct or clear them), and offer the
// fixes that fit the issue type chosen. Without this script the fields stay empty and every
// fix is offered.
(function () {
  "use strict";

  function match(text, pattern) {
    var found = pattern.exec(text);
    return found ? found[1].replace(/_/g, ".") : null;
  }

  // "Android 14", "iOS 17.4", "Windows", "macOS 10.15", "Linux" from the user-agent string.
  function platformOf(ua) {
    var version;
    if ((version = match(ua, /Android ([\d.]+)/))) { return "Android " + version; }
    if ((version = match(ua, /(?:iPhone|CPU) OS ([\d_]+)/))) { return "iOS " + version; }
    if (/Windows NT/.test(ua)) { return "Windows"; }
    if ((version = match(ua, /Mac OS X ([\d_.]+)/))) { return "macOS " + version; }
    if (/CrOS/.test(ua)) { return "ChromeOS"; }
    if (/Linux/.test(ua)) { return "Linux"; }
    return null;
  }

  // "Chrome 120", "Safari 17.4", "Firefox 121", "Edge 120", ... from the user-agent string.
  function browserOf(ua) {
    var rules = [
      ["Edge", /Edg(?:A|iOS)?\/(\d+)/], ["Opera", /OPR\/(\d+)/],
      ["Samsung Internet", /SamsungBrowser\/(\d+)/], ["Firefox", /(?:Firefox|FxiOS)\/(\d+)/],
      ["Chrome", /(?:Chrome|CriOS)\/(\d+)/], ["Safari", /Version\/([\d.]+).*Safari/]
    ];
    for (var i = 0; i < rules.length; i += 1) {
      var version = match(ua, rules[i][1]);
      if (version) { return rules[i][0] + " " + version; }
    }
    return null;
  }

  // The device: the kind of phone when the browser says it, and its system.
  function deviceOf(ua, platform) {
    var kind = /iPhone/.test(ua) ? "iPhone" : /iPad/.test(ua) ? "iPad" : null;
    if (!kind) {
      var model = match(ua, /Android [\d.]+; ([^;)]+?)(?: Build|\))/);
      if (model && model !== "K") { kind = model; }
    }
    return kind && platform ? kind + ", " + platform : platform;
  }

  function prefill(name, value) {
    var input = document.querySelector("[data-prefill='" + name + "']");
    if (!input || !value || input.value) { return false; }
    input.value = value;
    return true;
  }

  var ua = navigator.userAgent || "";
  var platform = platformOf(ua);
  var browser = browserOf(ua);
  var filled = prefill("device", deviceOf(ua, platform));
  filled = prefill("app", browser && platform ? browser + " on " + platform : browser) || filled;
  var note = document.getElementById("details-prefilled");
  if (note && filled) { note.hidden = false; }

  // Chromium tells the phone's model only when asked.
  var data = navigator.userAgentData;
  var device = document.querySelector("[data-prefill='device']");
  if (filled && data && data.getHighEntropyValues && device) {
    var guessed = device.value;
    data.getHighEntropyValues(["model"]).then(function (values) {
      if (values.model && device.value === guessed && guessed.indexOf(values.model) === -1) {
        device.value = values.model + ", " + guessed;
      }
    }, function () { /* not told: keep the guess */ });
  }

  // Offer the fixes of the issue type chosen; ticked ones stay in view.
  var select = document.getElementById("issue_type");
  var fixes = document.querySelectorAll("#tried-fixes input[data-issue-types]");
  function offer() {
    for (var i = 0; i < fixes.length; i += 1) {
      var types = fixes[i].getAttribute("data-issue-types").split(" ");
      var item = fixes[i].closest("li");
      if (item) {
        item.hidden = !fixes[i].checked && select.value !== "" &&
          types.indexOf(select.value) === -1;
      }
    }
  }
  if (select && fixes.length) {
    select.addEventListener("change", offer);
    offer();
  }
})();
