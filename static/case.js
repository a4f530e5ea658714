// The console's case page: zoom and rotate the ID and the selfie, and the action area's one
// reason box following the chosen action. Without this script the photos link to the full
// image and the server says when a reason is missing.
(function () {
  "use strict";
  var ZOOMS = [1, 1.5, 2, 3, 4];

  function setUpViewer(figure) {
    var tools = figure.querySelector(".viewer-tools");
    var frame = figure.querySelector(".viewer-frame");
    var status = figure.querySelector(".viewer-status");
    if (!tools || !frame) {
      return;
    }
    var zoom = 0;
    var turns = 0;
    function show() {
      frame.setAttribute("data-zoom", String(zoom + 1));
      frame.setAttribute("data-rotate", String(turns));
      status.textContent = Math.round(ZOOMS[zoom] * 100) + "%" +
        (turns ? ", turned " + turns * 90 + "°" : "");
    }
    var steps = {
      "zoom-in": function () { zoom = Math.min(zoom + 1, ZOOMS.length - 1); },
      "zoom-out": function () { zoom = Math.max(zoom - 1, 0); },
      "rotate": function () { turns = (turns + 1) % 4; },
      "reset": function () { zoom = 0; turns = 0; }
    };
    tools.addEventListener("click", function (event) {
      var button = event.target.closest("[data-viewer]");
      if (button && steps[button.getAttribute("data-viewer")]) {
        steps[button.getAttribute("data-viewer")]();
        show();
      }
    });
    // The frame itself answers + - 0 while it has the focus (the buttons do the rest).
    frame.addEventListener("keydown", function (event) {
      var keys = {"+": "zoom-in", "=": "zoom-in", "-": "zoom-out", "0": "reset"};
      var step = keys[event.key];
      if (step && !event.ctrlKey && !event.metaKey && !event.altKey) {
        event.preventDefault();
        steps[step]();
        show();
      }
    });
    tools.hidden = false;
    show();
  }

  function setUpActions(form) {
    var box = form.querySelector("#action-reason");
    var label = form.querySelector("#action-reason-label");
    var override = form.querySelector("#override-confirmation");
    var overrideBox = form.querySelector("#confirm-override");
    var submit = form.querySelector("#action-submit");
    var choices = form.querySelectorAll("input[name=event]");
    function chosen() {
      for (var i = 0; i < choices.length; i += 1) {
        if (choices[i].checked) {
          return choices[i];
        }
      }
      return null;
    }
    function update() {
      var choice = chosen();
      var needs = choice && choice.getAttribute("data-needs-reason") === "yes";
      box.required = Boolean(needs);
      label.textContent = choice ? choice.getAttribute("data-reason-label") +
        (needs ? " (required)" : " (optional)") : "Reason (choose an action first)";
      if (override) {
        var approving = Boolean(choice) && choice.value === "approve";
        override.hidden = !approving;
        overrideBox.required = approving;
      }
      if (choice && choice.getAttribute("data-prefill") && !box.value) {
        var suggestion = document.getElementById(choice.getAttribute("data-prefill"));
        if (suggestion) {
          box.value = suggestion.textContent.trim();
        }
      }
      var label2 = choice ? form.querySelector("label[for='" + choice.id + "']") : null;
      submit.textContent = label2 ? label2.firstChild.textContent.trim() : "Do it";
      submit.classList.toggle("danger", Boolean(label2) && label2.classList.contains("danger"));
    }
    for (var i = 0; i < choices.length; i += 1) {
      choices[i].addEventListener("change", update);
    }
    update();
  }

  var figures = document.querySelectorAll(".viewer");
  for (var i = 0; i < figures.length; i += 1) {
    setUpViewer(figures[i]);
  }
  var form = document.getElementById("action-form");
  if (form) {
    setUpActions(form);
  }
})();
