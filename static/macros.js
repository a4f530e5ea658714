// Canned replies on the case page: "Insert into reply" puts the chosen reply, its placeholders
// filled in by the desk, into the reply box (#reply-body) to edit before sending. Without
// this script the same form opens the reply filled in on a page of its own.
(function () {
  "use strict";
  var form = document.getElementById("macro-picker");
  var box = document.getElementById("reply-body");
  var choice = document.getElementById("macro-choice");
  var status = document.getElementById("macro-status");
  if (!form || !box || !choice || !window.fetch) {
    return;
  }

  function insert(text) {
    if (!box.value.trim()) {
      box.value = text;
    } else {
      // Where the cursor is, replacing a selection; a blank line apart from what is there.
      var start = box.selectionStart, end = box.selectionEnd;
      var before = box.value.slice(0, start);
      var gap = before && !/\n\n$/.test(before) ? (/\n$/.test(before) ? "\n" : "\n\n") : "";
      box.setRangeText(gap + text, start, end, "end");
    }
    box.dispatchEvent(new Event("input", { bubbles: true }));
    box.focus();
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var url = form.action + "?macro=" + encodeURIComponent(choice.value);
    status.textContent = "";
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        return response.json().then(function (data) { return { ok: response.ok, data: data }; });
      })
      .then(function (answer) {
        if (!answer.ok || typeof answer.data.body !== "string") {
          status.textContent = answer.data.error || "That canned reply could not be loaded.";
          return;
        }
        insert(answer.data.body);
        status.textContent = "Inserted “" + answer.data.name + "”: edit it before sending.";
      })
      .catch(function () {
        status.textContent = "The canned reply could not be loaded: check the connection, "
          + "or reload the page.";
      });
  });
})();
